/**
 * The change-source seam (src/replicate/changes): the applier, copy, dump, cutover, status and
 * incremental verify learn what changed only through `ChangeSource`, so that a second source (logical
 * decoding) is one new implementation. These checks need no server: the seam's position arithmetic, and
 * that no module past the seam names the trigger log, its positions' type or the capture's catalog.
 * (The seam's behaviour against real servers is every replication test: replicate, apply-races, ...)
 */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { changeSource } from '../src/replicate/changes/index.js';
import { triggerSource } from '../src/replicate/changes/trigger-source.js';

/** Modules that use the seam; none may know how changes are captured. */
const USERS = ['src/replicate/apply.ts', 'src/replicate/cutover.ts', 'src/replicate/status.ts', 'src/replicate/watch.ts',
  'src/verify/incremental.ts', 'src/verify/sql/incremental-plan.sql', 'src/dump/dump.ts', 'src/dump/copy/copy.ts'];
/** What only the trigger source (and capture's install and teardown) may name. */
const CAPTURE_DETAILS = [/_cutover\.log/, /_cutover\.tables/, /_cutover\.state/, /pg_snapshot/, /pg_current_snapshot/, /truncate_applied/,
  /cover_new_leaves/, /snapshot-text/, /captureInstalled/, /from '\.\/capture\.js'/];

describe('the change source', () => {
  it('is trigger capture today', () => {
    expect(changeSource).toBe(triggerSource);
  });

  it('covers a fence position once every transaction running at it has ended (xmin of the applied tick >= xmax of the mark)', () => {
    expect(triggerSource.covers('100:100:', '90:100:95')).toBe(true);
    expect(triggerSource.covers('101:105:', '90:100:95')).toBe(true);
    expect(triggerSource.covers('99:105:99', '90:100:95')).toBe(false);
  });

  it('is the only thing the applier, cutover, status, verify, copy and dump know of capture', () => {
    for (const file of USERS) {
      const text = readFileSync(file, 'utf8');
      for (const re of CAPTURE_DETAILS) expect({ file, found: re.exec(text)?.[0] }).toEqual({ file, found: undefined });
    }
  });
});

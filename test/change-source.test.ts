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
// The private schema spelled as text or through its constant (src/pg/private-schema.ts).
const CAPTURE_DETAILS = [/(_cutover|\$\{CUTOVER_SCHEMA\})\.log/, /(_cutover|\$\{CUTOVER_SCHEMA\})\.tables/, /(_cutover|\$\{CUTOVER_SCHEMA\})\.state/, /pg_snapshot/, /pg_current_snapshot/, /truncate_applied/,
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

describe('the private schemas', () => {
  it('are named in one place: no TypeScript module but src/pg/private-schema.ts spells them in code', async () => {
    const { readdirSync, statSync } = await import('node:fs');
    const { join } = await import('node:path');
    const files: string[] = [];
    const walk = (d: string) => { for (const f of readdirSync(d)) { const p = join(d, f); if (statSync(p).isDirectory()) walk(p); else if (p.endsWith('.ts')) files.push(p); } };
    walk('src');
    const spelled = files.filter((f) => !f.endsWith('private-schema.ts')).flatMap((f) =>
      readFileSync(f, 'utf8').split('\n').map((l, i) => ({ f, i: i + 1, l }))
        // comments may name them; code may not
        .filter(({ l }) => !/^\s*(\/\/|\*|\/\*\*)/.test(l) && /\b_cutover(_fence)?\b/.test(l)).map(({ f, i }) => `${f}:${i}`));
    expect(spelled).toEqual([]);
  });
});

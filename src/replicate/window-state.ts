/**
 * Where a rollback window stands, read from the servers (window.ts opens and ends it): the new server
 * carries capture marked `reverse`, the old source stays fenced, and the reverse applier passes that
 * fence with a value that never leaves the old source (fence.sql, `cutover.fence_pass`).
 */
import { CUTOVER_SCHEMA, FENCE_SCHEMA } from '../pg/private-schema.js';
import type pg from 'pg';
import { CutoverError } from '../errors.js';
import { captureInstalled } from './catalog.js';
import { fenceState } from './fence.js';

/** The capture on this server is a rollback window's (it is the new server). */
export async function reverseCapture(c: pg.Client): Promise<boolean> {
  const { rows } = await c.query<{ reverse: boolean | null }>(
    `SELECT CASE WHEN to_regclass('${CUTOVER_SCHEMA}.state') IS NULL
                   OR NOT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass('${CUTOVER_SCHEMA}.state') AND attname = 'direction' AND NOT attisdropped) THEN false
            ELSE NULL END AS reverse`);
  if (rows[0]!.reverse === false) return false;
  return (await c.query<{ d: string }>(`SELECT direction AS d FROM ${CUTOVER_SCHEMA}.state`)).rows[0]?.d === 'reverse';
}

export async function isFenced(c: pg.Client): Promise<boolean> {
  return (await fenceState(c)) !== undefined;
}

/**
 * Before the reverse applier writes: `s` (the new server) has the window's capture, `t` (the old source)
 * has no forward capture left and is still fenced; then this session passes the fence.
 */
export async function checkReverse(s: pg.Client, t: pg.Client): Promise<void> {
  if (!(await reverseCapture(s))) {
    throw new CutoverError('E_NOT_STARTED', 'no rollback window is open: the target has no reverse change capture', {
      hint: 'a cutover with a window (`cutover replicate cutover --window`, runbook `window: true`) opens it in the fence',
    });
  }
  if (await captureInstalled(t)) {
    throw new CutoverError('E_USAGE', 'the forward change capture is still installed on the old source: its triggers would capture the reverse applier\'s writes', {
      hint: 'run `cutover replicate teardown` (it keeps the write fence and the window), then apply again',
    });
  }
  if (!(await isFenced(t))) {
    throw new CutoverError('E_FENCE', 'the old source is not fenced: the application could be writing to it, and the reverse applier would overwrite those writes', {
      hint: 'if the application was switched back (a rollback finished), end the window with `cutover replicate finish`; otherwise fence it again with `cutover replicate cutover` before anything writes there',
    });
  }
  await t.query(`SELECT set_config('cutover.fence_pass', pass, false) FROM ${FENCE_SCHEMA}.state`);
}

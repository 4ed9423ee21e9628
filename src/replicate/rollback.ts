/**
 * `replicate rollback`: the end of a rollback window that goes back (window.ts). A cutover from the new
 * server to the old source (fence the new server, drain the reverse log, large objects, sequences,
 * verify), with the old source's fence lifted after verify, just before the switch back: nothing written
 * on the new server during the window is lost, and the old source takes no write before it is equal.
 */
import { CUTOVER_SCHEMA } from '../pg/private-schema.js';
import type pg from 'pg';
import { CutoverError } from '../errors.js';
import type { ConnParams } from '../pg/conninfo.js';
import { withClient } from '../pg/connect.js';
import { resolveEndpoint } from '../pg/endpoint.js';
import { invertRoleMap } from '../pg/role-map.js';
import { cutover, type CutoverOptions, type CutoverResult } from './cutover.js';
import { unfence, type UnfenceResult } from './fence.js';
import { isFenced, reverseCapture } from './window-state.js';

export interface RollbackResult extends CutoverResult { unfenced: UnfenceResult; already: boolean }

/**
 * Goes back to the old source: a cutover from the new server to the old one (fence the new server, drain
 * the reverse log, sequences, verify), then the old source's fence is lifted before the switch back.
 * `source` and `target` are the forward cutover's (old, new). Run again after it finished: says so.
 */
export async function rollback(o: Omit<CutoverOptions, 'source' | 'target' | 'reverse' | 'window' | 'beforeSwitch'> & { source: ConnParams; target: ConnParams }): Promise<RollbackResult> {
  const source = await resolveEndpoint(o.source), target = await resolveEndpoint(o.target);
  const state = await withClient(target, 'replicate-rollback', async (c) => (await reverseCapture(c)) ? { done: await rolledBackAt(c) } : undefined);
  if (!state) {
    throw new CutoverError('E_NOT_STARTED', 'no rollback window is open on the target: nothing captured the writes made there since the switch', {
      hint: 'a rollback without a window loses those writes: `cutover replicate unfence` gives the old source its writes back as it was at the switch',
    });
  }
  const done = state.done;
  if (done) {
    // Verified and marked: finish what a killed run may have left (the old source's fence), nothing else.
    const u = await unfence(source, { note: o.onNote, window: true });
    o.onNote?.(`already rolled back (verified equal at ${done.toISOString()}): the new server is fenced and the old source takes writes${u.statements.length ? ' (its fence was lifted now)' : ''}; ` +
      `${o.pooler ? 'check that the pooler\'s entry points at the old source; ' : ''}\`cutover replicate finish\` ends the window`);
    return { fence: o.fence, fencedAt: '', outageMs: 0, phases: [], revoked: 0, fencedTables: 0, drainedEvents: 0, sequences: 0, triggersRestored: 0, unfenced: u, already: true };
  }
  if (!(await withClient(source, 'replicate-rollback', (c) => isFenced(c)))) {
    throw new CutoverError('E_FENCE', 'the old source is not fenced, and no rollback finished: the application may have written to both servers, and a rollback would write over the old source\'s writes', {
      hint: 'stop the application\'s writes to the old source, compare both servers with `cutover verify`, then decide which one goes on; `cutover replicate finish` ends the window',
    });
  }
  let unfenced: UnfenceResult | undefined;
  const r = await cutover({
    ...o, source: target, target: source, reverse: true, roleMap: o.roleMap && invertRoleMap(o.roleMap),
    // The old source takes writes again only once it is verified equal, just before the switch back; the
    // mark first, so that a run killed between the two knows, when run again, that it only has to unfence.
    beforeSwitch: async () => {
      await withClient(target, 'replicate-rollback', (c) => c.query(`UPDATE ${CUTOVER_SCHEMA}.state SET rolled_back_at = now()`));
      unfenced = await unfence(source, { note: o.onNote, window: true });
    },
  });
  return { ...r, unfenced: unfenced!, already: false };
}

async function rolledBackAt(c: pg.Client): Promise<Date | undefined> {
  return (await c.query<{ at: Date | null }>(`SELECT rolled_back_at AS at FROM ${CUTOVER_SCHEMA}.state`)).rows[0]?.at ?? undefined;
}


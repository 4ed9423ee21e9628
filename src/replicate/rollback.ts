/**
 * `replicate rollback`: the end of a rollback window that goes back (window.ts). A cutover from the new
 * server to the old source (fence the new server, drain the reverse log, large objects, sequences,
 * verify), with the old source's fence lifted after verify, just before the switch back: nothing written
 * on the new server during the window is lost, and the old source takes no write before it is equal.
 */
import { CutoverError } from '../errors.js';
import type { ConnParams } from '../pg/conninfo.js';
import { withClient } from '../pg/connect.js';
import { withPgpass } from '../pg/pgpass.js';
import type { RoleMap } from '../pg/role-map.js';
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
  const source = await withPgpass(o.source), target = await withPgpass(o.target);
  const state = await withClient(target, 'replicate-rollback', async (c) => ({ window: await reverseCapture(c), fenced: await isFenced(c) }));
  if (!state.window) {
    throw new CutoverError('E_NOT_STARTED', 'no rollback window is open on the target: nothing captured the writes made there since the switch', {
      hint: 'a rollback without a window loses those writes: `cutover replicate unfence` gives the old source its writes back as it was at the switch',
    });
  }
  const oldFenced = await withClient(source, 'replicate-rollback', (c) => isFenced(c));
  if (state.fenced && !oldFenced) {
    o.onNote?.('already rolled back: the new server is fenced and the old source takes writes; `cutover replicate finish` ends the window');
    return { fence: o.fence, fencedAt: '', outageMs: 0, phases: [], revoked: 0, fencedTables: 0, drainedEvents: 0, sequences: 0, triggersRestored: 0, unfenced: { tables: 0, privileges: 0, roles: 0, statements: [] }, already: true };
  }
  let unfenced: UnfenceResult | undefined;
  const r = await cutover({
    ...o, source: target, target: source, reverse: true, roleMap: o.roleMap && invertRoleMap(o.roleMap),
    // The old source takes writes again only once it is verified equal, just before the switch back.
    beforeSwitch: async () => { unfenced = await unfence(source, { note: o.onNote }); },
  });
  return { ...r, unfenced: unfenced!, already: false };
}

/** The copy's map the other way (new name -> old); a name mapped from two roles goes back to the first. */
export function invertRoleMap(map: RoleMap): RoleMap {
  const out = new Map<string, string>();
  for (const [from, to] of map) if (!out.has(to)) out.set(to, from);
  return out;
}


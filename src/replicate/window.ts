/**
 * The rollback window (docs/replicate.md, "The rollback window"): the same capture, applier, fence and
 * verify, run the other way after the switch, so that going back to the old source loses nothing.
 *
 *   open      in the cutover's fence, after verify and before the switch: the forward bookkeeping leaves
 *             the new server and capture goes on it, marked `reverse`, starting from a snapshot taken
 *             there before the application's first write. After the switch the forward capture leaves
 *             the old source; its fence stays.
 *   apply     `replicate apply --reverse`: the applier with the two servers swapped; it passes the old
 *             source's fence (window-state.ts), the application does not.
 *   rollback  a cutover the other way (fence the new server, drain, sequences, verify), then the old
 *             source's fence is lifted just before the switch back.
 *   finish    teardown the other way: capture off the new server, bookkeeping off the old source (the
 *             old source stays fenced until `replicate unfence`).
 */
import { CUTOVER_SCHEMA, FENCE_SCHEMA } from '../pg/private-schema.js';
import type pg from 'pg';
import { CutoverError } from '../errors.js';
import type { ConnParams } from '../pg/conninfo.js';
import { withClient } from '../pg/connect.js';
import { resolveEndpoint } from '../pg/endpoint.js';
import { qualify } from '../pg/sql.js';
import { type CaptureMode, installCapture } from './capture.js';
import { type Candidate, captureInstalled, readCandidates, readStorage } from './catalog.js';
import { completeDeferredConstraints, deferredConstraints } from './deferred-constraints.js';
import { teardown, type TeardownResult } from './teardown.js';
import { liftStatements, fenceStaysNote } from './fence.js';
import { reverseCapture } from './window-state.js';

export interface WindowOpened {
  /** Tables captured on the new server. */
  tables: number;
  /** Tables only the new server has: not captured, their writes would not go back (named in a note). */
  leftOut: string[];
  startSnapshot: string;
  durationMs: number;
  already: boolean;
}

/** A window already open (a cutover run again), or the target's tables and the start to open one. */
type Opening = { prior: { s: string; n: number } } | { prior?: undefined; all: Candidate[]; start: { s: string; at: Date } };

/**
 * Opens the window on the new server (`target`), given a session on the fenced old source. Called in the
 * fence after verify: the two servers are equal and only cutover writes to either (a writing transaction
 * of anyone else refuses the window), so a snapshot taken just before capture is installed marks the start.
 */
export async function openWindow(old: pg.Client, target: ConnParams, note: (m: string) => void): Promise<WindowOpened> {
  const t0 = Date.now();
  const mode = ((await old.query<{ m: string }>(`SELECT capture_mode AS m FROM ${CUTOVER_SCHEMA}.state`)).rows[0]?.m ?? 'row') as CaptureMode;
  // Keys declared for tables without a primary key in the forward direction serve the reverse one too.
  const declared = (await old.query<{ schema_name: string; table_name: string; key_columns: string[]; primary_key: boolean }>(
    `SELECT t.schema_name, t.table_name, t.key_columns::text[] AS key_columns,
            EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conrelid = t.relid AND c.contype = 'p') AS primary_key
       FROM ${CUTOVER_SCHEMA}.tables t WHERE cardinality(t.key_columns) > 0`)).rows.filter((r) => !r.primary_key);
  const oldTables = new Set((await readCandidates(old)).map((c) => `${c.schema}\u0000${c.name}`));
  const t = await resolveEndpoint(target);
  const opened = await withClient(t, 'replicate-window', async (c): Promise<Opening> => {
    if (await reverseCapture(c)) return { prior: (await c.query<{ s: string; n: number }>(`SELECT start_snapshot::text AS s, (SELECT count(*)::int FROM ${CUTOVER_SCHEMA}.tables) AS n FROM ${CUTOVER_SCHEMA}.state`)).rows[0]! };
    await refuseOtherWriters(c);
    const deferred = await deferredConstraints(c).catch(() => []);
    if (deferred.length) throw new CutoverError('E_USAGE', `${deferred.length} foreign key(s) on the target are still deferred: the window cannot open before they are complete`);
    // The forward bookkeeping (applied tick, disabled triggers: already given back) leaves the target. The
    // start is taken before the triggers exist, so that every event they capture is applied.
    await c.query(`DROP SCHEMA IF EXISTS ${CUTOVER_SCHEMA} CASCADE`);
    const all = await readCandidates(c);
    return { all, start: (await c.query<{ s: string; at: Date }>('SELECT pg_current_snapshot()::text AS s, now() AS at')).rows[0]! };
  });
  if (opened.prior) return { tables: opened.prior.n, leftOut: [], startSnapshot: opened.prior.s, durationMs: Date.now() - t0, already: true };
  const { all, start } = opened;
  const both = all.filter((c) => oldTables.has(`${c.schema}\u0000${c.name}`));
  const leftOut = all.filter((c) => !oldTables.has(`${c.schema}\u0000${c.name}`)).map((c) => qualify(c.schema, c.name));
  if (leftOut.length) note(`rollback window: ${leftOut.length} table(s) exist only on the target and are not captured (their writes would not go back): ${leftOut.slice(0, 10).join(', ')}`);
  const r = await installCapture({
    source: t, mode, exact: both.map((c) => ({ schema: c.schema, name: c.name })), onNote: note,
    keys: Object.fromEntries(declared.map((d) => [qualify(d.schema_name, d.table_name), d.key_columns])),
  });
  const startSnapshot = await withClient(t, 'replicate-window', async (c) => {
    // The tables' storage as the window opens (only cutover writes here yet): the reverse applier's
    // baseline, so that a rewrite no trigger sees (ALTER ... TYPE same USING ...) before it first
    // connects is found and the table read again, as the copy's record does forward.
    const captured = (await c.query<{ tableid: number; relid: string }>(`SELECT tableid, relid::int8 AS relid FROM ${CUTOVER_SCHEMA}.tables`)).rows;
    const storage = Object.fromEntries(await readStorage(c, captured.map((x) => ({ tableid: x.tableid, relid: Number(x.relid) }))));
    return (await c.query<{ s: string }>(
      `UPDATE ${CUTOVER_SCHEMA}.state SET direction = 'reverse', start_snapshot = $1::pg_snapshot, start_snapshot_at = $2, storage = $3::jsonb
        RETURNING start_snapshot::text AS s`, [start.s, start.at, JSON.stringify(storage)])).rows[0]!.s;
  });
  // The old source's fence now guards a window: `replicate unfence` alone refuses it (fence.ts).
  await old.query(`UPDATE ${FENCE_SCHEMA}.state SET window_open = true`);
  return { tables: r.tables.length, leftOut, startSnapshot, durationMs: Date.now() - t0, already: false };
}

/** Nothing but cutover writes to the target before the switch; a writer in flight now would be half captured. */
export async function refuseOtherWriters(c: pg.Client, fenced = true): Promise<void> {
  const writers = (await c.query<{ w: string }>(`SELECT pid || ' (' || coalesce(usename, '?') || ', ' || coalesce(application_name, '') || ')' AS w FROM pg_stat_activity
    WHERE datname = current_database() AND backend_xid IS NOT NULL AND pid <> pg_backend_pid() AND application_name NOT LIKE 'cutover/%'`)).rows.map((x) => x.w);
  if (writers.length) {
    throw new CutoverError('E_FENCE', `the target is being written by someone other than cutover before the switch (${writers.join(', ')}): its writes could not all go back in a rollback; the window was not opened and ${fenced ? 'the source stays fenced' : 'nothing was changed'}`, {
      hint: fenced ? 'stop whatever writes to the target, then run the cutover again (it finds the fence in place)' : 'stop whatever writes to the target, then run the cutover again',
    });
  }
}

/** After the switch: the forward capture leaves the old source (its fence stays), so the reverse applier can write there. */
export async function closeForward(source: ConnParams, note: (m: string) => void): Promise<TeardownResult> {
  return teardown({ source, onNote: () => undefined }).then((r) => {
    note(`forward change capture removed from the old source (${r.triggersDropped} trigger(s)); its write fence stays for the rollback window`);
    return r;
  });
}

export interface FinishResult {
  target: TeardownResult;
  constraints: number;
  oldSourceFenced: boolean;
  /** The statements that lift the old source's fence (for the journal), empty when it is not fenced. */
  fenceStatements: string[];
}

/**
 * Ends the window: the reverse capture leaves the new server, the reverse applier's bookkeeping leaves
 * the old source (its triggers given back, the foreign keys it moved completed). The old source's fence
 * stays: it must not take writes (`replicate unfence` lifts it when it is to be used or dropped).
 */
export async function finish(o: { source: ConnParams; target: ConnParams; onNote?: (m: string) => void }): Promise<FinishResult> {
  const note = o.onNote ?? (() => undefined);
  const source = await resolveEndpoint(o.source), target = await resolveEndpoint(o.target);
  const open = await withClient(target, 'replicate-finish', (c) => reverseCapture(c));
  // Foreign keys the reverse applier moved are completed while its bookkeeping is there (teardown then
  // gives the user triggers back and drops it).
  const constraints = await withClient(source, 'replicate-finish', async (c) => {
    if (await captureInstalled(c)) {
      throw new CutoverError('E_USAGE', 'the old source carries forward change capture, not a rollback window\'s bookkeeping: this is not the end of a window', {
        hint: 'to remove forward capture use `cutover replicate teardown`',
      });
    }
    return completeDeferredConstraints(c);
  });
  if (!open) note('no rollback window capture on the target (finished already?)');
  const r = await teardown({ source: target, target: source, onNote: note, fenceNoted: true });
  if (r.fenceStatements.length) note('the write fence stays on the target (after a rollback the new server must not take writes); `cutover replicate unfence --source <target>` lifts it');
  const fenceStatements = await withClient(source, 'replicate-finish', async (c) => {
    if ((await c.query<{ r: string | null }>(`SELECT to_regclass('${FENCE_SCHEMA}.state')::text AS r`)).rows[0]!.r) await c.query(`UPDATE ${FENCE_SCHEMA}.state SET window_open = false`);
    return liftStatements(c);
  });
  if (fenceStatements.length) note(fenceStaysNote(fenceStatements));
  return { target: r, constraints, oldSourceFenced: fenceStatements.length > 0, fenceStatements };
}

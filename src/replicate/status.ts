/** `replicate status`: what is captured, how far the target is, and how big the log is. */
import { CUTOVER_SCHEMA } from '../pg/private-schema.js';
import type { ConnParams } from '../pg/conninfo.js';
import { withClient } from '../pg/connect.js';
import { type Endpoint, resolveEndpoint } from '../pg/endpoint.js';
import { humanBytes, humanDuration } from '../lib/format.js';
import type pg from 'pg';
import { changeSource } from './changes/index.js';
import { reverseCapture } from './window-state.js';
import { fenceState } from './fence.js';

export interface ReplicationStatus {
  installed: boolean;
  mode?: string;
  tables?: number;
  startSnapshot?: string | null;
  fenced?: number;
  applied?: { tick: string; tickAt: string; appliedAt: string; batches: number; events: number; upserted: number; deleted: number; halted: string | null };
  pendingEvents?: number;
  loggedEvents?: number;
  logBytes?: number;
  /** How far behind the target is: source time now minus the applied tick's time, when events are pending. */
  lagMs?: number;
  /** forward: source -> target; reverse: a rollback window, the new server (target) -> the old source. */
  direction: 'forward' | 'reverse';
  /** The rollback window: open since, and what its capture has logged on the new server since. */
  window?: { openedAt: string; openMs: number; capturedEvents: number; eventsPerSecond: number; oldSourceFenced: number };
}

export async function replicationStatus(given: { source: ConnParams; target: ConnParams }): Promise<ReplicationStatus> {
  const o = { source: await resolveEndpoint(given.source), target: await resolveEndpoint(given.target) };
  const reverse = await withClient(o.target, 'replicate-status', (c) => reverseCapture(c));
  if (!reverse) return { ...(await statusOf(o)), direction: 'forward' };
  // The window: the new server is the side that captures, the old source the side applied to.
  const s = await statusOf({ source: o.target, target: o.source });
  const oldFenced = await withClient(o.source, 'replicate-status', (c) => fencedTables(c));
  const w = await withClient(o.target, 'replicate-status', (c) => changeSource.describe(c, { logged: true }));
  // The window's capture records its start when it opens: always set here.
  const openedAt = w.startAt!;
  const openMs = Math.round(w.now.getTime() - openedAt.getTime()), captured = (w.logged ?? 0) + (s.applied?.events ?? 0);
  return { ...s, direction: 'reverse', window: { openedAt: openedAt.toISOString(), openMs, capturedEvents: captured, eventsPerSecond: openMs ? captured / (openMs / 1000) : 0, oldSourceFenced: oldFenced } };
}

const fencedTables = async (c: pg.Client): Promise<number> => (await fenceState(c))?.tables ?? 0;

async function statusOf(o: { source: Endpoint; target: Endpoint }): Promise<Omit<ReplicationStatus, 'direction'>> {
  const applied = await withClient(o.target, 'replicate-status', async (c) => {
    if (!(await c.query<{ r: string | null }>(`SELECT to_regclass('${CUTOVER_SCHEMA}.apply_state')::text AS r`)).rows[0]!.r) return undefined;
    const r = (await c.query<{ tick: string; tick_at: Date; applied_at: Date; batches: string; events: string; rows_upserted: string; rows_deleted: string; halted: string | null }>(
      `SELECT tick::text AS tick, tick_at, applied_at, batches, events, rows_upserted, rows_deleted, halted FROM ${CUTOVER_SCHEMA}.apply_state`)).rows[0];
    return r && { tick: r.tick, tickAt: r.tick_at.toISOString(), appliedAt: r.applied_at.toISOString(), batches: Number(r.batches), events: Number(r.events),
      upserted: Number(r.rows_upserted), deleted: Number(r.rows_deleted), halted: r.halted };
  });
  return withClient(o.source, 'replicate-status', async (c) => {
    // Tables carrying the write fence (it outlives teardown).
    const fenced = await fencedTables(c);
    if (!(await changeSource.installed(c))) return { installed: false, applied, fenced };
    const st = await changeSource.describe(c);
    const from = applied?.tick ?? st.start;
    const p = from ? await changeSource.backlog(c, from, { sizes: true }) : undefined;
    const pending = p?.pending;
    return {
      installed: true, mode: st.mode, tables: st.tables, startSnapshot: st.start, fenced, applied, pendingEvents: pending,
      loggedEvents: p?.logged, logBytes: p?.bytes,
      lagMs: applied && pending ? Math.max(0, st.now.getTime() - Date.parse(applied.tickAt)) : applied ? 0 : undefined,
    };
  });
}

export function renderStatus(s: ReplicationStatus): string {
  if (s.window) {
    const w = s.window;
    return [`ROLLBACK WINDOW open for ${humanDuration(w.openMs)} (since ${w.openedAt}): reverse replication, the target (new server) -> the source (old)`,
      `old source: ${w.oldSourceFenced ? `fenced (${w.oldSourceFenced} tables): the application cannot write there` : 'NOT fenced: the application may write there (a rollback finished?)'}`,
      ...(s.fenced ? [`target (new server): FENCED (${s.fenced} tables)${w.oldSourceFenced ? ': both servers refuse the application: a rollback is under way or failed (run `cutover replicate rollback` again; to stay on the new server instead, unfence it)' : ': rolled back (`cutover replicate finish` ends the window)'}`] : []),
      `capture on the target: ${w.capturedEvents} event(s) logged since the switch, ${w.eventsPerSecond.toFixed(1)}/s on average (each captured row write costs the application one log insert: docs/replicate.md)`,
      `reverse log: ${s.loggedEvents ?? 0} event(s), ${humanBytes(s.logBytes ?? 0)}; pending (not applied to the old source): ${s.pendingEvents ?? '-'}`,
      ...appliedLines(s, 'cutover replicate apply --reverse')].join('\n');
  }
  return forwardStatus(s);
}

function forwardStatus(s: ReplicationStatus): string {
  if (!s.installed) {
    return `change capture: not installed on the source${s.applied ? ' (the target still has applier bookkeeping: run `cutover replicate teardown`)' : ''}` +
      `${s.fenced ? `\nwrites FENCED on ${s.fenced} table(s) of the source (\`cutover replicate unfence\` lifts it)` : ''}`;
  }
  const lines = [
    `change capture: on (${s.mode} triggers, ${s.tables} table(s))${s.fenced ? `; writes FENCED on ${s.fenced} table(s) (\`cutover replicate unfence\` lifts it)` : ''}`,
    `initial copy snapshot: ${s.startSnapshot ?? 'none yet (run the copy)'}`,
    `log: ${s.loggedEvents ?? 0} event(s), ${humanBytes(s.logBytes ?? 0)}; pending (not applied): ${s.pendingEvents ?? '-'}`,
  ];
  return [...lines, ...appliedLines(s, 'cutover replicate apply')].join('\n');
}

function appliedLines(s: ReplicationStatus, apply: string): string[] {
  if (!s.applied) return [`applied: nothing yet (run \`${apply}\`)`];
  return [`applied: ${s.applied.batches} batch(es), ${s.applied.events} event(s) (${s.applied.upserted} rows upserted, ${s.applied.deleted} deleted); last at ${s.applied.appliedAt}`,
    `lag: ${humanDuration(s.lagMs ?? 0)}${s.applied.halted ? `\nHALTED: ${s.applied.halted}` : ''}`];
}

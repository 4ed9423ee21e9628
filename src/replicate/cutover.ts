/**
 * `replicate cutover`: catch up, fence writes on the source, wait until no transaction older than the
 * fence runs, drain the last batch, set sequences on the target from the source, give the target its
 * triggers back, verify, and report the write outage (fence to verified). Any failure after the fence
 * leaves it in place (the safe state); `replicate unfence` is the rollback.
 */
import type pg from 'pg';
import { CutoverError } from '../errors.js';
import type { ConnParams } from '../pg/conninfo.js';
import { withClient } from '../pg/connect.js';
import { setSequences } from '../pg/facts.js';
import { qualify } from '../pg/sql.js';
import { countBehind } from '../verify/sequences.js';
import { identical, verify, VERIFY_LEVELS, type VerifyReport } from '../verify/verify.js';
import { IncrementalVerify } from '../verify/incremental.js';
import { renderVerify } from '../verify/render.js';
import { Applier, type BatchResult, type BatchStart, type BatchStep } from './apply.js';
import type { TablesProgress } from '../lib/progress.js';
import { describeBreach, describeUnfence, type Fence, type InstalledFence, writeFence } from './fence.js';
import { type PauseReport, PoolerSwitch, type PoolerSwitchOptions } from '../pooler/switch.js';
import { humanDuration } from '../lib/format.js';
import { completeDeferredConstraints } from './deferred-constraints.js';
import { syncLargeObjects } from './large-objects.js';
import { compareLargeObjects } from '../verify/large-objects.js';
import type { RoleMap } from '../pg/role-map.js';
import { resolveEndpoint } from '../pg/endpoint.js';
import { changeSource } from './changes/index.js';
import { closeForward, openWindow, refuseOtherWriters, type WindowOpened } from './window.js';
import { reverseCapture } from './window-state.js';

/** incremental: a full verify before the fence, and in it only what changed since (see verify/incremental.ts). */
export const CUTOVER_VERIFY = [...VERIFY_LEVELS, 'incremental', 'none'] as const;
export type CutoverVerify = (typeof CUTOVER_VERIFY)[number];
export { FENCES, type Fence, unfence } from './fence.js';

export interface CutoverOptions {
  source: ConnParams;
  target: ConnParams;
  /**
   * triggers: refuse every write on every table (whoever writes); revoke / read-only: the same, and also
   * REVOKE writes from `roles` / make them read only and end their sessions; manual: `confirm`, then
   * fail if anything is written after it. See fence.ts.
   */
  fence: Fence;
  roles?: string[];
  /** For fence 'manual': resolves once a person (or script) has stopped writes. */
  confirm?: () => Promise<void>;
  /** Catch up until a batch's lag is below this before fencing (ms). Default 1000. */
  catchUpLagMs?: number;
  /** How long to wait for transactions older than the fence to end (ms). Default 60 s. */
  waitMs?: number;
  /** Move each sequence this many steps past the source's value. Default 0. */
  sequenceMargin?: number;
  verify?: CutoverVerify;
  verifyJobs?: number;
  /** The copy's role map: privileges and owners are compared through it. */
  roleMap?: RoleMap;
  /** fence 'pooler': the PgBouncer in front of the source, paused for the switch (src/pooler/switch.ts). */
  pooler?: PoolerSwitchOptions;
  /**
   * Open the rollback window in the fence (window.ts): after verify, capture goes on the target before the
   * application's first write there; after the switch the forward capture leaves the source.
   */
  window?: boolean;
  /** This cutover is a rollback (window.ts): source is the new server, target the fenced old source. */
  reverse?: boolean;
  /** Runs after verify, before the switch (a rollback lifts the old source's fence here). Part of the outage. */
  beforeSwitch?: () => Promise<void>;
  onNote?: (message: string) => void;
  /** Called as each phase starts; the phase waits for a returned promise. */
  onPhase?: (phase: string) => void | Promise<void>;
  /** Catch-up and drain progress: a batch starts (events pending, lag) and ends (with the applier's totals). */
  onBatchStart?: (b: BatchStart) => void;
  /** Where a running batch is (catch-up and drain). */
  onBatchStep?: (s: BatchStep) => void;
  onBatch?: (b: BatchResult, totals: { events: number; batches: number }) => void;
  /** Verify and pre-verify progress: tables (and chunks) done of the estimate and in flight. */
  onTables?: (p: TablesProgress) => void;
}

export interface CutoverResult {
  fence: Fence;
  fencedAt: string;
  /** Fence to verified: the time the application could not write. */
  outageMs: number;
  /** In order; `outage`: inside the write outage (from the fence, or the pooler's pause, to the switch). */
  phases: { phase: string; durationMs: number; outage: boolean }[];
  revoked: number;
  /** Tables carrying the fence's triggers: every table of the database (for manual, the witness only). */
  fencedTables: number;
  drainedEvents: number;
  sequences: number;
  triggersRestored: number;
  /** fence 'pooler': the pause the application's clients saw, and where the entry points now. */
  pause?: PauseReport;
  /** The rollback window opened in the fence. */
  window?: WindowOpened;
  verify?: {
    level: Exclude<CutoverVerify, 'none'>; ok: boolean; tables: number; rows: number;
    /** verify incremental: rows verified before the fence and unchanged since (not read in it). */
    trustedRows?: number;
  };
}

/** `details.cutover` of the E_DIFFERENCE a cutover throws when verify in the fence finds differences. */
export interface CutoverFailureFacts {
  /** Fence to the failure (the writes stay fenced). */
  outageMs: number;
  phases: CutoverResult['phases'];
  fencedTables: number;
  drainedEvents: number;
  sequences: number;
  verify: { level: CutoverVerify; summary: VerifyReport['summary']; trustedRows?: number };
}

export async function cutover(o: CutoverOptions): Promise<CutoverResult> {
  const note = o.onNote ?? (() => undefined);
  const phase = o.onPhase ?? (() => undefined);
  const phases: CutoverResult['phases'] = [];
  let outage = false;
  const timed = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
    await phase(name);
    const t0 = Date.now();
    const inOutage = outage;
    try { return await fn(); } finally { phases.push({ phase: name, durationMs: Date.now() - t0, outage: inOutage }); }
  };
  if (o.window && (o.verify === 'none' || o.reverse)) {
    throw new CutoverError('E_USAGE', o.reverse ? 'a rollback does not open another window' : 'a rollback window starts from a verified target: it needs verify (not none)');
  }
  if (o.fence === 'pooler' && !o.pooler) {
    throw new CutoverError('E_USAGE', 'fence "pooler" needs the pooler: its admin console (connections.pooler / --pooler), the database entry and how to repoint it', {
      hint: 'e.g. pooler: { database: app, ini: /etc/pgbouncer/pgbouncer.ini } in the replicate-cutover step',
    });
  }
  // The pooler (fence: pooler) first, before the applier touches the target: it answers as an admin and
  // its entry points at the source, or already at the target (a finished cutover run again).
  let pooler: PoolerSwitch | undefined;
  if (o.fence === 'pooler') {
    const p = await PoolerSwitch.prepare(o.pooler!, { host: o.source.host, port: o.source.port, dbname: o.source.dbname },
      { host: o.target.host, port: o.target.port, dbname: o.target.dbname });
    pooler = p.sw;
    for (const n of p.notes) note(n);
    if (p.switched) {
      try { return await withClient(await resolveEndpoint(o.source), 'replicate-cutover', (c) => alreadySwitched(c, o, p.sw, note)); } finally { await p.sw.close(); }
    }
  }
  if (!o.reverse) {
    const open = await windowAlreadyOpen(o, note);
    if (open) { await pooler?.close(); return open; }
  }
  let a: Applier;
  try {
    a = await Applier.open({ source: o.source, target: o.target, reverse: o.reverse, takeOver: true, roleMap: o.roleMap, onNote: note });
  } catch (e) {
    await pooler?.close();
    throw e;
  }
  try {
    // 0. The fence is planned and checked before anything changes: roles exist, every table can be fenced.
    const plan = await writeFence.plan(a.sourceClient, o.fence, o.roles);
    writeFence.assert(plan);
    for (const w of plan.warnings) note(w);
    // A window needs a target only cutover writes to: refused now, before anything changes (an outside
    // transaction there would also hold up the catch-up and verify behind its locks).
    if (o.window) await refuseOtherWriters(a.targetClient, false);
    // 1. Catch up while the application still writes: the outage then only covers the last batch.
    const caughtUp = (b: { lagMs: number }) => b.lagMs <= (o.catchUpLagMs ?? 1000);
    const watch = { onBatchStart: o.onBatchStart, onBatchStep: o.onBatchStep, onBatch: o.onBatch && ((b: BatchResult) => o.onBatch!(b, a.totals)) };
    await timed('catch up', () => a.run({ until: caughtUp, ...watch }));
    const level = o.verify ?? 'checksums';
    let inc: IncrementalVerify | undefined;
    if (level === 'incremental') {
      // The full comparison while the application writes; the fence then compares only what changed.
      inc = await timed('pre-verify', () => preverify(a, o, note));
      await timed('catch up', () => a.run({ until: caughtUp, ...watch }));
    }

    // 2. The fence.
    const t0 = Date.now();
    outage = true;
    let fence!: InstalledFence;
    if (pooler) {
      // Clients queue in the pooler from here; every failure until the switch resumes them on the source.
      const sw = pooler;
      await timed('pause pooler', () => sw.pause(async () => { await backToSource(sw, o.source, note); }));
    }
    await timed('fence', async () => {
      if (o.fence === 'manual' && o.confirm) await o.confirm();
      fence = await writeFence.install(a.sourceClient, plan, { waitMs: o.waitMs ?? 60_000, note });
      note(fence.already
        ? `the source was already fenced since ${fence.fencedAt} (${fence.tables} tables${fence.newTables ? `, ${fence.newTables} added now` : ''})`
        : o.fence === 'manual' ? `writes after the confirmation are watched on ${fence.tables} table(s)`
        : `writes fenced on ${fence.tables} table(s)${fence.revoked ? `; revoked ${fence.revoked} privilege(s) from ${o.roles!.join(', ')}` : ''}` +
          `${o.fence === 'read-only' ? `; ${o.roles!.join(', ')} read only by default, ${fence.terminated} session(s) ended` : ''}`);
    });
    const fencedAt = new Date(fence.fencedAt);
    // Every transaction this position does not show began after the fence held: its writes got past it.
    const fenceSnap = await a.sourceSnapshot();
    a.watchFence(fenceSnap);

    // 3. Drain: until the applied tick covers the fence's position (every transaction running at the fence ended).
    const before = a.totals.events;
    await timed('drain', async () => {
      const deadline = Date.now() + (o.waitMs ?? 60_000);
      let late = false;
      await a.run({
        ...watch,
        until: () => {
          if (a.covers(fenceSnap)) return true;
          if (Date.now() > deadline) { late = true; return true; }
          return false;
        },
      });
      if (late) {
        const old = await olderTransactions(a.sourceClient, fencedAt);
        throw new CutoverError('E_FENCE', `transactions older than the fence are still running after ${Math.round((o.waitMs ?? 60_000) / 1000)} s: ${old}`, {
          hint: 'end them (pg_terminate_backend) and run `cutover replicate cutover` again, or `cutover replicate unfence` to let the application write again',
        });
      }
      // One more batch: what committed meanwhile. ddl: follow: tables and indexes the source got since the
      // last check reach the target, and a rewrite no trigger saw is read again (settleDdl's batch). Then
      // anything a fence should have stopped, in any of these batches, fails the cutover.
      await a.run({ until: () => true });
      await a.settleDdl();
      await assertNothingGotPast(a, o.fence);
    });

    // Large objects take no triggers: compared (owner, ACL, content hash) and the differing ones copied.
    const los = await timed('large objects', () => syncLargeObjects(a.sourceClient, a.targetClient));
    if (los.copied || los.removed || los.metadata) note(`large objects: ${los.copied} copied (${los.bytes} bytes), ${los.removed} removed, ${los.metadata} with owner/privileges set, of ${los.compared}`);

    // 4. Sequences and identities from the source.
    const setInFence = await timed('sequences', () => setSequences(a.sourceClient, a.targetClient, o.sequenceMargin ?? 0));
    const triggersRestored = await timed('restore target triggers', () => a.restoreTargetTriggers({ maxWaitMs: o.waitMs ?? 60_000, note }).catch((e: unknown) => {
      throw e instanceof CutoverError ? new CutoverError('E_FENCE', e.message, {
        hint: 'someone else\'s transaction writes the target: end it there, then run the cutover again (the source stays fenced and the cutover finds the fence in place)', cause: e,
      }) : e;
    }));
    // Foreign keys a resumed copy deferred hold now that every change is applied.
    const constraints = await timed('deferred foreign keys', () => completeDeferredConstraints(a.targetClient));
    if (constraints) note(`${constraints} deferred foreign key(s) validated`);

    // 5. Verify.
    let report: VerifyReport | undefined;
    let trustedRows: number | undefined;
    if (inc) {
      const r = await timed('verify (changed since pre-verify)', async () => {
        try { return await inc.recheck(undefined, o.onTables); } finally { await inc.unguardTarget(); }
      });
      const st = r.incremental;
      if (st.foreignWrites.length) note(`the target was written by someone other than cutover since the pre-verify: ${st.foreignWrites.join(', ')}; those tables were compared in full`);
      note(`verify in the fence: ${st.changedChunks} of ${st.chunks} chunks changed since the pre-verify and were compared again` +
        `${st.fullTables ? `, ${st.fullTables} table(s) in full: ${st.fullReasons.slice(0, 10).join(', ')}` : ''}; ${st.trustedRows} rows were verified before the fence and not changed since`);
      report = r;
      trustedRows = st.trustedRows;
    } else if (level !== 'none' && level !== 'incremental') {
      report = await timed(`verify (${level})`, () => verify({ source: o.source, target: o.target, level, jobs: o.verifyJobs ?? 2, roleMap: o.roleMap, onTables: o.onTables }));
    }
    if (report) {
      if (!report.ok) await settleSequences(a, report, setInFence, o.sequenceMargin ?? 0, note);
      if (!report.ok && report.summary.largeObjectDifferences > 0) await timed('large objects again', () => settleLargeObjects(a, report!, { content: level !== 'counts', roleMap: o.roleMap }, note));
      if (!report.ok) {
        // What the fence did and verify found, for the record of the failed step (the runbook's report).
        const facts: CutoverFailureFacts = {
          outageMs: Date.now() - t0, phases: [...phases], fencedTables: fence.tables, drainedEvents: a.totals.events - before, sequences: setInFence.size,
          verify: { level, summary: report.summary, trustedRows },
        };
        throw new CutoverError('E_DIFFERENCE', o.reverse
          ? `verify after the drain found differences; the rollback stopped with both servers fenced (the new server since this rollback, the old source since the cutover):\n${renderVerify(report)}`
          : `verify after the drain found differences; writes stay fenced on the source:\n${renderVerify(report)}`, {
          hint: o.reverse
            ? 'run `cutover verify` (source = the new server) for details; to go on with the new server instead, lift its fence: `cutover replicate unfence --source <the new server>`; do not unfence the old source: it lacks those writes'
            : 'run `cutover verify` for details; `cutover replicate unfence` lets the application write to the source again',
          details: { cutover: facts },
        });
      }
    }
    // 6. The rollback window: capture on the target before the application's first write there.
    let window: WindowOpened | undefined;
    if (o.window) {
      window = await timed('open rollback window', () => openWindow(a.sourceClient, o.target, note));
      note(`rollback window open: ${window.tables} table(s) captured on the target from ${window.startSnapshot}; \`cutover replicate apply --reverse\` keeps the old source in step`);
    }
    if (o.beforeSwitch) await timed('unfence old source', o.beforeSwitch);
    // 7. The switch: the pooler points at the verified target and its clients go on there.
    let pause: PauseReport | undefined;
    if (pooler) {
      const sw = pooler;
      pause = await timed('switch pooler', () => sw.switchTo({ host: o.target.host, port: o.target.port, dbname: o.target.dbname }));
      note(`pooler entry "${pause.entry}" now points at the target (${pause.repointed}) and resumed: clients were paused ${humanDuration(pause.pausedMs)}` +
        `${pause.waitingClients ? `, ${pause.waitingClients} waiting at most ${humanDuration(pause.maxClientWaitMs)}` : ''}`);
    }
    const outageMs = Date.now() - t0;
    outage = false;
    // After the switch (outside the outage): the old source keeps its fence and loses the forward capture.
    if (window) await timed('forward capture off the source', async () => { await a.close(); await closeForward(o.source, note); });
    return {
      fence: o.fence, fencedAt: fence.fencedAt, outageMs, phases, revoked: fence.revoked, fencedTables: fence.tables, pause, window,
      drainedEvents: a.totals.events - before, sequences: setInFence.size, triggersRestored,
      verify: report && level !== 'none' ? { level, ok: report.ok, tables: report.summary.tables, rows: report.summary.rows, trustedRows } : undefined,
    };
  } catch (e) {
    // Paused and not switched: the application goes on where it was, on an unfenced source.
    if (pooler && await backToSource(pooler, o.source, note)) {
      throw e instanceof CutoverError ? new CutoverError(e.code, `${e.message}\nthe pooler resumed on the source and the source was unfenced: the application goes on there`, { hint: e.hint, cause: e.cause, details: e.details }) : e;
    }
    throw e;
  } finally {
    await pooler?.close();
    await a.close();
  }
}

/**
 * Lift the fence, then RESUME on the old server (in that order: a resumed client must not meet the
 * fence): a failed switch leaves the application where it was. Resumes even if unfencing failed: the
 * application is never left paused.
 */
async function backToSource(sw: PoolerSwitch, source: ConnParams, note: (m: string) => void): Promise<boolean> {
  if (!sw.isPaused) return false;
  const u = await writeFence.lift(source).catch((e: unknown) => { note(`could not lift the fence on the source: ${(e as Error).message}; run \`cutover replicate unfence\``); return undefined; });
  if (!(await sw.resumeOld())) note('could not RESUME the pooler: run RESUME on its admin console');
  if (u) note(`pooler resumed on the source; ${describeUnfence(u)}`);
  return true;
}

async function preverify(a: Applier, o: CutoverOptions, note: (m: string) => void): Promise<IncrementalVerify> {
  const tracked = await withClient(await resolveEndpoint(o.source), 'verify-plan', (c) => changeSource.tables(c));
  const inc = await IncrementalVerify.plan({ source: o.source, target: o.target, jobs: o.verifyJobs ?? 2, roleMap: o.roleMap, tracked });
  const guard = await inc.guardTarget();
  if ('error' in guard) note(`cannot guard the target against other writers (${guard.error}): the fence trusts that only cutover writes to it until the switch`);
  // Tracking starts at the applied tick, before the pre-verify's snapshots: no change can slip between.
  a.track(inc.tracked(), inc.sink);
  const stop = new AbortController();
  let failed: unknown;
  const applying = a.run({ signal: stop.signal }).catch((e: unknown) => { failed = e; });
  try {
    const r = await inc.preverify(undefined, o.onTables);
    note(`pre-verify: ${r.chunks} key chunks of ${r.tables} table(s) compared in ${(r.durationMs / 1000).toFixed(1)} s while applying; ` +
      `${r.differing} differed (changes not applied yet); ${inc.changedChunks()} changed meanwhile`);
    // What changed during that pass is compared again, still before the fence: each round covers a
    // shorter time, so fewer chunks change during it. Stop when small enough or no longer shrinking.
    for (let round = 2; round <= 4; round++) {
      const before = inc.changedChunks();
      if (before <= 50) break;
      const rr = await inc.refine(undefined, o.onTables);
      note(`pre-verify round ${round}: ${rr.compared} chunk(s) compared again in ${(rr.durationMs / 1000).toFixed(1)} s; ` +
        `${rr.stillChanged} still differed; ${inc.changedChunks()} to compare in the fence`);
      if (inc.changedChunks() * 2 > before) break;
    }
  } finally {
    stop.abort();
    await applying;
  }
  if (failed) throw failed;
  return inc;
}

async function olderTransactions(c: pg.Client, before: Date): Promise<string> {
  const { rows } = await c.query<{ pid: number; usename: string | null; age: string; state: string | null }>(
    `SELECT pid, usename, (now() - xact_start)::text AS age, state FROM pg_stat_activity
      WHERE backend_xid IS NOT NULL AND xact_start < $1 AND pid <> pg_backend_pid() ORDER BY xact_start LIMIT 5`, [before]);
  return rows.map((r) => `pid ${r.pid} (${r.usename ?? '?'}, ${r.state ?? '?'}, open ${r.age})`).join(', ') || 'none visible to this role';
}

/**
 * After the drain, a captured event of a transaction the fence's snapshot does not show, or a write the
 * fence's witness trigger saw, is a write the fence did not stop: the cutover fails (the target is not
 * declared identical and the source stays fenced), naming the table and, where known, role and backend.
 */
async function assertNothingGotPast(a: Applier, kind: Fence): Promise<void> {
  const breaches = await writeFence.breaches(a.sourceClient);
  const captured = [...a.afterFence].filter(([rel]) => !breaches.some((b) => b.rel === rel));
  if (!breaches.length && !captured.length) return;
  const lines = [...breaches.map(describeBreach), ...captured.map(([rel, n]) => `${n} change(s) on ${rel} (role unknown: the witness trigger did not fire, so triggers were disabled or the session skips them)`)];
  throw new CutoverError('E_FENCE', `writes reached the source after the fence${kind === 'manual' ? ' (the confirmation said writes were stopped)' : ''}; the cutover failed and the source stays fenced:\n  ${lines.join('\n  ')}`, {
    hint: 'stop that writer (pg_terminate_backend; check its role and the job that runs it), then run `cutover replicate cutover` again: it finds the fence in place and applies what got through; or `cutover replicate unfence` to give the source its writes back',
    details: { breaches, captured: Object.fromEntries(captured) },
  });
}

/**
 * The pooler already points at the target: a cutover that finished (the switch is its last act, after
 * verify), run again on resume. Done only if the source is still fenced since then; the application writes
 * to the target now, so the two are not compared again. Otherwise someone repointed by hand: refused.
 */
async function alreadySwitched(c: pg.Client, o: CutoverOptions, pooler: PoolerSwitch, note: (m: string) => void): Promise<CutoverResult> {
  const st = await writeFence.state(c);
  if (!st) {
    throw new CutoverError('E_USAGE', `pooler entry "${pooler.entry.name}" already points at the target, but the source is not fenced: the switch was not made by a cutover that finished`, {
      hint: 'the application may have written to both servers: point the entry back at the source and run the cutover again, or check both databases with `cutover verify`',
    });
  }
  note(`already switched: pooler entry "${pooler.entry.name}" points at the target and the source has been fenced since ${st.fencedAt.toISOString()}; ` +
    'nothing to do (the application writes to the target now: the two are not compared again)');
  return { fence: o.fence, fencedAt: st.fencedAt.toISOString(), outageMs: 0, phases: [], revoked: 0, fencedTables: st.tables, drainedEvents: 0, sequences: 0, triggersRestored: 0 };
}

/**
 * A cutover with a window that finished (the window is open on the target and the source is fenced), run
 * again on resume: the forward capture leaves the source if it had not yet; nothing else is done.
 */
async function windowAlreadyOpen(o: CutoverOptions, note: (m: string) => void): Promise<CutoverResult | undefined> {
  const open = await withClient(await resolveEndpoint(o.target), 'replicate-cutover', (c) => reverseCapture(c));
  if (!open) return undefined;
  const src = await resolveEndpoint(o.source);
  const { st, forward } = await withClient(src, 'replicate-cutover', async (c) => ({ st: await writeFence.state(c), forward: await changeSource.installed(c) }));
  if (!st) {
    throw new CutoverError('E_USAGE', 'a rollback window is open on the target but the source is not fenced: the cutover is not in a state it can go on from', {
      hint: '`cutover replicate status` shows both sides; `cutover replicate rollback` or `finish` ends the window',
    });
  }
  if (forward) await closeForward(src, note);
  note(`already cut over: the source has been fenced since ${st.fencedAt.toISOString()} and the rollback window is open on the target; nothing to do`);
  return { fence: o.fence, fencedAt: st.fencedAt.toISOString(), outageMs: 0, phases: [], revoked: 0, fencedTables: st.tables, drainedEvents: 0, sequences: 0, triggersRestored: 0 };
}

/**
 * nextval() is not a write, so the fence lets the application take ids on the source (before the INSERT
 * the fence then refuses, or a Hibernate-style block): a sequence can pass the value set on the target in
 * the fence. No row can hold such a value (every write since the fence was refused), so a sequence behind
 * on the target but not below what the fence set there is not a difference: it is set forward again, so
 * the target never hands out a value the source gave away, and reported as such.
 */
async function settleSequences(a: Applier, report: VerifyReport, setInFence: Map<string, string>, margin: number,
  note: (m: string) => void): Promise<void> {
  const moved = (report.sequences ?? []).filter((q) => {
    const set = setInFence.get(qualify(q.schema, q.name));
    return q.status === 'behind on target' && q.target && set !== undefined && BigInt(q.target.lastValue) >= BigInt(set);
  });
  if (!moved.length) return;
  await setSequences(a.sourceClient, a.targetClient, margin);
  for (const q of moved) q.status = 'advanced on source in the fence';
  report.summary.sequencesBehind = countBehind(report.sequences ?? []);
  report.ok = identical(report.summary);
  note(`${moved.length} sequence(s) advanced on the source after they were set on the target (nextval() in the fence; no row holds those values): ` +
    `${moved.map((q) => `${q.schema}.${q.name}`).join(', ')}, set forward again`);
}

/**
 * Large objects written on the source after they were synced in the fence (no trigger sees lo_create,
 * lo_put or lo_unlink, so no trigger fence stops them) and nothing else different: copied again and
 * compared again, a few rounds, each said. A write after the last comparison stays on the old source:
 * docs/replicate.md says which fences stop them (read-only for the roles that write them, pooler).
 */
async function settleLargeObjects(a: Applier, report: VerifyReport, o: { content: boolean; roleMap?: RoleMap }, note: (m: string) => void): Promise<void> {
  const sm = report.summary;
  for (let round = 1; round <= 3 && !report.ok && sm.largeObjectDifferences > 0 && identical({ ...sm, largeObjectDifferences: 0 }); round++) {
    const before = sm.largeObjectDifferences;
    const los = await syncLargeObjects(a.sourceClient, a.targetClient);
    // Compared as verify compares them: each side in one snapshot.
    const sides = [a.sourceClient, a.targetClient];
    for (const c of sides) await c.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    let now: Awaited<ReturnType<typeof compareLargeObjects>>;
    try {
      now = await compareLargeObjects(a.sourceClient, a.targetClient, o);
    } finally {
      for (const c of sides) await c.query('COMMIT');
    }
    report.largeObjects = now;
    sm.largeObjects = now.sourceCount;
    sm.largeObjectDifferences = now.differences.length;
    report.ok = identical(sm);
    note(`WARNING: ${before} large object(s) were written on the source after the fence (no trigger can stop lo_* writes): ` +
      `${los.copied} copied again, ${los.removed} removed, ${los.metadata} with owner/privileges set; ${report.ok ? 'now identical' : `${sm.largeObjectDifferences} still differ`} (round ${round}). ` +
      'Stop the application\'s large-object writes before the fence, or use fence: read-only for the roles that write them, or pooler');
  }
}

/** "9 tables, 20000 rows" (and, for verify incremental, how many of them the fence did not read again). */
export function verifiedRows(v: { tables: number; rows: number; trustedRows?: number }): string {
  return `${v.tables} tables, ${v.rows} rows${v.trustedRows !== undefined ? `, ${v.trustedRows} of them verified before the fence and unchanged since` : ''}`;
}

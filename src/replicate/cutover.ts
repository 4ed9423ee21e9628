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
import { withPgpass } from '../pg/pgpass.js';
import { setSequences } from '../pg/facts.js';
import { classifySqlState, sqlStateOf } from '../pg/sqlstate.js';
import { verify, VERIFY_LEVELS, type VerifyReport } from '../verify/verify.js';
import { IncrementalVerify } from '../verify/incremental.js';
import { renderVerify } from '../verify/render.js';
import { Applier } from './apply.js';
import { compareSnapshots } from './snapshot-text.js';
import { withLock } from './lock.js';
import { completeDeferredConstraints } from './deferred-constraints.js';
import { syncLargeObjects } from './large-objects.js';

export const FENCES = ['revoke', 'read-only', 'manual'] as const;
/** incremental: a full verify before the fence, and in it only what changed since (see verify/incremental.ts). */
export const CUTOVER_VERIFY = [...VERIFY_LEVELS, 'incremental', 'none'] as const;
export type CutoverVerify = (typeof CUTOVER_VERIFY)[number];
export type Fence = (typeof FENCES)[number];

export interface CutoverOptions {
  source: ConnParams;
  target: ConnParams;
  /** revoke: REVOKE writes from `roles`; read-only: default_transaction_read_only for `roles` and end their sessions; manual: `confirm`. */
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
  onNote?: (message: string) => void;
  onPhase?: (phase: string) => void;
}

export interface CutoverResult {
  fence: Fence;
  fencedAt: string;
  /** Fence to verified: the time the application could not write. */
  outageMs: number;
  phases: { phase: string; durationMs: number }[];
  revoked: number;
  drainedEvents: number;
  sequences: number;
  triggersRestored: number;
  verify?: {
    level: Exclude<CutoverVerify, 'none'>; ok: boolean; tables: number; rows: number;
    /** verify incremental: rows verified before the fence and unchanged since (not read in it). */
    trustedRows?: number;
  };
}

export async function cutover(o: CutoverOptions): Promise<CutoverResult> {
  if (o.fence !== 'manual' && !o.roles?.length) {
    throw new CutoverError('E_USAGE', `fence "${o.fence}" needs the application's roles (roles: [...] / --role)`, { hint: 'or use fence: manual after stopping writes yourself' });
  }
  const note = o.onNote ?? (() => undefined);
  const phase = o.onPhase ?? (() => undefined);
  const phases: CutoverResult['phases'] = [];
  const timed = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
    phase(name);
    const t0 = Date.now();
    try { return await fn(); } finally { phases.push({ phase: name, durationMs: Date.now() - t0 }); }
  };
  const a = await Applier.open({ source: o.source, target: o.target, onNote: note });
  try {
    // 1. Catch up while the application still writes: the outage then only covers the last batch.
    const caughtUp = (b: { lagMs: number }) => b.lagMs <= (o.catchUpLagMs ?? 1000);
    await timed('catch up', () => a.run({ until: caughtUp }));
    const level = o.verify ?? 'checksums';
    let inc: IncrementalVerify | undefined;
    if (level === 'incremental') {
      // The full comparison while the application writes; the fence then compares only what changed.
      inc = await timed('pre-verify', () => preverify(a, o, note));
      await timed('catch up', () => a.run({ until: caughtUp }));
    }

    // 2. The fence.
    const fencedAt = new Date();
    const t0 = Date.now();
    let revoked = 0;
    await timed('fence', async () => {
      const s = a.sourceClient;
      const first = (await s.query<{ r: string }>('SELECT relid::regclass::text AS r FROM _cutover.tables ORDER BY tableid LIMIT 1')).rows[0]?.r ?? '_cutover.state';
      if (o.fence === 'manual' && o.confirm) await o.confirm();
      try {
        // One transaction: wait (in short lock_timeout slices) until no writer is in flight, then fence.
        await withLock(s, first, { lockTimeoutMs: 2000, maxLockWaitMs: o.waitMs ?? 60_000 }, note, async () => {
          await s.query('SELECT _cutover.fence_lock()');
          if (o.fence === 'manual') return;
          const fn = o.fence === 'revoke' ? '_cutover.fence_revoke' : '_cutover.fence_read_only';
          revoked = (await s.query(`SELECT * FROM ${fn}($1::name[])`, [o.roles])).rowCount ?? 0;
        });
      } catch (e) {
        if (classifySqlState(sqlStateOf(e)) === 'privilege' || sqlStateOf(e) === '42704') {
          const pe = e as { message: string; hint?: string };
          throw new CutoverError('E_FENCE', `cannot fence writes on the source: ${pe.message}`, { cause: e, hint: pe.hint ?? 'nothing was changed' });
        }
        throw e;
      }
      if (o.fence !== 'manual') note(o.fence === 'revoke' ? `revoked ${revoked} privilege(s) from ${o.roles!.join(', ')}` : `read-only default set for ${o.roles!.join(', ')}; their sessions were ended`);
    });
    const fenceSnap = await a.sourceSnapshot();

    // 3. Drain: until the applied tick shows every transaction that was running at the fence ended.
    const before = a.totals.events;
    await timed('drain', async () => {
      const deadline = Date.now() + (o.waitMs ?? 60_000);
      let late = false;
      await a.run({
        until: (b) => {
          if (compareSnapshots(b.tick, fenceSnap) >= 0) return true;
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
      // Anything after the fence means a writer the fence did not stop: apply it too, and say so.
      let rounds = 0;
      const after = await a.run({ until: (b) => b.events === 0 || ++rounds >= 10 }).then(() => a.totals.events);
      if (after > before && o.fence !== 'manual') note('writes arrived after the fence: a role that is not fenced is still writing');
    });

    // Large objects take no triggers: compared (owner, ACL, content hash) and the differing ones copied.
    const los = await timed('large objects', () => syncLargeObjects(a.sourceClient, a.targetClient));
    if (los.copied || los.removed || los.metadata) note(`large objects: ${los.copied} copied (${los.bytes} bytes), ${los.removed} removed, ${los.metadata} with owner/privileges set, of ${los.compared}`);

    // 4. Sequences and identities from the source.
    const sequences = await timed('sequences', () => setSequences(a.sourceClient, a.targetClient, o.sequenceMargin ?? 0));
    const triggersRestored = await timed('restore target triggers', () => a.restoreTargetTriggers());
    // Foreign keys a resumed copy deferred hold now that every change is applied.
    const constraints = await timed('deferred foreign keys', () => completeDeferredConstraints(a.targetClient));
    if (constraints) note(`${constraints} deferred foreign key(s) validated`);

    // 5. Verify.
    let report: VerifyReport | undefined;
    let trustedRows: number | undefined;
    if (inc) {
      const r = await timed('verify (changed since pre-verify)', async () => {
        try { return await inc.recheck(); } finally { await inc.unguardTarget(); }
      });
      const st = r.incremental;
      if (st.foreignWrites.length) note(`the target was written by someone other than cutover since the pre-verify: ${st.foreignWrites.join(', ')}; those tables were compared in full`);
      note(`verify in the fence: ${st.changedChunks} of ${st.chunks} chunks changed since the pre-verify and were compared again` +
        `${st.fullTables ? `, ${st.fullTables} table(s) in full` : ''}; ${st.trustedRows} rows were verified before the fence and not changed since`);
      report = r;
      trustedRows = st.trustedRows;
    } else if (level !== 'none' && level !== 'incremental') {
      report = await timed(`verify (${level})`, () => verify({ source: o.source, target: o.target, level, jobs: o.verifyJobs ?? 2 }));
    }
    if (report) {
      if (!report.ok) {
        throw new CutoverError('E_DIFFERENCE', `verify after the drain found differences; writes stay fenced on the source:\n${renderVerify(report)}`, {
          hint: 'run `cutover verify` for details; `cutover replicate unfence` lets the application write to the source again',
        });
      }
    }
    return {
      fence: o.fence, fencedAt: fencedAt.toISOString(), outageMs: Date.now() - t0, phases, revoked,
      drainedEvents: a.totals.events - before, sequences, triggersRestored,
      verify: report && level !== 'none' ? { level, ok: report.ok, tables: report.tables.length, rows: report.tables.reduce((n, t) => n + t.sourceRows, 0), trustedRows } : undefined,
    };
  } finally {
    await a.close();
  }
}

async function preverify(a: Applier, o: CutoverOptions, note: (m: string) => void): Promise<IncrementalVerify> {
  const inc = await IncrementalVerify.plan({ source: o.source, target: o.target, jobs: o.verifyJobs ?? 2 });
  const guard = await inc.guardTarget();
  if ('error' in guard) note(`cannot guard the target against other writers (${guard.error}): the fence trusts that only cutover writes to it until the switch`);
  // Tracking starts at the applied tick, before the pre-verify's snapshots: no change can slip between.
  a.track(inc.tracked(), inc.sink);
  const stop = new AbortController();
  let failed: unknown;
  const applying = a.run({ signal: stop.signal }).catch((e: unknown) => { failed = e; });
  try {
    const r = await inc.preverify();
    note(`pre-verify: ${r.chunks} key chunks of ${r.tables} table(s) compared in ${(r.durationMs / 1000).toFixed(1)} s while applying; ` +
      `${r.differing} differed (changes not applied yet); ${inc.changedChunks()} changed meanwhile`);
    // What changed during that pass is compared again, still before the fence: each round covers a
    // shorter time, so fewer chunks change during it. Stop when small enough or no longer shrinking.
    for (let round = 2; round <= 4; round++) {
      const before = inc.changedChunks();
      if (before <= 50) break;
      const rr = await inc.refine();
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

/** Gives back what the fence took (the rollback of a cutover). Returns the privileges/settings restored. */
export async function unfence(source: ConnParams): Promise<number> {
  return withClient(await withPgpass(source), 'replicate-unfence', async (c) => {
    const has = (await c.query<{ r: string | null }>(`SELECT to_regprocedure('_cutover.unfence()')::text AS r`)).rows[0]!.r;
    if (!has) return 0;
    return (await c.query<{ n: number }>('SELECT _cutover.unfence() AS n')).rows[0]!.n;
  });
}

/** "9 tables, 20000 rows" (and, for verify incremental, how many of them the fence did not read again). */
export function verifiedRows(v: { tables: number; rows: number; trustedRows?: number }): string {
  return `${v.tables} tables, ${v.rows} rows${v.trustedRows !== undefined ? `, ${v.trustedRows} of them verified before the fence and unchanged since` : ''}`;
}

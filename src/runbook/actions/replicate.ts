/** Runbook actions for change capture: replicate-start, replicate-catch-up, replicate-cutover, replicate-unfence, replicate-teardown, and the rollback window's replicate-rollback and replicate-finish. */
import { CUTOVER_SCHEMA } from '../../pg/private-schema.js';
import { z } from 'zod';
import { DEMANDS } from '../../budget/auto.js';
import { humanDuration, table } from '../../lib/format.js';
import { CAPTURE_MODES, installCapture } from '../../replicate/capture.js';
import { Applier, type BatchResult, type BatchStart, type BatchStep } from '../../replicate/apply.js';
import { CatchUpProgress } from '../../replicate/progress-text.js';
import { type TablesProgress, tablesProgress } from '../../lib/progress.js';
import { cutover, CUTOVER_VERIFY, FENCES, unfence, verifiedRows, type CutoverFailureFacts, type CutoverResult } from '../../replicate/cutover.js';
import { teardown } from '../../replicate/teardown.js';
import { describeUnfence } from '../../replicate/fence.js';
import { type ActionContext, type ExecContext, defineAction } from './types.js';
import { FinishDoc, StartDoc, TeardownDoc, UnfenceDoc } from '../../json/shapes-replicate.js';
import { rollback } from '../../replicate/rollback.js';
import { finish } from '../../replicate/window.js';
import { withClient } from '../../pg/connect.js';
import { resolveEndpoint } from '../../pg/endpoint.js';
import { reverseCapture } from '../../replicate/window-state.js';
import type { ConnParams } from '../../pg/conninfo.js';

const windowOpen = async (target: ConnParams) => withClient(await resolveEndpoint(target), 'replicate-rollback', (c) => reverseCapture(c));
import { CutoverError } from '../../errors.js';
import { endpointOf, jobsOption, resolveJobs, selection, selectionFlags, wholeNumber } from './common.js';
import { invertRoleMap } from '../../pg/role-map.js';
import { type KeyResults, switchResults, verifyOutcome, withResults } from '../key-results.js';

/** A finished switch's key results: the outage phase by phase and the verify in it. */
function switchOf(direction: 'cutover' | 'rollback', r: CutoverResult, already = false): KeyResults {
  const v = r.verify;
  return switchResults(direction, {
    ...r, verify: v ? { level: v.level, ok: v.ok, tables: v.tables, rows: v.rows, tablesDiffering: 0, rowDifferences: 0, otherDifferences: 0, ...(v.trustedRows !== undefined ? { trustedRows: v.trustedRows } : {}) } : undefined,
  }, already || r.phases.length === 0);
}

/** A switch whose verify found differences: the error carries what the fence did and verify found. */
function failedSwitch(direction: 'cutover' | 'rollback', e: unknown): unknown {
  const f = (e instanceof CutoverError ? e.details?.cutover : undefined) as CutoverFailureFacts | undefined;
  if (!f?.verify) return e;
  return withResults(e, switchResults(direction, { ...f, verify: verifyOutcome(f.verify.level, false, f.verify.summary, f.verify.trustedRows) }));
}

const startSchema = z.strictObject({
  mode: z.enum(CAPTURE_MODES).default('row').describe('capture triggers: per row, or per statement with transition tables'),
  keys: z.record(z.string(), z.array(z.string().min(1)).min(1)).optional().describe('replicate a table without a primary key by this unique index\'s NOT NULL columns'),
  lock_timeout_ms: wholeNumber(10).default(1000).describe('lock_timeout for each CREATE TRIGGER; busy tables are retried'),
  ...selection,
});

const executeStart = (ctx: ExecContext, o: z.infer<typeof startSchema>) => installCapture({
  source: endpointOf(ctx, 'source'), mode: o.mode, keys: o.keys, lockTimeoutMs: o.lock_timeout_ms, onNote: (m) => ctx.log(m),
  schemas: o.schemas, excludeSchemas: o.exclude_schemas, tables: o.tables, excludeTables: o.exclude_tables,
});

/** `--key schema.table=col1,col2` (repeatable): the `keys` record. */
function keysFromArgs(values: string[]): Record<string, string[]> {
  return Object.fromEntries(values.map((v) => {
    const i = v.lastIndexOf('=');
    if (i <= 0 || i === v.length - 1) throw new CutoverError('E_USAGE', `--key ${v}: write it as "schema.table=col1,col2"`);
    return [v.slice(0, i), v.slice(i + 1).split(',').map((c) => c.trim())];
  }));
}

export const replicateStartAction = defineAction({
  name: 'replicate-start',
  endpoints: { source: 'write' },
  description: 'install change capture on the source (triggers, private schema); the next copy records where replication starts',
  schema: startSchema,
  async run(ctx, o) {
    const r = await executeStart(ctx, o);
    return { connections: { source: 1, target: 0 }, summary: `capture on ${r.tables.length} table(s) (${r.mode} triggers)${r.lockRetries ? `, ${r.lockRetries} lock retries` : ''}` };
  },
  cli: {
    parent: 'replicate',
    description: `install change capture on the source (private ${CUTOVER_SCHEMA} schema, triggers with brief locks); then copy the data, which records where replication starts`,
    example: 'cutover replicate start --source env:SOURCE_URL --exclude-table billing.audit_log',
    flags: {
      ...selectionFlags,
      mode: { arg: 'mode' },
      keys: { flag: 'key', arg: 'schema.table=cols', help: 'replicate a table without a primary key by this unique index\'s NOT NULL columns (repeatable)', fromArgs: keysFromArgs },
      lock_timeout_ms: { flag: 'lock-timeout', arg: 'ms' },
    },
    execute: executeStart,
    output: (res) => ({
      doc: { ok: true as const, ...res, tables: res.tables.map((t) => ({ schema: t.schema, name: t.name, key: t.key, keySource: t.keySource })) },
      text: () => `${table(['table', 'key'], res.tables.map((t) => [`${t.schema}.${t.name}`, `${t.key.join(', ')} (${t.keySource})`]))}\n\n` +
        `capture on: ${res.tables.length} table(s), ${res.mode} triggers, in ${humanDuration(res.durationMs)}${res.lockRetries ? ` (${res.lockRetries} lock retries)` : ''}` +
        `${res.removed.length ? `; no longer captured: ${res.removed.join(', ')}` : ''}\nnext: copy the data (cutover copy), then cutover replicate apply`,
    }),
    doc: StartDoc,
  },
});

export const replicateCatchUpAction = defineAction({
  name: 'replicate-catch-up',
  endpoints: { source: 'write', target: 'write' },
  description: 'apply captured changes until the target is within max_lag of the source',
  schema: z.strictObject({
    max_lag_ms: z.number().int().min(1).default(1000),
    // follow: additive DDL on the source is applied to the target (docs/replicate.md, "DDL"); halt: every change halts.
    ddl: z.enum(['halt', 'follow']).default('halt'),
    // The rollback window: the writes made on the target since the switch, applied to the fenced source.
    reverse: z.boolean().default(false),
  }),
  async run(ctx, o) {
    const a = await Applier.open({ ...(o.reverse ? { source: ctx.target, target: ctx.source, reverse: true } : { source: ctx.source, target: ctx.target }),
      followDdl: o.ddl === 'follow', roleMap: ctx.roles?.map && (o.reverse ? invertRoleMap(ctx.roles.map) : ctx.roles.map), onNote: (m) => ctx.log(m) });
    try {
      let lag = 0;
      const view = new CatchUpProgress();
      ctx.progress(() => view.text());
      await a.run({
        signal: ctx.signal,
        onBatchStart: (b) => view.batchStart(b),
        onBatchStep: (s) => { view.batchStep(s); ctx.progress(() => view.text()); },
        onBatch: (b) => { lag = b.lagMs; view.batchDone(b, a.totals); },
        until: (b) => b.lagMs <= o.max_lag_ms,
      });
      return { rows: a.totals.upserted + a.totals.deleted, connections: { source: 1, target: 1 }, summary: `caught up: ${a.totals.events} events applied, lag ${humanDuration(lag)}` };
    } finally {
      await a.close();
    }
  },
});

const fenceFields = {
  fence: z.enum(FENCES).default('triggers'),
  roles: z.array(z.string().min(1)).optional(),
  wait_s: z.number().int().min(1).default(60),
  sequence_margin: z.number().int().min(0).default(0),
  verify: z.enum(CUTOVER_VERIFY).default('checksums'),
  verify_jobs: jobsOption,
  /** fence: pooler: the [databases] entry the application uses, and how to repoint it (ini or command). */
  pooler: z.strictObject({
    database: z.string().min(1),
    ini: z.string().min(1).optional(),
    command: z.string().min(1).optional(),
    pause_timeout_s: z.number().positive().default(10),
  }).refine((p) => (p.ini === undefined) !== (p.command === undefined), 'give exactly one of ini (a pgbouncer.ini cutover rewrites) and command (run to repoint)').optional(),
};
const poolerNeedsIt = (o: { fence: string; pooler?: unknown }) => o.fence !== 'pooler' || o.pooler !== undefined;
const poolerMessage = { message: 'fence: pooler needs pooler: { database: ..., ini: ... | command: ... }', path: ['pooler'] };
type FenceFields = z.output<z.ZodObject<typeof fenceFields>>;

/** The fence, verify and pooler options of replicate-cutover and replicate-rollback, for cutover(). */
async function fenceOptions(ctx: ActionContext, o: FenceFields) {
  if (o.fence === 'pooler' && !ctx.pooler) {
    throw new CutoverError('E_RUNBOOK', 'fence: pooler needs the pooler\'s admin console in the front matter: connections: { pooler: env:POOLER_URL }');
  }
  const jobs = o.verify === 'none' ? 1 : await resolveJobs(ctx, 'replicate-cutover', o.verify_jobs, DEMANDS['replicate-cutover']);
  // Each phase shows its name, then the catch-up's or the verify's progress while it runs.
  let phase = '';
  let catchUp = new CatchUpProgress();
  let tables = tablesProgress();
  return {
    jobs,
    options: {
      source: ctx.source, target: ctx.target, fence: o.fence, roles: o.roles, waitMs: o.wait_s * 1000, sequenceMargin: o.sequence_margin,
      verify: o.verify, verifyJobs: jobs, onNote: (m: string) => ctx.log(m), roleMap: ctx.roles?.map,
      onPhase: (p: string) => { phase = p; catchUp = new CatchUpProgress(); tables = tablesProgress(); ctx.progress(p); },
      onBatchStart: (b: BatchStart) => { catchUp.batchStart(b); ctx.progress(() => `${phase}: ${catchUp.text()}`); },
      onBatchStep: (s: BatchStep) => { catchUp.batchStep(s); ctx.progress(() => `${phase}: ${catchUp.text()}`); },
      onBatch: (b: BatchResult, totals: { events: number; batches: number }) => { catchUp.batchDone(b, totals); ctx.progress(() => `${phase}: ${catchUp.text()}`); },
      onTables: (p: TablesProgress) => { tables.update(p); ctx.progress(() => `${phase}: ${tables.text()}`); },
      pooler: o.pooler && ctx.pooler ? {
        admin: ctx.pooler, database: o.pooler.database, pauseTimeoutMs: o.pooler.pause_timeout_s * 1000,
        repoint: o.pooler.ini !== undefined ? { ini: o.pooler.ini } : { command: o.pooler.command! },
        // The run's interruption resumes the pooler on the source (the CLI owns the process's signals).
        signal: ctx.signal,
      } : undefined,
    },
  };
}

export const replicateCutoverAction = defineAction({
  name: 'replicate-cutover',
  endpoints: (o) => ({ source: 'write', target: 'write', ...(o.fence === 'pooler' ? { pooler: 'write' as const } : {}) }),
  endpointsText: 'source: write, target: write (pooler: write with `fence: pooler`)',
  demand: DEMANDS['replicate-cutover'],
  description: 'fence writes on the source, drain, sync sequences, verify; records the write outage (window: true opens a rollback window)',
  schema: z.strictObject({ ...fenceFields, window: z.boolean().default(false) }).refine(poolerNeedsIt, poolerMessage),
  async run(ctx, o) {
    const { jobs, options } = await fenceOptions(ctx, o);
    const r = await cutover({ ...options, window: o.window }).catch((e: unknown) => { throw failedSwitch('cutover', e); });
    return {
      connections: { source: 2 + jobs, target: 2 + jobs }, outageMs: r.outageMs, phases: r.phases, pause: r.pause, results: switchOf('cutover', r),
      summary: `write outage ${humanDuration(r.outageMs)}; ${r.pause ? `clients paused ${humanDuration(r.pause.pausedMs)} in the pooler, resumed on the target; ` : ''}${r.fencedTables} tables fenced; drained ${r.drainedEvents} events; ${r.sequences} sequences${r.verify ? `; verify ${r.verify.level}: identical (${verifiedRows(r.verify)})` : ''}` +
        `${r.window ? `; rollback window open (${r.window.tables} tables captured on the target)` : ''}`,
    };
  },
});

export const replicateRollbackAction = defineAction({
  name: 'replicate-rollback',
  endpoints: (o) => ({ source: 'write', target: 'write', ...(o.fence === 'pooler' ? { pooler: 'write' as const } : {}) }),
  endpointsText: 'source: write, target: write (pooler: write with `fence: pooler`)',
  description: 'the rollback window\'s way back: fence the target, drain its writes into the source, sync sequences, verify, unfence the source; records the write outage',
  schema: z.strictObject(fenceFields).refine(poolerNeedsIt, poolerMessage),
  async run(ctx, o) {
    const { jobs, options } = await fenceOptions(ctx, o);
    // A run that failed before the window opened: the application never wrote to the target, so lifting
    // the source's fence is the whole rollback (what replicate-unfence does).
    if (!(await windowOpen(ctx.target))) {
      const u = await unfence(ctx.source, { note: (m) => ctx.log(m) });
      return { connections: { source: 1, target: 1 }, statements: u.statements, summary: `no rollback window was open (the cutover had not finished): ${describeUnfence(u)} on the source` };
    }
    const r = await rollback(options).catch((e: unknown) => { throw failedSwitch('rollback', e); });
    return {
      connections: { source: 2 + jobs, target: 2 + jobs }, outageMs: r.outageMs, phases: r.phases, pause: r.pause, results: switchOf('rollback', r, r.already),
      summary: r.already ? 'already rolled back: the source takes writes, the target is fenced'
        : `write outage ${humanDuration(r.outageMs)}; ${r.fencedTables} tables fenced on the target; drained ${r.drainedEvents} events into the source; ${r.sequences} sequences` +
          `${r.verify ? `; verify ${r.verify.level}: identical (${verifiedRows(r.verify)})` : ''}; ${describeUnfence(r.unfenced)} on the source`,
    };
  },
});

const executeFinish = (ctx: ExecContext) => finish({ source: endpointOf(ctx, 'source'), target: endpointOf(ctx, 'target'), onNote: (m) => ctx.log(m) });

export const replicateFinishAction = defineAction({
  name: 'replicate-finish',
  endpoints: { source: 'write', target: 'write' },
  description: 'end the rollback window: reverse capture off the target, bookkeeping off the source (which stays fenced)',
  schema: z.strictObject({}),
  async run(ctx) {
    const r = await executeFinish(ctx);
    return {
      connections: { source: 1, target: 1 }, statements: [...r.fenceStatements, ...r.target.fenceStatements],
      summary: `window finished: ${r.target.triggersDropped} capture trigger(s) dropped on the target${r.oldSourceFenced ? '; the source stays fenced (replicate-unfence lifts it)' : ''}`,
    };
  },
  cli: {
    parent: 'replicate',
    description: 'end the rollback window: reverse capture off the target, bookkeeping off the source (which stays fenced until `replicate unfence`)',
    example: 'cutover replicate finish --source env:SOURCE_URL --target env:TARGET_URL',
    execute: executeFinish,
    output: (res) => ({
      doc: { ok: true as const, ...res },
      text: () => `window finished: ${res.target.triggersDropped} capture trigger(s) dropped on the target, ` +
        `target schema ${res.target.sourceSchema ? 'dropped' : 'absent'}, source bookkeeping ${res.target.targetSchema ? 'dropped' : 'absent'}` +
        `${res.constraints ? `, ${res.constraints} foreign key(s) completed on the source` : ''}` +
        `${res.oldSourceFenced ? '; the source stays fenced (`cutover replicate unfence` lifts it)' : ''}`,
    }),
    doc: FinishDoc,
  },
});

const executeUnfence = (ctx: ExecContext) => unfence(endpointOf(ctx, 'source'), { note: (m) => ctx.log(m) });

export const replicateUnfenceAction = defineAction({
  name: 'replicate-unfence',
  endpoints: { source: 'write' },
  description: 'lift exactly what the write fence set on the source (rollback of replicate-cutover; works after teardown)',
  schema: z.strictObject({}),
  async run(ctx) {
    const r = await executeUnfence(ctx);
    return { connections: { source: 1, target: 0 }, summary: describeUnfence(r), statements: r.statements };
  },
  cli: {
    parent: 'replicate',
    description: 'lift exactly what a fence set: its triggers, revoked privileges, read-only roles (the rollback of a cutover; works after teardown too)',
    example: 'cutover replicate unfence --source env:SOURCE_URL',
    execute: executeUnfence,
    output: (r) => ({ doc: { ok: true as const, ...r }, text: () => describeUnfence(r) }),
    doc: UnfenceDoc,
  },
});

const executeTeardown = (ctx: ExecContext) => teardown({ source: endpointOf(ctx, 'source'), target: ctx.target, onNote: (m) => ctx.log(m) });

export const replicateTeardownAction = defineAction({
  name: 'replicate-teardown',
  endpoints: { source: 'write', target: 'write' },
  description: 'remove every capture trigger, function and schema from the source and the bookkeeping from the target',
  schema: z.strictObject({}),
  async run(ctx) {
    const r = await executeTeardown(ctx);
    return {
      connections: { source: 1, target: 1 }, statements: r.fenceStatements,
      summary: `${r.triggersDropped} capture triggers dropped; ${r.fenceStatements.length ? 'the write fence stays on the source (replicate-unfence lifts it)' : 'nothing of cutover\'s left'}`,
    };
  },
  cli: {
    parent: 'replicate',
    description: `remove every trigger, function and the ${CUTOVER_SCHEMA} schema from the source, and the bookkeeping from the target (idempotent)`,
    example: 'cutover replicate teardown --source env:SOURCE_URL --target env:TARGET_URL',
    optionalSides: ['target'],
    execute: executeTeardown,
    output: (res) => ({
      doc: { ok: true as const, ...res },
      text: () => `teardown: ${res.triggersDropped} trigger(s) dropped, source schema ${res.sourceSchema ? 'dropped' : 'absent'}, ` +
        `target bookkeeping ${res.targetSchema ? 'dropped' : 'absent'}${res.targetTriggersRestored ? `, ${res.targetTriggersRestored} target trigger(s) re-enabled` : ''}`,
    }),
    doc: TeardownDoc,
  },
});


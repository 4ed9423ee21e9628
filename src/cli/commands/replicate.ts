import { type Command, InvalidArgumentError, Option } from 'commander';
import { CutoverError, EXIT } from '../../errors.js';
import { humanDuration, table } from '../../lib/format.js';
import { Applier, type BatchResult, type BatchStart, type BatchStep } from '../../replicate/apply.js';
import { cutover, CUTOVER_VERIFY, type CutoverVerify, FENCES, type Fence, verifiedRows } from '../../replicate/cutover.js';
import { describeUnfence } from '../../replicate/fence.js';
import { invertRoleMap, parseRoleMapArgs } from '../../pg/role-map.js';
import { rollback } from '../../replicate/rollback.js';
import { renderStatus, replicationStatus } from '../../replicate/status.js';
import { resolveConnArg } from '../connection-args.js';
import { positiveInt, withJson } from '../options.js';
import { printResult } from '../json/emit.js';
import { failed } from '../../json/base.js';
import { ApplyDoc, CutoverDoc, RollbackDoc, StatusDoc } from '../../json/shapes-replicate.js';
import { progressLine } from '../progress.js';
import { watchStatus } from './replicate-watch.js';
import { registerActionCommands } from '../from-registry.js';
import { parseDuration } from '../../lib/duration.js';
import { CatchUpProgress } from '../../replicate/progress-text.js';
import { type TablesProgress, tablesProgress } from '../../lib/progress.js';
import { type HandledSignal, SIGNAL_EXIT, onInterrupt } from '../interrupt.js';

interface Conn { source?: string; target?: string; json?: boolean }
const conns = (o: Conn) => ({
  source: resolveConnArg('source', o.source, 'CUTOVER_SOURCE_URL'),
  target: resolveConnArg('target', o.target, 'CUTOVER_TARGET_URL'),
});
const warn = (m: string) => process.stderr.write(`note: ${m}\n`);
// start and unfence touch only the source: they do not list a --target they would ignore.
const withSource = (c: Command) => withJson(c)
  .option('--source <conn>', 'source connection (URL, key=value, or env:VAR); default $CUTOVER_SOURCE_URL');
const withConns = (c: Command) => withSource(c)
  .option('--target <conn>', 'target connection (URL, key=value, or env:VAR); default $CUTOVER_TARGET_URL');

/** "2s", "500ms", "1 min": at least 100 ms. */
function durationArg(v: string): number {
  const ms = parseDuration(v);
  if (ms === undefined || ms < 100) throw new InvalidArgumentError('a duration of at least 100ms, like "2s" or "500ms"');
  return ms;
}

/**
 * Applies until Ctrl-C, SIGTERM or SIGHUP (or `--until-caught-up`), printing progress. A signal ends the
 * current batch (its transaction commits or rolls back whole), then the command exits 128 + the signal.
 */
async function follow(a: Applier, o: { untilCaughtUp?: number }): Promise<{ lagMs: number; stoppedBy?: HandledSignal }> {
  const p = progressLine();
  const abort = new AbortController();
  let stoppedBy: HandledSignal | undefined;
  const offSignal = onInterrupt((sig) => { stoppedBy ??= sig; abort.abort(sig); });
  let last: BatchResult | undefined;
  const view = new CatchUpProgress();
  try {
    await a.run({
      signal: abort.signal,
      onBatchStart: (b) => { view.batchStart(b); p.update(() => view.text()); },
      onBatchStep: (s) => { view.batchStep(s); p.update(() => view.text()); },
      onBatch: (b) => {
        last = b;
        view.batchDone(b, a.totals);
        p.update(() => view.text());
      },
      until: o.untilCaughtUp === undefined ? undefined : (b) => b.lagMs <= o.untilCaughtUp!,
    });
  } finally {
    offSignal();
    p.done();
  }
  if (stoppedBy) process.exitCode = SIGNAL_EXIT[stoppedBy];
  return { lagMs: last?.lagMs ?? 0, stoppedBy };
}

interface FenceArgs extends Conn { fence: Fence; role?: string[]; wait: number; sequenceMargin: number; verify: CutoverVerify; yes?: boolean;
  pooler?: string; poolerDatabase?: string; poolerIni?: string; poolerCommand?: string; pauseTimeout: number; roleMap?: string[] }

/** The fence, verify and pooler options of cutover and rollback; `side` is the server fenced. */
function fenceArgs(o: FenceArgs, side: 'source' | 'target') {
  if (o.fence === 'pooler' && (!o.pooler || !o.poolerDatabase || (o.poolerIni === undefined) === (o.poolerCommand === undefined))) {
    throw new CutoverError('E_USAGE', '--fence pooler needs --pooler, --pooler-database and one of --pooler-ini / --pooler-command');
  }
  if (o.fence === 'manual' && !o.yes && !process.stdin.isTTY) {
    throw new CutoverError('E_USAGE', '--fence manual needs a confirmation', { hint: `stop the application's writes to the ${side}, then pass --yes (or run on a terminal)` });
  }
  // Live catch-up and verify progress under the phase lines (the phase's name, then its progress).
  const p = progressLine();
  let phase = '';
  let catchUp = new CatchUpProgress();
  let tables = tablesProgress();
  const confirm = o.fence === 'manual' && !o.yes ? async () => {
    const { confirm: ask } = await import('@inquirer/prompts');
    // With --json the question goes to stderr: stdout is the document's.
    if (!(await ask({ message: `Writes to the ${side} are stopped?`, default: false }, o.json ? { output: process.stderr } : undefined))) throw new CutoverError('E_USAGE', 'cancelled before the fence; nothing changed');
  } : undefined;
  return {
    fence: o.fence, roles: o.role, waitMs: o.wait * 1000, sequenceMargin: o.sequenceMargin, verify: o.verify, confirm,
    roleMap: o.roleMap ? parseRoleMapArgs(o.roleMap) : undefined,
    pooler: o.fence === 'pooler' ? {
      admin: resolveConnArg('pooler', o.pooler, 'CUTOVER_POOLER_URL'), database: o.poolerDatabase!, pauseTimeoutMs: o.pauseTimeout * 1000,
      repoint: o.poolerIni !== undefined ? { ini: o.poolerIni } : { command: o.poolerCommand! },
    } : undefined,
    onNote: (m: string) => p.log(`note: ${m}`),
    // A new phase drops the last one's progress (its function would read the new phase's trackers).
    onPhase: (name: string) => { phase = name; catchUp = new CatchUpProgress(); tables = tablesProgress(); p.update(name); p.log(`${name}...`); },
    onBatchStart: (b: BatchStart) => { catchUp.batchStart(b); p.update(() => `${phase}: ${catchUp.text()}`); },
    onBatchStep: (s: BatchStep) => { catchUp.batchStep(s); p.update(() => `${phase}: ${catchUp.text()}`); },
    onBatch: (b: BatchResult, totals: { events: number; batches: number }) => { catchUp.batchDone(b, totals); p.update(() => `${phase}: ${catchUp.text()}`); },
    onTables: (x: TablesProgress) => { tables.update(x); p.update(() => `${phase}: ${tables.text()}`); },
    progress: p,
  };
}

const phaseTable = (res: { phases: { phase: string; durationMs: number }[] }) => table(['phase', 'duration'], res.phases.map((p) => [p.phase, humanDuration(p.durationMs)]));

export function registerReplicate(program: Command): void {
  const r = program.command('replicate').description('change capture with plain triggers (no superuser, no replication rights): start, apply, status, cutover, teardown');

  // start, unfence, teardown and finish: generated from the registry's replicate-* actions (src/cli/from-registry.ts).
  registerActionCommands(r, { parent: 'replicate' });

  withConns(r.command('apply'))
    .description('apply captured changes to the target, batch by batch, until Ctrl-C (or until caught up)')
    .option('--until-caught-up [ms]', 'stop once a batch\'s lag is at most this (default 1000)', (v) => positiveInt(v))
    .option('--accept-ddl', 'after applying the same DDL on both sides: accept the new table shapes and go on')
    .option('--follow-ddl', 'apply additive DDL seen on the source to the target (new enum labels and types, nullable or defaulted columns, new indexes, new tables matching the selection: captured, created and copied); halt on anything else (remembered for later appliers)')
    .option('--reverse', 'the rollback window: apply the writes made on the target since the switch to the (fenced) source; --source and --target as in the cutover')
    .option('--role-map <old=new...>', 'the copy\'s role map: with ddl: follow, a new table\'s owner, grants and policies on the target go through it')
    .action(async (o: Conn & { untilCaughtUp?: number | true; acceptDdl?: boolean; followDdl?: boolean; reverse?: boolean; roleMap?: string[]; json?: boolean }) => {
      const c = conns(o);
      const map = o.roleMap ? parseRoleMapArgs(o.roleMap) : undefined;
      const a = await Applier.open({ ...(o.reverse ? { source: c.target, target: c.source, reverse: true } : c), acceptDdl: o.acceptDdl, followDdl: o.followDdl,
        roleMap: map && (o.reverse ? invertRoleMap(map) : map), onNote: warn });
      let r: Awaited<ReturnType<typeof follow>>;
      try {
        r = await follow(a, { untilCaughtUp: o.untilCaughtUp === true ? 1000 : o.untilCaughtUp });
      } finally {
        await a.close();
      }
      const fields = { direction: o.reverse ? 'reverse' as const : 'forward' as const, ...a.totals, lagMs: r.lagMs };
      printResult(o.json, ApplyDoc, r.stoppedBy ? { ...fields, stoppedBy: r.stoppedBy, ...failed('E_INTERRUPTED', `stopped by ${r.stoppedBy}`) } : { ...fields, ok: true },
        () => `applied ${a.totals.events} event(s) in ${a.totals.batches} batch(es); lag ${humanDuration(r.lagMs)}${r.stoppedBy ? ` (stopped by ${r.stoppedBy})` : ''}`);
    });

  withConns(r.command('status'))
    .description('what is captured, how far the target is (lag, pending events), the log\'s size, and whether replication halted')
    .option('--watch', 'sample again and again until Ctrl-C: lag, pending events and apply rate over time (sparklines); exit 0 (with --json: one JSON object per line per sample)')
    .addOption(new Option('--interval <duration>', 'with --watch: time between samples').argParser(durationArg).default(2000, '2s'))
    .action(async (o: Conn & { json?: boolean; watch?: boolean; interval: number }) => {
      if (o.watch) { await watchStatus(conns(o), { intervalMs: o.interval, json: o.json }); return; }
      const s = await replicationStatus(conns(o));
      printResult(o.json, StatusDoc, s.applied?.halted ? { ...s, ...failed('E_HALTED', `replication halted: ${s.applied.halted}`) } : { ...s, ok: true }, () => renderStatus(s));
      // A halted replication is not a healthy status: scripts and monitors see exit 7.
      if (s.applied?.halted) process.exitCode = EXIT.halted;
    });

  const fenceOptions = (c: Command, side: string) => withConns(c)
    .addOption(new Option('--fence <how>', `how writes are fenced on the ${side}: triggers: refuse every write on every table, whoever writes; revoke / read-only: the same, and also revoke writes from --role / make --role read only and end its sessions; manual: you stopped writes, cutover fails if any arrive`).choices(FENCES).default('triggers'))
    .option('--role <name...>', 'with --fence revoke or read-only: the application\'s roles (each must exist)')
    .option('--wait <s>', 'how long transactions older than the fence may keep running', positiveInt, 60)
    .option('--sequence-margin <n>', 'set each sequence this many steps past the value it has on the side written until now', (v) => Number(v), 0)
    .addOption(new Option('--verify <level>', 'verify after the drain (incremental: compare everything before the fence, in it only what changed since)').choices(CUTOVER_VERIFY).default('checksums'))
    .option('--yes', 'with --fence manual: writes are already stopped, do not ask')
    .option('--pooler <conn>', 'with --fence pooler: the PgBouncer admin console (database pgbouncer, a user in admin_users; URL, key=value or env:VAR)')
    .option('--pooler-database <name>', 'with --fence pooler: the [databases] entry the application connects to')
    .option('--pooler-ini <path>', 'with --fence pooler: the pgbouncer.ini whose entry cutover rewrites (then RELOAD)')
    .option('--pooler-command <sh>', 'with --fence pooler: run this to repoint instead (gets CUTOVER_TARGET_HOST/_PORT/_DBNAME)')
    .option('--pause-timeout <s>', 'with --fence pooler: how long PAUSE may wait for running transactions', positiveInt, 10)
    .option('--role-map <old=new...>', 'the copy\'s role map: verify compares owners and grants through it');

  fenceOptions(r.command('cutover'), 'source')
    .description('catch up, fence writes on the source, drain, set sequences, verify; prints the write outage')
    .option('--window', 'open a rollback window: capture writes on the target from the switch on, so that `replicate rollback` loses nothing')
    .action(async (o: FenceArgs & { window?: boolean }) => {
      const { progress, ...args } = fenceArgs(o, 'source');
      const res = await cutover({ ...conns(o), ...args, window: o.window }).finally(() => progress.done());
      printResult(o.json, CutoverDoc, { ok: true, ...res }, () => `${phaseTable(res)}\n\n` +
        `cutover done: write outage ${humanDuration(res.outageMs)} (fence ${res.fence} at ${res.fencedAt}); drained ${res.drainedEvents} event(s); ${res.sequences} sequence(s) set` +
        `${res.verify ? `; verify ${res.verify.level}: identical (${verifiedRows(res.verify)})` : ''}\n` +
        `${res.pause ? `pooler: clients paused ${humanDuration(res.pause.pausedMs)}, longest wait ${humanDuration(res.pause.maxClientWaitMs)}; entry "${res.pause.entry}" now on the target\n` : ''}` +
        (res.window
          ? `rollback window open (${res.window.tables} tables captured on the target); the source stays fenced (${res.fencedTables} tables); switch the application to the target, keep \`cutover replicate apply --reverse\` running, then \`cutover replicate finish\` (or \`rollback\`)`
          : `the source stays fenced (${res.fencedTables} tables); switch the application to the target, then run cutover replicate teardown`));
    });

  fenceOptions(r.command('rollback'), 'target (the new server)')
    .description('the rollback window\'s way back: fence the target, drain the writes made there into the source, set sequences, verify, unfence the source; prints the write outage')
    .action(async (o: FenceArgs) => {
      const { progress, ...args } = fenceArgs(o, 'target');
      const res = await rollback({ ...conns(o), ...args }).finally(() => progress.done());
      printResult(o.json, RollbackDoc, { ok: true, ...res }, () => (res.already ? 'already rolled back: the source takes writes, the target is fenced; `cutover replicate finish` ends the window' : `${phaseTable(res)}\n\n` +
        `rollback done: write outage ${humanDuration(res.outageMs)} (target fenced, ${res.fence}, at ${res.fencedAt}); drained ${res.drainedEvents} event(s) into the source; ${res.sequences} sequence(s) set` +
        `${res.verify ? `; verify ${res.verify.level}: identical (${verifiedRows(res.verify)})` : ''}\n` +
        `${res.pause ? `pooler: clients paused ${humanDuration(res.pause.pausedMs)}; entry "${res.pause.entry}" back on the source\n` : ''}` +
        `the source takes writes again (${describeUnfence(res.unfenced)}); the target stays fenced (${res.fencedTables} tables): point the application back at the source, then \`cutover replicate finish\``));
    });
}

import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type Command, Option } from 'commander';
import { CutoverError, EXIT, describeError, isCutoverError } from '../../errors.js';
import { loadRunbook, parseRunbook } from '../../runbook/parse.js';
import { renderRunbook, type RenderFormat } from '../../runbook/render.js';
import { loadTimings, projectOutage, statedMs, type RunSummary } from '../../runbook/timings.js';
import { resolveConnections, type Mode } from '../../runbook/connections.js';
import { RunInterruptedError, runRunbook } from '../../runbook/runner.js';
import { cliRunSession } from '../run-session.js';
import { outageText, writeReport } from '../../runbook/report.js';
import { parseDuration } from '../../lib/duration.js';
import type { Runbook } from '../../runbook/model.js';
import { humanDuration, table } from '../../lib/format.js';
import { boundStateDir, runbookSlug } from '../../runbook/binding.js';
import { readBindingsLenient } from '../../pg/bound-state.js';
import { SIGNAL_EXIT } from '../interrupt.js';
import { describeBinding, type DbBinding } from '../../pg/identity.js';
import { withJson } from '../options.js';
import { addSecret, emitJson, printResult } from '../json/emit.js';
import { checkDoc, problemsDoc, runDoc } from '../json/build-runbook.js';
import { CheckDoc, RenderDoc, RunDoc } from '../../json/shapes-runbook.js';

/** The default state directory: `.cutover/<runbook>/<target identity>/<mode>` (one per target database). */
export function stateDirFor(rb: Runbook, mode: Mode, target: DbBinding, base = '.cutover'): string {
  return boundStateDir(rb.front.name, target, mode, base);
}

/** The targets of this runbook's runs in the default state directories (from their journals). */
function runsOf(rb: Runbook, mode: Mode, base = '.cutover'): DbBinding[] {
  const root = join(base, runbookSlug(rb.front.name));
  const out: DbBinding[] = [];
  for (const d of existsSync(root) ? readdirSync(root) : []) {
    const f = join(root, d, mode, 'journal.jsonl');
    if (!existsSync(f)) continue;
    const start = readFileSync(f, 'utf8').split('\n').map((l) => { try { return JSON.parse(l) as { event?: string; target?: DbBinding }; } catch { return {}; } })
      .find((e) => e.event === 'run-start' && e.target);
    if (start?.target) out.push(start.target);
  }
  return out;
}

/** The newest rehearsal summary of this runbook, whatever database it rehearsed on. */
export function lastRehearsalSummary(rb: Runbook, base = '.cutover'): string | undefined {
  const root = join(base, runbookSlug(rb.front.name));
  let best: { file: string; mtime: number } | undefined;
  for (const d of existsSync(root) ? readdirSync(root) : []) {
    const f = join(root, d, 'rehearse', 'summary.json');
    if (!existsSync(f)) continue;
    const mtime = statSync(f).mtimeMs;
    if (!best || mtime > best.mtime) best = { file: f, mtime };
  }
  return best?.file;
}

export function describePlan(rb: Runbook): string {
  const rows = rb.steps.map((s) => [String(s.line), s.phase + (s.rollback ? ' (rollback)' : ''), s.id,
    s.kind === 'action' ? `cutover ${s.action}` : s.kind === 'sql' ? `sql on ${s.on}` : s.kind, s.parallel ?? '', s.estimateMs !== undefined ? humanDuration(s.estimateMs) : '', s.title.length > 70 ? `${s.title.slice(0, 69)}…` : s.title]);
  const o = projectOutage(rb, (s) => s.estimateMs);
  const conn = (r: { env?: string; url?: string }) => (r.env ? `$${r.env}${process.env[r.env] ? '' : ' (not set here)'}` : 'URL in the runbook');
  return [`${rb.front.name}: ${rb.steps.filter((s) => !s.rollback).length} step(s) in ${rb.phases.filter((p) => !/^rollback/i.test(p)).length} phase(s), ` +
    `${rb.steps.filter((s) => s.rollback).length} rollback step(s)`,
  `source ${conn(rb.front.connections.source)}, target ${conn(rb.front.connections.target)}` +
    `${rb.front.connections.rehearsal ? `; rehearsal source ${conn(rb.front.connections.rehearsal.source)}, target ${conn(rb.front.connections.rehearsal.target)}` : ''}`,
  '', table(['line', 'phase', 'id', 'kind', 'parallel', 'est.', 'title'], rows), '',
  rb.markers.length ? `write outage: ${o.criticalPath.length} step(s) between the markers, estimated ${humanDuration(o.projectedMs)} (from est. notes)` +
      `${o.budgetMs !== undefined ? ` of a ${humanDuration(o.budgetMs)} budget` : ''}` : 'no write outage marked'].join('\n');
}

interface RunFlags { json?: boolean; yes?: boolean; resume?: boolean; fresh?: boolean; rollback?: boolean; stateDir?: string; timings?: string; renderer?: 'default' | 'simple' | 'verbose'; manualDuration?: string }

async function runOrRehearse(file: string, mode: Mode, o: RunFlags): Promise<void> {
  const rb = await loadRunbook(file);
  const { source, target, pooler, named } = await resolveConnections(rb, mode);
  for (const p of [source, target, pooler, ...Object.values(named)]) addSecret(p?.password);
  // Which databases these are (readable without superuser): the state directory is keyed by the target,
  // and the journal bound to both.
  const read = await readBindingsLenient(source, target);
  // The default state directory needs the target's identity; a source that does not answer is reported
  // by the run's checks with everything else.
  if (!read.target && !o.stateDir) throw read.errors.target;
  const bindings = { source: read.source, target: read.target };
  const stateDir = o.stateDir ?? stateDirFor(rb, mode, bindings.target!);
  if (o.resume && !o.stateDir && !existsSync(join(stateDir, 'journal.jsonl'))) {
    // The default state directory belongs to the target: say which databases this runbook's runs are for.
    const others = runsOf(rb, mode).map((b) => describeBinding(b));
    throw new CutoverError('E_USAGE', `nothing to resume for ${describeBinding(bindings.target!)}: this runbook has no ${mode} journal for it` +
      (others.length ? `; it has one for: ${others.join('; ')}` : ''), {
      hint: 'to resume one of those, give the connections it was started with (check the environment variables); to start a run for these databases, leave out --resume; nothing was changed',
    });
  }
  let timings: RunSummary | undefined;
  const rehearsalSummary = lastRehearsalSummary(rb);
  if (o.timings) timings = await loadTimings(o.timings);
  else if (mode === 'run' && rehearsalSummary) timings = await loadTimings(rehearsalSummary);
  const manualDurationMs = o.manualDuration ? parseDuration(o.manualDuration) : undefined;
  if (o.manualDuration && manualDurationMs === undefined) throw new CutoverError('E_USAGE', `--manual-duration "${o.manualDuration}" is not a duration`);
  // The task list, the questions, the notes on stderr and the signals are the CLI's (run-session.ts).
  const session = cliRunSession({ renderer: o.renderer, taskList: o.json ? 'stderr' : 'stdout' });
  const r = await runRunbook({ runbook: rb, mode, source, target, pooler, named, stateDir, yes: o.yes, resume: o.resume, fresh: o.fresh, rollbackOnly: o.rollback, timings, manualDurationMs, bindings,
    ...session.options }).catch((e: unknown) => {
    // A second signal (or 10 s without an end): the run journaled its end; exit as the signal would.
    if (e instanceof RunInterruptedError && e.immediate) process.exit(SIGNAL_EXIT[e.signal ?? 'SIGINT']);
    throw e;
  }).finally(session.close);
  const reports = mode === 'rehearse' ? await writeReport(stateDir, r.summary) : undefined;
  // Manual steps a rehearsal confirmed count their stated time in the report; the run itself took less.
  const stated = statedMs(r.summary);
  const took = `${humanDuration(r.summary.durationMs - stated)}${stated ? ` (the report adds the manual steps' stated ${humanDuration(stated)})` : ''}`;
  const lines = [`${mode === 'rehearse' ? 'rehearsal' : 'run'} ${r.outcome}${r.rolledBack ? ' (rollback ran)' : ''} in ${took}; ${outageText(r.summary)}`,
    `journal and summary.json in ${stateDir}`, ...(reports ? [`report: ${reports.join(', ')}`] : [])];
  printResult(o.json, RunDoc, runDoc(r, stateDir, reports), () => lines.join('\n'));
  if (r.outcome === 'interrupted') process.exitCode = r.signal ? SIGNAL_EXIT[r.signal] : EXIT.interrupted;
  else if (r.outcome !== 'ok') {
    process.stderr.write(`cutover: ${describeError(r.error)}\n`);
    // Which step, where in the runbook, and the way on.
    const failed = r.summary.steps.find((t) => t.outcome === 'failed' && !rb.steps.find((x) => x.id === t.id)?.rollback);
    const step = failed && rb.steps.find((x) => x.id === failed.id);
    if (step) {
      process.stderr.write(`cutover: step "${step.id}" (${file}:${step.line}) failed; ${r.rolledBack ? 'the Rollback phase ran' : `fix the cause, then \`cutover ${mode} ${file} --resume\` (finished steps are skipped)`}\n`);
    }
    process.exitCode = isCutoverError(r.error) && r.error.exitCode !== EXIT.internal ? r.error.exitCode : EXIT.stepFailed;
  }
}

export function registerRunbook(program: Command): void {
  withJson(program.command('check <runbook>'))
    .description('validate a runbook (every problem at once, as FILE:LINE: message) and print the plan')
    .action(async (file: string, o: { json?: boolean }) => {
      const rb = await loadRunbook(file).catch(async (e: unknown) => {
        if (!o.json || !isCutoverError(e) || e.code !== 'E_RUNBOOK') throw e;
        // The document lists the problems one by one (the message has them as text).
        emitJson(CheckDoc, problemsDoc(e.message, e.hint, parseRunbook(await readFile(file, 'utf8'), file).problems));
        process.exitCode = e.exitCode;
      });
      if (rb) printResult(o.json, CheckDoc, checkDoc(rb), () => describePlan(rb));
    });

  withJson(program.command('render <runbook>'))
    .description('the runbook as a checklist to tick, in Markdown or one printable HTML file, with expected durations')
    .addOption(new Option('--format <format>', 'output format').choices(['md', 'html']).default('md'))
    .option('--timings <summary.json>', 'durations from a rehearsal (default: the last rehearsal of this runbook, if any)')
    .option('-o, --output <file>', 'write to a file instead of stdout')
    .action(async (file: string, o: { format: RenderFormat; timings?: string; output?: string; json?: boolean }) => {
      const rb = await loadRunbook(file);
      const timingsFile = o.timings ?? lastRehearsalSummary(rb);
      const text = renderRunbook(rb, o.format, timingsFile ? await loadTimings(timingsFile) : undefined);
      if (o.output) await writeFile(o.output, text);
      if (o.json) emitJson(RenderDoc, { ok: true, format: o.format, timings: timingsFile ?? null, ...(o.output ? { output: o.output } : { text }) });
      else if (!o.output) process.stdout.write(text);
    });

  const runFlags = (c: Command) => withJson(c)
    .option('-y, --yes', 'confirm manual steps (and the rollback after a failure) without asking')
    .option('--resume', 'continue the last run from its journal, skipping finished steps')
    .option('--fresh', 'start over (the old journal is kept aside)')
    .option('--state-dir <dir>', 'journal, work files and summary.json (default .cutover/<name>/<target database>/<mode>)')
    .option('--timings <summary.json>', 'rehearsal timings for ETAs and overrun warnings')
    .addOption(new Option('--renderer <name>', 'task list style (default: live on a terminal, plain lines otherwise)').choices(['default', 'simple', 'verbose']));

  runFlags(program.command('run <runbook>'))
    .description('run the runbook against the production connections as a live task list')
    .option('--rollback', 'run only the Rollback phase')
    .action((file: string, o: RunFlags) => runOrRehearse(file, 'run', o));

  runFlags(program.command('rehearse <runbook>'))
    .description('run the runbook against the rehearsal connections, timing every step; writes summary.json and a report')
    .option('--manual-duration <duration>', 'time counted for an auto-confirmed manual step without (est. ...)', '0s')
    .action((file: string, o: RunFlags) => runOrRehearse(file, 'rehearse', o));
}

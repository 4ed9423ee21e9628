/**
 * `cutover run` / `cutover rehearse`: the runbook as a live task list (listr2: a live view on a terminal,
 * plain lines otherwise), one journaled step at a time (parallel groups concurrently, up to max_parallel),
 * manual steps confirmed on a TTY or by --yes, a per-target lock, resume from the journal, the Rollback
 * phase on failure (after confirmation) or on demand, ETAs from a rehearsal, and summary.json at the end.
 */
import { Listr, ListrLogger, PRESET_TIMER, ProcessOutput, type ListrTask, type ListrTaskWrapper, type ListrRendererFactory } from 'listr2';
import { ListrInquirerPromptAdapter } from '@listr2/prompt-adapter-inquirer';
import { confirm } from '@inquirer/prompts';
import { mkdir, writeFile } from 'node:fs/promises';
import { appendFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { askOnTerminal, hasControllingTerminal } from '../lib/terminal.js';
import { CutoverError, describeError } from '../errors.js';
import { scrub } from '../pg/conninfo.js';
import { type Capacity, parseHeadroom } from '../budget/capacity.js';
import { capacities } from './actions/common.js';
import { humanDuration } from '../lib/format.js';
import { type ProgressText, TTY_REFRESH_MS, oneLine, plainIntervalMs, resolveText } from '../lib/progress.js';
import { ACTIONS, type ActionContext, type StepOutputs } from './actions/index.js';
import { executeStep } from './execute.js';
import { resultsOfError } from './key-results.js';
import { RunJournal, type Outcome, type JournalEvent } from './journal.js';
import { acquireRunLock } from './lock.js';
import { type Bindings, refuseOtherDatabases } from './binding.js';
import { readBindingsLenient } from '../pg/bound-state.js';
import { type HandledSignal, SIGNAL_EXIT, onInterrupt } from '../lib/interrupt.js';
import { signalOwnChildren, sweepRuntimeDirs } from '../lib/runtime-dir.js';
import { ensureSessionTag } from '../pg/session-tag.js';
import { endSessionsOfTag, signalOwnSessions } from '../pg/own-sessions.js';
import { ConnectionSampler } from '../budget/sampler.js';
import { Governor, installGovernor } from '../budget/governor.js';
import type { Mode } from './connections.js';
import type { Runbook, Step } from './model.js';
import { type RunSummary, type StepTiming, expectedDuration, outageSteps, outputsOf, projectOutage, sideOf, units } from './timings.js';
import type { Endpoint } from '../pg/endpoint.js';

export interface RunOptions {
  runbook: Runbook;
  mode: Mode;
  source: Endpoint;
  target: Endpoint;
  /** The PgBouncer admin console, for replicate-cutover with fence: pooler. */
  pooler?: Endpoint;
  stateDir: string;
  /** Confirm manual steps and the rollback without asking. */
  yes?: boolean;
  resume?: boolean;
  /** Start over: the old journal is archived. */
  fresh?: boolean;
  /** Run only the Rollback phase. */
  rollbackOnly?: boolean;
  /** Rehearsal timings for ETAs and overrun warnings. */
  timings?: RunSummary;
  /** Rehearsal: duration recorded for an auto-confirmed manual step without an (est. ...). */
  manualDurationMs?: number;
  /**
   * Does a manual step's work in code when `yes` confirms it (the demo switches its application to the
   * target and rehearses the rollback window there). Not called for steps a person confirms.
   */
  onManual?: (step: { id: string; title: string }) => Promise<void>;
  /** listr2 renderer; default: live on a TTY, plain lines otherwise. */
  renderer?: 'default' | 'simple' | 'verbose' | 'silent';
  /** Where the task list goes (default stdout; the CLI's --json keeps stdout for its document). */
  taskList?: 'stdout' | 'stderr';
  interactive?: boolean;
  /** The identities of source and target, if the caller read them already (the CLI does, for the state directory). */
  bindings?: Partial<Bindings>;
}

/** `signal`: the signal that interrupted the run (SIGINT, SIGTERM or SIGHUP). */
export interface RunResult { outcome: Outcome; summary: RunSummary; rolledBack: boolean; error?: unknown; signal?: HandledSignal }

/** The run's own control sessions, never cancelled by its interruption. */
const CONTROL_SESSIONS = ['run-lock', 'sampler'];

type Ctx = Record<string, never>;
type Task = ListrTaskWrapper<Ctx, ListrRendererFactory, ListrRendererFactory>;

export async function runRunbook(o: RunOptions): Promise<RunResult> {
  const rb = o.runbook;
  const interactive = o.interactive ?? (process.stdin.isTTY === true && process.stdout.isTTY === true);
  await mkdir(o.stateDir, { recursive: true });
  const journal = await RunJournal.open(o.stateDir);
  const tag = ensureSessionTag();

  // Resume rules, decided before anything runs. First: the journal must describe these databases.
  // A side that does not answer is left out here: the run's first step (doctor) reports it with the rest.
  const now: Partial<Bindings> = o.bindings ?? await readBindingsLenient(o.source, o.target);
  if (journal.started && !o.fresh) {
    refuseOtherDatabases(journal.bindings, now, `the run journal ${journal.file}`,
      'resume (or roll back) with the connections of that run (check the runbook\'s environment variables); to run this runbook for these databases, use the default state directory (one per target database) or another --state-dir');
  }
  if (o.resume && !journal.started) {
    throw new CutoverError('E_USAGE', `nothing to resume: no run journal in ${o.stateDir}`, {
      hint: 'run without --resume to start a run for these databases; to resume another run, give the connections (and --state-dir) it was started with',
    });
  }
  if (journal.started && !o.rollbackOnly) {
    const end = journal.lastEnd;
    if (!o.fresh && !o.resume) {
      throw new CutoverError('E_USAGE', end?.outcome === 'ok'
        ? `this runbook already ran to completion (${end.at}; journal ${journal.file})`
        : `a previous ${rb.front.name ? `run of "${rb.front.name}"` : 'run'} did not finish (journal ${journal.file})`, {
        hint: end?.outcome === 'ok' ? 'pass --fresh to run it again from the start' : 'pass --resume to continue it, or --fresh to start over',
      });
    }
  }
  const finished = o.fresh ? new Map() : journal.finished();
  if (o.resume) {
    const changed = rb.steps.filter((s) => finished.has(s.id) && finished.get(s.id)!.hash !== s.hash);
    if (changed.length) {
      throw new CutoverError('E_RUNBOOK', `cannot resume: ${changed.length} finished step(s) changed since they ran:\n` +
        changed.map((s) => `  ${rb.file}:${s.line}: "${s.id}" finished at ${finished.get(s.id)!.at}, its text is different now`).join('\n'), {
        hint: 'undo the edit to resume, or pass --fresh to run everything again',
      });
    }
  }

  // The lock first: --fresh must not move aside the journal of a run that still goes on.
  const lock = await acquireRunLock(o.target, rb.front.name);
  try {
    const previous = journal.lastStart;
    const endedBefore = journal.lastEnd !== undefined;
    if (journal.started && !o.rollbackOnly && o.fresh) await journal.archive();
    // A previous run that never ended (killed) may have left sessions running on the servers and children
    // on this machine: end them before any step starts again (two sessions must not do the same work).
    await journal.append({ event: 'run-start', at: new Date().toISOString(), mode: o.fresh ? 'fresh' : o.resume ? 'resume' : o.mode, runbook: rb.front.name, pid: process.pid,
      source: now.source, target: now.target, tag });
    if (previous && !endedBefore && previous.tag && previous.tag !== tag) await endPreviousRun(previous.tag, o);
  } catch (e) {
    if (journal.lastStart?.tag === tag) await journal.append({ event: 'run-end', at: new Date().toISOString(), outcome: 'failed' }).catch(() => undefined);
    await lock.end().catch(() => undefined);
    throw e;
  }
  // The runtime guard: every connection the run opens is admitted against what the sampler last saw.
  const logSinks = new Set<(t: string) => void>();
  const gov = new Governor({ onNote: (t) => { for (const sink of logSinks) sink(t); } });
  const sampler = await ConnectionSampler.start({ source: o.source, target: o.target }, { headroom: parseHeadroom(rb.front.headroom), governor: gov });
  installGovernor(gov);
  const measure = (side: 'source' | 'target') => sampler.capacity(side, parseHeadroom(rb.front.headroom));
  const abort = new AbortController();
  let interrupted: HandledSignal | undefined;
  // Server-side work of this run (its sessions carry the run's tag), index builds included.
  const cancelServerWork = () => Promise.all([o.source, o.target].map((p) => signalOwnSessions(p, { exceptSteps: CONTROL_SESSIONS }).catch(() => undefined)));
  const running = new Map<string, { startedAt: string; t0: number }>();
  // SIGINT, SIGTERM and SIGHUP alike. The first: start nothing new, signal the running shell steps'
  // process groups, cancel the run's statements on both servers; the run ends by itself with the journal
  // up to date. A second signal, or 10 s without an end, exits at once after journaling the steps still
  // running as interrupted (and ending what is left).
  const hardStop = async () => {
    const sig = interrupted ?? 'SIGINT';
    for (const [id, r] of running) {
      await journal.append({ event: 'step-end', at: new Date().toISOString(), id, hash: rb.steps.find((x) => x.id === id)?.hash ?? '', outcome: 'interrupted', startedAt: r.startedAt, durationMs: Date.now() - r.t0 });
    }
    signalOwnChildren('SIGKILL');
    await Promise.race([endLeftovers(o), new Promise((r) => setTimeout(r, 5000).unref())]);
    await journal.append({ event: 'run-end', at: new Date().toISOString(), outcome: 'interrupted', signal: sig });
    await lock.end().catch(() => undefined);
    process.exit(SIGNAL_EXIT[sig]);
  };
  const onSignal = (sig: HandledSignal) => {
    if (interrupted) { void hardStop(); return; }
    interrupted = sig;
    process.stderr.write(`\ninterrupted: cancelling the running step(s) (${sig}); send it again (Ctrl-C) to stop at once\n`);
    abort.abort(sig);
    signalOwnChildren(sig);
    void cancelServerWork();
    setTimeout(() => { void hardStop(); }, 10_000).unref();
  };
  const offSignal = onInterrupt(onSignal);
  const headroom = parseHeadroom(rb.front.headroom);
  const stepsToRun = rb.steps.filter((s) => (o.rollbackOnly ? s.rollback : !s.rollback));
  const expected = (s: Step) => (o.mode === 'run' ? expectedDuration(s, o.timings) : undefined);


  // listr2 draws the live task list only on a terminal (else its plain renderer prints every output).
  const live = (o.renderer ?? 'default') === 'default' && process.stdout.isTTY === true;
  const plainEvery = plainIntervalMs();
  const stepTask = (s: Step, budgetShare?: () => ActionContext['budgetShare']): ListrTask<Ctx> => {
    const rehearsed = o.timings?.steps.find((t) => t.id === s.id)?.durationMs;
    return {
      title: `${s.title}${o.mode === 'run' && rehearsed !== undefined ? ` (rehearsed ${humanDuration(rehearsed)})` : ''}`,
      task: async (_ctx, task) => {
        if (finished.has(s.id) && !o.rollbackOnly) {
          // Shown as "↓ <title> [SKIPPED: done at 14:58:03]": the journal says it finished (local time).
          task.skip(`done at ${new Date(finished.get(s.id)!.at).toTimeString().slice(0, 8)}`);
          return;
        }
        if (interrupted) throw new CutoverError('E_USAGE', `interrupted (${interrupted})`);
        const startedAt = new Date().toISOString();
        const t0 = Date.now();
        running.set(s.id, { startedAt, t0 });
        await journal.append({ event: 'step-start', at: startedAt, id: s.id, hash: s.hash });
        let progressText: ProgressText = '';
        const logLines: string[] = [];
        // The step's whole output, passwords scrubbed, in logs/<step>.log (appended on a resume).
        const logRel = join('logs', `${s.id}.log`);
        mkdirSync(join(o.stateDir, 'logs'), { recursive: true, mode: 0o700 });
        const secrets = [o.source.password, o.target.password, o.pooler?.password];
        let progressLoggedAt = 0;
        const toLog = (t: string) => appendFileSync(join(o.stateDir, logRel), `${new Date().toISOString()} ${scrub(t, secrets)}\n`, { mode: 0o600 });
        toLog(`--- ${s.id}: ${s.title} (line ${s.line}) started`);
        // On a terminal the step's output is redrawn every second; as plain lines (a pipe, CI) only every
        // plainIntervalMs, or the log would get a line a second per running step.
        let shownAt = Date.now();
        const ticker = setInterval(() => {
          const el = Date.now() - t0;
          // The step's log gets the progress every 10 s (a function's text as it is then).
          if (progressText && Date.now() - progressLoggedAt >= 10_000) { progressLoggedAt = Date.now(); toLog(oneLine(resolveText(progressText))); }
          // An overrun is journaled when it happens, whatever the display's cadence.
          const over = rehearsed !== undefined && o.mode === 'run' && el > rehearsed * 1.5;
          if (over && !overrunWarned.has(s.id)) {
            overrunWarned.add(s.id);
            void journal.append({ event: 'warning', at: new Date().toISOString(), id: s.id, message: `running 50% past its rehearsal (${humanDuration(rehearsed)})` });
          }
          if (!live && Date.now() - shownAt < plainEvery) return;
          shownAt = Date.now();
          const [head = '', ...rest] = resolveText(progressText).split('\n');
          let line = `${humanDuration(el)}${head ? ` | ${head}` : ''}`;
          if (rehearsed !== undefined && o.mode === 'run') {
            const remaining = stepsToRun.filter((x) => !finished.has(x.id) && !running.has(x.id) && x.index > s.index).reduce((n, x) => n + (expected(x) ?? 0), 0);
            const eta = new Date(Date.now() + Math.max(0, rehearsed - el) + remaining);
            line += ` | rehearsed ${humanDuration(rehearsed)}, run ETA ${eta.toISOString().slice(11, 16)} UTC`;
            if (over) line = `WARNING: ${Math.round((el / rehearsed - 1) * 100)}% past its rehearsal | ${line}`;
          }
          const text = [line, ...rest].join('\n');
          task.output = live ? text : oneLine(text);
        }, TTY_REFRESH_MS);
        const ctx: ActionContext = {
          stepId: s.id, source: o.source, target: o.target, pooler: o.pooler, stateDir: o.stateDir, runbookDir: dirname(rb.file), headroom, roles: rb.front.roles, budgetShare: budgetShare?.(), signal: abort.signal, measure,
          progress: (t) => { progressText = t; },
          log: (t) => { logLines.push(t); toLog(t); task.output = t; },
        };
        logSinks.add(ctx.log);
        let outputs: StepOutputs | undefined;
        let durationMs = 0;
        let simulated = false;
        let recorded = false;
        try {
          if (s.kind === 'manual') {
            const r = await confirmManual(s, task, o, interactive);
            simulated = r.simulated;
            durationMs = r.simulated ? r.durationMs : Date.now() - t0;
          } else {
            outputs = await executeStep(s, ctx);
            durationMs = Date.now() - t0;
          }
          // A step that finished is recorded as finished, even after Ctrl-C: resume must not run it again.
          toLog(`--- ok in ${humanDuration(durationMs)}${outputs?.summary ? `: ${outputs.summary}` : ''}`);
          for (const st of outputs?.statements ?? []) toLog(st);
          await journal.append({ event: 'step-end', at: new Date().toISOString(), id: s.id, hash: s.hash, outcome: 'ok', startedAt, durationMs, simulated, outputs, log: logRel });
          recorded = true;
          running.delete(s.id);
          if (outputs?.summary && outputs.summary !== logLines.at(-1)) task.output = outputs.summary;
          if (interrupted) throw new CutoverError('E_USAGE', `interrupted (${interrupted})`);
        } catch (e) {
          if (recorded) throw e; // finished and journaled; only the run stops

          const outcome: Outcome = interrupted ? 'interrupted' : 'failed';
          const error = scrub(describeError(e), secrets);
          toLog(`--- ${outcome}: ${error}`);
          const results = resultsOfError(e);
          await journal.append({ event: 'step-end', at: new Date().toISOString(), id: s.id, hash: s.hash, outcome, startedAt, durationMs: Date.now() - t0, error, log: logRel,
            ...(results ? { outputs: { results } } : {}) });
          throw e;
        } finally {
          clearInterval(ticker);
          logSinks.delete(ctx.log);
          running.delete(s.id);
        }
      },
    };
  };
  const overrunWarned = new Set<string>();

  const phaseTasks = (steps: Step[]): ListrTask<Ctx>[] => {
    const phases = [...new Set(steps.map((s) => s.phase))];
    return phases.map((phase) => ({
      title: phase,
      task: (_ctx, task) => task.newListr(units(steps.filter((s) => s.phase === phase)).map((u) => u.length === 1
        ? stepTask(u[0]!)
        : {
          title: `parallel: ${u[0]!.parallel}`,
          // Up to max_parallel steps run at once. The budget is measured once, before any of them opens a
          // connection, and each gets an equal share (measuring per step would race with its siblings).
          task: async (_c: Ctx, t: Task) => {
            const k = Math.min(u.length, rb.front.maxParallel);
            const caps = await capacities({ source: o.source, target: o.target, stepId: `group-${u[0]!.parallel}`, headroom, measure }, { source: true, target: true });
            const part = (c?: Capacity) => (c ? { ...c, available: Math.floor(c.available / k) } : undefined);
            const share = { source: part(caps.source), target: part(caps.target), of: k };
            return t.newListr(u.map((x) => stepTask(x, () => share)), { concurrent: rb.front.maxParallel, exitOnError: true });
          },
        }),
      { concurrent: false, exitOnError: true }),
    }));
  };

  // listr2 writes both its streams through the logger's process output: stderr for both moves all of it.
  const toStderr = o.taskList === 'stderr'
    ? { logger: new ListrLogger({ useIcons: o.renderer !== 'verbose', processOutput: new ProcessOutput(process.stderr, process.stderr) }) } : {};
  const listOptions = {
    concurrent: false, exitOnError: true, registerSignalListeners: false,
    renderer: o.renderer ?? 'default', fallbackRenderer: 'simple',
    rendererOptions: { timer: PRESET_TIMER, collapseSubtasks: false, collapseSkips: false, ...toStderr },
    fallbackRendererOptions: { timer: PRESET_TIMER, ...toStderr },
  } as const;

  let outcome: Outcome = 'ok';
  let error: unknown;
  let rolledBack = false;
  try {
    await new Listr<Ctx>(phaseTasks(stepsToRun), listOptions as never).run();
  } catch (e) {
    error = e;
    outcome = interrupted ? 'interrupted' : 'failed';
  }
  const rollback = rb.steps.filter((s) => s.rollback);
  const wantsRollback = outcome === 'failed' && !o.rollbackOnly && rollback.length > 0;
  if (wantsRollback && !changedAnything(rb, journal)) {
    process.stderr.write('rollback not needed: only read-only checks ran, nothing was changed\n');
  } else if (wantsRollback) {
    const go = o.yes ? true : interactive
      ? await confirm({ message: `The run failed (${describeError(error).split('\n')[0]}). Run the Rollback phase (${rollback.length} step(s))?`, default: false })
      : false;
    if (go) {
      try {
        await new Listr<Ctx>(phaseTasks(rollback), listOptions as never).run();
        rolledBack = true;
      } catch (e) {
        error = new CutoverError('E_CHILD', `the run failed (${describeError(error).split('\n')[0]}) and then the rollback failed too: ${describeError(e)}`, { cause: e });
      }
    } else {
      process.stderr.write(`rollback not run${interactive ? '' : ' (no terminal to confirm; pass --yes, or run `cutover run --rollback` later)'}\n`);
    }
  }
  // Nothing of an interrupted or failed run keeps running on the servers (a statement that ignored its
  // cancel, an index build queued after it).
  if (outcome !== 'ok') await endLeftovers(o);
  await journal.append({ event: 'run-end', at: new Date().toISOString(), outcome, ...(interrupted ? { signal: interrupted } : {}) });
  offSignal();
  installGovernor(undefined);
  const connections = await sampler.stop();
  await lock.end().catch(() => undefined);
  const summary = { ...buildSummary(rb, o.mode, journal.events, outcome), connections };
  await writeFile(join(o.stateDir, 'summary.json'), JSON.stringify(summary, null, 2));
  return { outcome, summary, rolledBack, error, signal: interrupted };
}

/** Terminates this run's sessions other than its control sessions, waiting up to 5 s for them to go. */
async function endLeftovers(o: Pick<RunOptions, 'source' | 'target'>): Promise<void> {
  await Promise.all([o.source, o.target].map((p) => signalOwnSessions(p, { terminate: true, exceptSteps: CONTROL_SESSIONS, waitMs: 5000 }).catch(() => undefined)));
}

/**
 * Ends what a killed run left: its child processes (the sweep of runtime directories whose owner is
 * gone) and its sessions on both servers (terminated, then waited for). Refuses to go on while one stays.
 */
async function endPreviousRun(tag: string, o: Pick<RunOptions, 'source' | 'target'>): Promise<void> {
  const swept = sweepRuntimeDirs();
  const note = (m: string) => process.stderr.write(`note: ${m}\n`);
  if (swept.killed.length) note(`ended ${swept.killed.length} process(es) the interrupted run left running`);
  await endSessionsOfTag(tag, [{ side: 'source', params: o.source }, { side: 'target', params: o.target }], 'the interrupted run', note);
}

async function confirmManual(s: Step, task: Task, o: RunOptions, interactive: boolean): Promise<{ simulated: boolean; durationMs: number }> {
  if (o.yes || (o.mode === 'rehearse' && !interactive && !hasControllingTerminal())) {
    await o.onManual?.({ id: s.id, title: s.title });
    const stated = s.estimateMs ?? o.manualDurationMs ?? 0;
    task.output = o.mode === 'rehearse' ? `auto-confirmed, counted as ${humanDuration(stated)}` : 'confirmed by --yes';
    return { simulated: o.mode === 'rehearse', durationMs: o.mode === 'rehearse' ? stated : 0 };
  }
  if (!interactive) {
    // Output piped (| tee night.log) with a person at the terminal: asked there.
    if (hasControllingTerminal()) {
      task.output = 'waiting for the answer on the terminal';
      if (!(await askOnTerminal(`${s.title}: done?`))) throw new CutoverError('E_USAGE', `manual step "${s.title}" was not confirmed`);
      return { simulated: false, durationMs: 0 };
    }
    throw new CutoverError('E_USAGE', `manual step "${s.title}" needs a confirmation`, { hint: 'run on a terminal to confirm it, or pass --yes' });
  }
  const ok = await task.prompt(ListrInquirerPromptAdapter).run(confirm, { message: `${s.title}: done?`, default: true });
  if (!ok) throw new CutoverError('E_USAGE', `manual step "${s.title}" was not confirmed`);
  return { simulated: false, durationMs: 0 };
}

/** summary.json from the journal: this run's steps plus those finished in earlier (resumed) runs. */
export function buildSummary(rb: Runbook, mode: Mode, events: JournalEvent[], outcome: Outcome): RunSummary {
  const ends = new Map<string, Extract<JournalEvent, { event: 'step-end' }>>();
  for (const e of events) if (e.event === 'step-end') ends.set(e.id, e);
  const starts = [...ends.values()].map((e) => Date.parse(e.startedAt));
  const t0 = starts.length ? Math.min(...starts) : Date.now();
  // Simulated manual steps take no wall time: lay steps out on a timeline that adds their stated time.
  let shift = 0;
  const steps: StepTiming[] = [];
  for (const s of rb.steps) {
    const e = ends.get(s.id);
    if (!e) continue;
    const startMs = Date.parse(e.startedAt) - t0 + shift;
    if (e.simulated) shift += e.durationMs;
    steps.push({
      id: s.id, title: s.title, phase: s.phase, kind: s.kind, action: s.action, side: sideOf(s), startMs, durationMs: e.durationMs,
      outcome: e.outcome, simulated: e.simulated, ...outputsOf(e.outputs),
    });
  }
  const byId = new Map(steps.map((s) => [s.id, s]));
  const outage = projectOutage(rb, (s) => byId.get(s.id)?.durationMs ?? s.estimateMs);
  const inOutage = outageSteps(rb).map((s) => byId.get(s.id)).filter((x): x is StepTiming => x !== undefined);
  const measuredMs = inOutage.length ? Math.max(...inOutage.map((s) => s.startMs + s.durationMs)) - Math.min(...inOutage.map((s) => s.startMs)) : undefined;
  const phases = rb.phases.filter((p) => steps.some((s) => s.phase === p)).map((p) => {
    const ps = steps.filter((s) => s.phase === p);
    return { phase: p, durationMs: Math.max(...ps.map((s) => s.startMs + s.durationMs)) - Math.min(...ps.map((s) => s.startMs)) };
  });
  const endMs = steps.length ? Math.max(...steps.map((s) => s.startMs + s.durationMs)) : 0;
  return {
    runbook: rb.file, name: rb.front.name, mode, startedAt: new Date(t0).toISOString(), endedAt: new Date(t0 + endMs).toISOString(), outcome,
    durationMs: endMs, steps, outage: { ...outage, measuredMs, outageIds: outageSteps(rb).map((x) => x.id) }, phases,
  };
}

/** Whether any step that can change something started, in this run or an earlier one it resumes. */
function changedAnything(rb: Runbook, journal: RunJournal): boolean {
  const started = journal.startedSteps();
  const readOnly = (s: Step) => s.kind === 'action' && ACTIONS.get(s.action ?? '')?.readOnly === true;
  return rb.steps.some((s) => !s.rollback && started.has(s.id) && !readOnly(s));
}

/**
 * `cutover run` / `cutover rehearse`, the library side: one journaled step at a time (parallel groups
 * concurrently, up to max_parallel) scheduled as a listr2 task list, manual steps confirmed through the
 * caller's `confirm` hook (or `yes`), a per-target lock, resume from the journal, the Rollback phase on
 * failure (after confirmation) or on demand, ETAs from a rehearsal, and summary.json at the end.
 * It never prompts, prints or exits: it reports through its events (events.ts), asks through `confirm`,
 * and stops when the caller's AbortSignal fires; the CLI draws the task list (`renderer`), asks on the
 * terminal and owns the process's signals and exit codes (src/cli/run-session.ts).
 */
import { Listr, ListrLogger, PRESET_TIMER, ProcessOutput, type ListrTask } from 'listr2';
import { mkdir, writeFile } from 'node:fs/promises';
import { appendFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { CutoverError, describeError } from '../errors.js';
import { scrub } from '../pg/conninfo.js';
import { type Capacity, parseHeadroom } from '../budget/capacity.js';
import { capacities } from './actions/common.js';
import { humanDuration } from '../lib/format.js';
import { type ProgressText, TTY_REFRESH_MS, oneLine, plainIntervalMs, resolveText } from '../lib/progress.js';
import { ACTIONS, type ActionContext, type StepOutputs, stepEndpoints } from './actions/index.js';
import { executeStep } from './execute.js';
import { resultsOfError } from './key-results.js';
import { RunJournal, type Outcome, type JournalEvent } from './journal.js';
import { acquireRunLock } from './lock.js';
import { type Bindings, refuseOtherDatabases } from './binding.js';
import { readBindingsLenient } from '../pg/bound-state.js';
import type { HandledSignal } from '../lib/signals.js';
import { signalOwnChildren, sweepRuntimeDirs } from '../lib/runtime-dir.js';
import { ensureSessionTag } from '../pg/session-tag.js';
import { endSessionsOfTag, signalOwnSessions } from '../pg/own-sessions.js';
import { ConnectionSampler } from '../budget/sampler.js';
import { Governor } from '../budget/governor.js';
import { withAdmissionPolicy } from '../pg/admission.js';
import { RunEmitter, type StepRef } from './events.js';
import { type ConfirmAnswer, type ConfirmRequest, type Ctx, RunInterruptedError, type StepTask as Task, signalOf } from './hooks.js';

export { type ConfirmAnswer, type ConfirmRequest, RunInterruptedError, type StepTask } from './hooks.js';
import type { RunContext } from './context.js';
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
  /** The endpoints the front matter names beside those (connections.reporting -> named.reporting). */
  named?: Readonly<Record<string, Endpoint>>;
  stateDir: string;
  /** Confirm manual steps and the rollback without asking. */
  yes?: boolean;
  /** Asks the person running it (manual steps, the rollback after a failure). Without it (and `yes`) a manual step fails and no rollback runs. */
  confirm?: (q: ConfirmRequest) => Promise<ConfirmAnswer>;
  /** Where the run reports (steps, progress, notes, warnings); a fresh one if not given. */
  events?: RunEmitter;
  /**
   * Interrupts the run: nothing new starts, running steps are cancelled (their shell process groups get
   * the signal, their statements are cancelled on the servers), and the run ends by itself, journaled,
   * with outcome `interrupted`. A reason that is a signal name (SIGINT, SIGTERM, SIGHUP) is journaled.
   */
  signal?: AbortSignal;
  /**
   * After `signal`: stop at once. The steps still running are journaled as interrupted, child processes
   * killed, the run's sessions ended, the run's end journaled and the lock released; then `runRunbook`
   * rejects with a RunInterruptedError (`immediate`) without waiting for the steps (the CLI exits then).
   */
  stopNow?: AbortSignal;
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
  /**
   * How the task list is drawn (listr2's renderers): the library draws nothing by default (`silent`); the
   * CLI asks for `default` (live, on a terminal) or plain lines.
   */
  renderer?: 'default' | 'simple' | 'verbose' | 'silent';
  /** Whether the drawn task list is live (redrawn in place): progress is shown every second, else every plainIntervalMs. */
  live?: boolean;
  /** Where a drawn task list goes (default stdout; the CLI's --json keeps stdout for its document). */
  taskList?: 'stdout' | 'stderr';
  /** The identities of source and target, if the caller read them already (the CLI does, for the state directory). */
  bindings?: Partial<Bindings>;
}


/** `signal`: the signal that interrupted the run (SIGINT, SIGTERM or SIGHUP), if its abort reason was one. */
export interface RunResult { outcome: Outcome; summary: RunSummary; rolledBack: boolean; error?: unknown; signal?: HandledSignal }


/** The run's own control sessions, never cancelled by its interruption. */
const CONTROL_SESSIONS = ['run-lock', 'sampler'];



export async function runRunbook(o: RunOptions): Promise<RunResult> {
  const rb = o.runbook;
  const events = o.events ?? new RunEmitter();
  // Every endpoint a step names is given, before anything (the journal included) is touched.
  const given = new Set(['source', 'target', ...(o.pooler ? ['pooler'] : []), ...Object.keys(o.named ?? {})]);
  const missing = rb.steps.flatMap((s) => stepEndpoints(s).filter((n) => !given.has(n)).map((n) => `${s.id} (line ${s.line}) uses ${n}`));
  if (missing.length) throw new CutoverError('E_USAGE', `no connection for: ${missing.join('; ')}`, { hint: 'give every endpoint the runbook\'s steps name (RunOptions.named; the CLI resolves them from the front matter\'s connections)' });
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
    if (previous && !endedBefore && previous.tag && previous.tag !== tag) await endPreviousRun(previous.tag, o, (text) => events.emit('note', { text }));
  } catch (e) {
    if (journal.lastStart?.tag === tag) await journal.append({ event: 'run-end', at: new Date().toISOString(), outcome: 'failed' }).catch(() => undefined);
    await lock.end().catch(() => undefined);
    throw e;
  }
  // The runtime guard: every connection the run opens is admitted against what the sampler last saw.
  const gov = new Governor({ onNote: (text) => events.emit('budget', { text }) });
  const sampler = await ConnectionSampler.start({ source: o.source, target: o.target }, { headroom: parseHeadroom(rb.front.headroom), governor: gov });
  const measure = (side: 'source' | 'target') => sampler.capacity(side, parseHeadroom(rb.front.headroom));
  const abort = new AbortController();
  const endpoints = { ...o.named, source: o.source, target: o.target, ...(o.pooler ? { pooler: o.pooler } : {}) };
  const run: RunContext = { source: o.source, target: o.target, pooler: o.pooler, endpoints, stateDir: o.stateDir, governor: gov, journal, signal: abort.signal, events };
  /** What interrupted the run (a signal's name, or the abort's reason), once it was. */
  let interrupted: string | undefined;
  // Server-side work of this run (its sessions carry the run's tag), index builds included.
  const cancelServerWork = () => Promise.all([o.source, o.target].map((p) => signalOwnSessions(p, { exceptSteps: CONTROL_SESSIONS }).catch(() => undefined)));
  const running = new Map<string, { startedAt: string; t0: number }>();
  // The caller's abort (the CLI's first SIGINT, SIGTERM or SIGHUP): start nothing new, signal the running
  // shell steps' process groups, cancel the run's statements on both servers; the run ends by itself with
  // the journal up to date. `stopNow` (a second signal, or 10 s without an end) ends it at once after
  // journaling the steps still running as interrupted (and ending what is left).
  let stoppedAt: ((e: RunInterruptedError) => void) | undefined;
  const stoppedNow = new Promise<never>((_, reject) => { stoppedAt = reject; });
  stoppedNow.catch(() => undefined);
  const hardStop = async () => {
    const sig = signalOf(o.signal?.reason) ?? 'SIGINT';
    for (const [id, r] of running) {
      await journal.append({ event: 'step-end', at: new Date().toISOString(), id, hash: rb.steps.find((x) => x.id === id)?.hash ?? '', outcome: 'interrupted', startedAt: r.startedAt, durationMs: Date.now() - r.t0 });
    }
    signalOwnChildren('SIGKILL');
    await Promise.race([endLeftovers(o), new Promise((r) => setTimeout(r, 5000).unref())]);
    await journal.append({ event: 'run-end', at: new Date().toISOString(), outcome: 'interrupted', signal: interrupted ?? sig });
    journal.close();
    await lock.end().catch(() => undefined);
    stoppedAt?.(new RunInterruptedError(interrupted ?? sig, signalOf(o.signal?.reason) ?? sig, true));
  };
  const onAbort = () => {
    if (interrupted) return;
    const reason: unknown = o.signal?.reason;
    interrupted = signalOf(reason) ?? (reason instanceof Error ? reason.message : typeof reason === 'string' ? reason : 'aborted');
    events.emit('interrupt', { reason: interrupted });
    abort.abort(reason);
    signalOwnChildren(signalOf(reason) ?? 'SIGTERM');
    void cancelServerWork();
  };
  const onStopNow = () => { onAbort(); void hardStop(); };
  if (o.signal?.aborted) onAbort(); else o.signal?.addEventListener('abort', onAbort, { once: true });
  if (o.stopNow?.aborted) onStopNow(); else o.stopNow?.addEventListener('abort', onStopNow, { once: true });
  const offSignal = () => { o.signal?.removeEventListener('abort', onAbort); o.stopNow?.removeEventListener('abort', onStopNow); };
  events.emit('run-start', { tag, stateDir: o.stateDir });
  const headroom = parseHeadroom(rb.front.headroom);
  const stepsToRun = rb.steps.filter((s) => (o.rollbackOnly ? s.rollback : !s.rollback));
  const expected = (s: Step) => (o.mode === 'run' ? expectedDuration(s, o.timings) : undefined);


  // listr2 draws the live task list only on a terminal (else its plain renderer prints every output).
  const live = (o.renderer ?? 'silent') === 'default' && o.live === true;
  const plainEvery = plainIntervalMs();
  const stepTask = (s: Step, budgetShare?: () => ActionContext['budgetShare']): ListrTask<Ctx> => {
    const rehearsed = o.timings?.steps.find((t) => t.id === s.id)?.durationMs;
    return {
      title: `${s.title}${o.mode === 'run' && rehearsed !== undefined ? ` (rehearsed ${humanDuration(rehearsed)})` : ''}`,
      task: async (_ctx, task) => {
        if (finished.has(s.id) && !o.rollbackOnly) {
          // Shown as "↓ <title> [SKIPPED: done at 14:58:03]": the journal says it finished (local time).
          const reason = `done at ${new Date(finished.get(s.id)!.at).toTimeString().slice(0, 8)}`;
          events.emit('step-skip', { step: ref(s), reason });
          task.skip(reason);
          return;
        }
        if (interrupted) throw new CutoverError('E_USAGE', `interrupted (${interrupted})`);
        const startedAt = new Date().toISOString();
        const t0 = Date.now();
        running.set(s.id, { startedAt, t0 });
        await journal.append({ event: 'step-start', at: startedAt, id: s.id, hash: s.hash });
        events.emit('step-start', { step: ref(s), at: startedAt });
        let progressText: ProgressText = '';
        const logLines: string[] = [];
        // The step's whole output, passwords scrubbed, in logs/<step>.log (appended on a resume).
        const logRel = join('logs', `${s.id}.log`);
        mkdirSync(join(o.stateDir, 'logs'), { recursive: true, mode: 0o700 });
        const secrets = Object.values(endpoints).map((e) => e.password);
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
            events.emit('warning', { stepId: s.id, message: `running 50% past its rehearsal (${humanDuration(rehearsed)})` });
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
        // The step reports through the run's events; its log file and its line in the task list subscribe.
        const shown = (t: string) => { logLines.push(t); toLog(t); task.output = t; };
        const subscriptions = [
          events.on('progress', (e) => { if (e.stepId === s.id) progressText = e.text; }),
          events.on('note', (e) => { if (e.stepId === s.id) shown(e.text); }),
          // The governor's waits concern every running step: each one's log and line get them.
          events.on('budget', (e) => shown(e.text)),
        ];
        const ctx: ActionContext = {
          ...run, stepId: s.id, runbookDir: dirname(rb.file), headroom, roles: rb.front.roles, budgetShare: budgetShare?.(), measure,
          progress: (text) => events.emit('progress', { stepId: s.id, text }),
          log: (text) => events.emit('note', { stepId: s.id, text }),
        };
        let outputs: StepOutputs | undefined;
        let durationMs = 0;
        let simulated = false;
        let recorded = false;
        try {
          if (s.kind === 'manual') {
            const r = await confirmManual(s, task, o);
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
          events.emit('step-end', { step: ref(s), outcome: 'ok', durationMs, outputs });
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
          events.emit('step-end', { step: ref(s), outcome, durationMs: Date.now() - t0, error: e, ...(results ? { outputs: { results } } : {}) });
          throw e;
        } finally {
          clearInterval(ticker);
          for (const off of subscriptions) off();
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
      task: (_ctx, task) => (events.emit('phase', { phase, rollback: steps[0]?.rollback === true }), task.newListr(units(steps.filter((s) => s.phase === phase)).map((u) => u.length === 1
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
      { concurrent: false, exitOnError: true })),
    }));
  };

  // listr2 writes both its streams through the logger's process output: stderr for both moves all of it.
  const toStderr = o.taskList === 'stderr'
    ? { logger: new ListrLogger({ useIcons: o.renderer !== 'verbose', processOutput: new ProcessOutput(process.stderr, process.stderr) }) } : {};
  const listOptions = {
    concurrent: false, exitOnError: true, registerSignalListeners: false,
    renderer: o.renderer ?? 'silent', fallbackRenderer: o.renderer === 'silent' || !o.renderer ? 'silent' : 'simple',
    rendererOptions: { timer: PRESET_TIMER, collapseSubtasks: false, collapseSkips: false, ...toStderr },
    fallbackRendererOptions: { timer: PRESET_TIMER, ...toStderr },
  } as const;

  // The journal keeps the run's warnings (a step past its rehearsal) as they happen.
  const offJournal = events.on('warning', (w) => { void journal.append({ event: 'warning', at: new Date().toISOString(), id: w.stepId, message: w.message }); });
  // Every connection the steps open is admitted by this run's governor (in the run's async context only).
  const body = async (): Promise<RunResult> => {
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
      events.emit('rollback', { decision: 'not-needed', steps: rollback.length });
    } else if (wantsRollback) {
      const go = o.yes ? true : o.confirm
        ? (await o.confirm({ kind: 'rollback', message: `The run failed (${describeError(error).split('\n')[0]}). Run the Rollback phase (${rollback.length} step(s))?`, steps: rollback.length, error })) !== 'no'
        : false;
      events.emit('rollback', { decision: go ? 'run' : 'declined', steps: rollback.length });
      if (go) {
        try {
          await new Listr<Ctx>(phaseTasks(rollback), listOptions as never).run();
          rolledBack = true;
        } catch (e) {
          error = new CutoverError('E_CHILD', `the run failed (${describeError(error).split('\n')[0]}) and then the rollback failed too: ${describeError(e)}`, { cause: e });
        }
      }
    }
    // Nothing of an interrupted or failed run keeps running on the servers (a statement that ignored its
    // cancel, an index build queued after it).
    if (outcome !== 'ok') await endLeftovers(o);
    await journal.append({ event: 'run-end', at: new Date().toISOString(), outcome, ...(interrupted ? { signal: interrupted } : {}) });
    offSignal();
    offJournal();
    events.emit('run-end', { outcome });
    const connections = await sampler.stop();
    await lock.end().catch(() => undefined);
    const summary = { ...buildSummary(rb, o.mode, journal.events, outcome), connections };
    await writeFile(join(o.stateDir, 'summary.json'), JSON.stringify(summary, null, 2));
    const signal = signalOf(o.signal?.reason);
    if (interrupted) error = new RunInterruptedError(interrupted, signal, false, error);
    return { outcome, summary, rolledBack, error, signal: interrupted ? signal : undefined };
  };
  return Promise.race([withAdmissionPolicy(gov, body), stoppedNow]);
}

/** Terminates this run's sessions other than its control sessions, waiting up to 5 s for them to go. */
async function endLeftovers(o: Pick<RunOptions, 'source' | 'target'>): Promise<void> {
  await Promise.all([o.source, o.target].map((p) => signalOwnSessions(p, { terminate: true, exceptSteps: CONTROL_SESSIONS, waitMs: 5000 }).catch(() => undefined)));
}

/**
 * Ends what a killed run left: its child processes (the sweep of runtime directories whose owner is
 * gone) and its sessions on both servers (terminated, then waited for). Refuses to go on while one stays.
 */
async function endPreviousRun(tag: string, o: Pick<RunOptions, 'source' | 'target'>, note: (m: string) => void): Promise<void> {
  const swept = sweepRuntimeDirs();
  if (swept.killed.length) note(`ended ${swept.killed.length} process(es) the interrupted run left running`);
  await endSessionsOfTag(tag, [{ side: 'source', params: o.source }, { side: 'target', params: o.target }], 'the interrupted run', note);
}

/**
 * A manual step: confirmed by `yes` or the caller's `confirm` hook (which may itself throw, e.g. when
 * nobody can answer). Confirmed without a person (`yes`, or `auto`), `onManual` does its work and a
 * rehearsal counts its stated time.
 */
async function confirmManual(s: Step, task: Task, o: RunOptions): Promise<{ simulated: boolean; durationMs: number }> {
  const answer: ConfirmAnswer | undefined = o.yes ? 'auto' : await o.confirm?.({ kind: 'manual', step: ref(s), mode: o.mode, message: `${s.title}: done?`, task });
  if (answer === 'auto') {
    await o.onManual?.({ id: s.id, title: s.title });
    const stated = s.estimateMs ?? o.manualDurationMs ?? 0;
    task.output = o.mode === 'rehearse' ? `auto-confirmed, counted as ${humanDuration(stated)}` : 'confirmed by --yes';
    return { simulated: o.mode === 'rehearse', durationMs: o.mode === 'rehearse' ? stated : 0 };
  }
  if (answer === 'yes') return { simulated: false, durationMs: 0 };
  if (answer === 'no') throw new CutoverError('E_USAGE', `manual step "${s.title}" was not confirmed`);
  throw new CutoverError('E_USAGE', `manual step "${s.title}" needs a confirmation`, { hint: 'pass `yes: true`, or a `confirm` hook that asks someone' });
}

const ref = (s: Step): StepRef => ({ id: s.id, title: s.title });

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

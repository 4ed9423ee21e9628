/**
 * The built-in demo: two throwaway servers (different major versions when available), the sample database
 * on the source, an application role writing to it without pause, and runbooks/online-cutover.md
 * rehearsed against them end to end: doctor, budget, change capture, the streaming copy, catch up, the
 * fence, drain, sequences, verify, teardown. Prints the timing report, the measured write outage and the
 * verify result. Needs no existing database; every role authenticates with a password (SCRAM).
 */
import { type HandledSignal, SIGNAL_EXIT, gracefulStop, onInterrupt } from './interrupt.js';
import { fileURLToPath } from 'node:url';
import { join, resolve } from 'node:path';
import { rm, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { availableMajors, startClusters, stopAllClusters, createSampleDatabase, createSampleWriter, startWorkload, type Workload, type WorkloadStats } from '../testing/index.js';
import { rollback, type RollbackResult } from '../replicate/rollback.js';
import { redact } from '../pg/conninfo.js';
import { EXIT, describeError } from '../errors.js';
import { loadRunbook } from '../runbook/parse.js';
import { RunInterruptedError, runRunbook } from '../runbook/runner.js';
import { RunEmitter } from '../runbook/events.js';
import { renderRunbook } from '../runbook/render.js';
import { fencedOutageMs, outageText, writeReport } from '../runbook/report.js';
import { findClientTools } from '../pg/tools.js';
import { humanDuration, table } from '../lib/format.js';
import { statedMs, type RunSummary } from '../runbook/timings.js';
import type { Outcome } from '../runbook/journal.js';
import { resolveEndpoint } from '../pg/endpoint.js';

export interface DemoOptions {
  rows?: number;
  sourceVersion?: number;
  targetVersion?: number;
  /** Concurrent application writers on the source (default 2). */
  writers?: number;
  /** Where the journal, summary, report and rendered checklist go. */
  outDir?: string;
  /**
   * Password of the servers' superuser; the application role gets it with "-app" appended. Random by
   * default (CUTOVER_DEMO_PASSWORD sets it, so a test can search everything the demo leaves for it).
   */
  password?: string;
  log: (m: string) => void;
  /** Where the rehearsal's task list goes (default stdout). */
  taskList?: 'stdout' | 'stderr';
}

/** What the demo measured (the CLI's --json document); `exitCode` is the command's exit status. */
export interface DemoResult {
  exitCode: number;
  outcome: Outcome;
  error?: unknown;
  outDir: string;
  sourceVersion: number;
  targetVersion: number;
  rows: number;
  writers: number;
  /** The rehearsal, without the manual steps' stated durations. */
  durationMs: number;
  writeOutageMs?: number;
  applicationCommits: number;
  verify?: string;
  rollback?: { outageMs: number; drainedEvents: number; verify?: string };
  files: { summary: string; markdown: string; report: string; timeline: string; checklist: string };
}

export const DEMO_RUNBOOK = fileURLToPath(new URL('../../runbooks/online-cutover.md', import.meta.url));
/** The role the sample application writes as; online-cutover.md's fence stops it (and every other writer). */
const APP_ROLE = 'app_writer';

export async function runDemo(o: DemoOptions): Promise<DemoResult> {
  const majors = await availableMajors();
  // pg_dump must be at least as new as the source: the demo's source is the newest server it can dump.
  const pgDump = (await findClientTools('pg_dump'))[0]?.major ?? 15;
  const sourceVersion = o.sourceVersion ?? majors.filter((m) => m <= pgDump)[0] ?? majors[0] ?? 15;
  const targetVersion = o.targetVersion ?? majors.at(-1) ?? 15;
  const outDir = resolve(o.outDir ?? join('.cutover', 'demo'));
  const password = o.password || randomBytes(12).toString('base64url');
  const rows = o.rows ?? 20000;
  await rm(outDir, { recursive: true, force: true });
  o.log(`demo: starting PostgreSQL ${sourceVersion} (source) and ${targetVersion} (target) in temporary directories (password authentication)...`);
  // A signal before or after the rehearsal stops the servers; during it, the rehearsal's own handler (it
  // registers later, so it comes first) ends it gracefully and the demo cleans up after it.
  const stop = (sig: HandledSignal) => { void stopAllClusters().finally(() => process.exit(SIGNAL_EXIT[sig])); };
  const offSignal = onInterrupt(stop);
  let load: Workload | undefined;
  try {
    const [source, target] = await startClusters([{ version: sourceVersion, password }, { version: targetVersion, password }]);
    await source!.createDatabase('shop');
    await target!.createDatabase('shop');
    o.log(`demo: loading the sample database (${rows} base rows: every common type, hostile names, partitions, foreign keys)`);
    await createSampleDatabase(source!.url('shop'), { rows });
    const appUrl = await createSampleWriter(source!, 'shop', APP_ROLE, `${password}-app`);
    o.log(`demo: source ${redact(source!.params('shop'))}\ndemo: target ${redact(target!.params('shop'))}`);

    load = startWorkload({ url: appUrl, clients: o.writers ?? 2, pauseMs: 2 });
    await load.waitForCommits(50);
    o.log(`demo: the application (role ${APP_ROLE}, ${o.writers ?? 2} connections) is writing: inserts, updates, key changes, deletes, truncates`);
    o.log(`demo: cutover rehearse ${DEMO_RUNBOOK} --yes\n`);
    const rb = await loadRunbook(DEMO_RUNBOOK);
    // The rollback window, rehearsed: at the switch the application moves to the target; while the
    // window is watched it writes there, then the rollback brings every write back to the source.
    let app: WorkloadStats | undefined;
    let onTarget: Workload | undefined;
    let back: RollbackResult | undefined;
    const onManual = async (step: { id: string }) => {
      if (step.id.startsWith('switch-the-application')) {
        app = await load!.stop();
        load = undefined;
        const url = await createSampleWriter(target!, 'shop', APP_ROLE, `${password}-app`);
        onTarget = startWorkload({ url, clients: o.writers ?? 2, pauseMs: 2 });
        await onTarget.waitForCommits(50);
        o.log(`demo: the application now writes to the target (${o.writers ?? 2} connections); the source stays fenced`);
      } else if (step.id.startsWith('watch-the-application') && onTarget) {
        await onTarget.waitForCommits(100);
        o.log('demo: rehearsing the rollback while the application writes to the target: cutover replicate rollback');
        back = await rollback({ source: source!.params('shop'), target: target!.params('shop'), fence: 'triggers', verify: 'incremental', onNote: () => undefined });
        const moved = await onTarget.stop();
        onTarget = undefined;
        o.log(`demo: rollback write outage ${humanDuration(back.outageMs)} (target fenced to source verified and unfenced); ` +
          `${moved.commits} transactions written on the target, ${back.drainedEvents} events drained in the fence; ${back.verify ? `verify ${back.verify.level}: identical` : ''}`);
      }
    };
    // During the rehearsal a signal stops it gracefully (a second one at once), then the demo cleans up.
    const graceful = gracefulStop({ onFirst: (sig) => process.stderr.write(`\ninterrupted: cancelling the running step(s) (${sig}); send it again (Ctrl-C) to stop at once\n`), idle: stop });
    const events = new RunEmitter();
    events.on('run-start', () => graceful.arm(true));
    events.on('run-end', () => graceful.arm(false));
    const r = await runRunbook({ events,
      runbook: rb, mode: 'rehearse', source: await resolveEndpoint(source!.params('shop')), target: await resolveEndpoint(target!.params('shop')),
      stateDir: outDir, yes: true, fresh: true, manualDurationMs: 0, onManual, taskList: o.taskList,
      renderer: 'default', live: process.stdout.isTTY === true, signal: graceful.signal, stopNow: graceful.stopNow,
    }).catch((e: unknown) => {
      if (e instanceof RunInterruptedError && e.immediate) process.exit(SIGNAL_EXIT[e.signal ?? 'SIGINT']);
      throw e;
    }).finally(async () => { graceful.off(); await onTarget?.stop(); });
    app ??= await load?.stop();
    load = undefined;
    if (!app) throw new Error('the demo application did not run');
    const files = await writeReport(outDir, r.summary);
    const checklist = join(outDir, 'checklist.html');
    await writeFile(checklist, renderRunbook(rb, 'html', r.summary));
    o.log(`\n${stepTable(r.summary)}\n`);
    const stated = statedMs(r.summary);
    o.log(`demo: rehearsal ${r.outcome} in ${humanDuration(r.summary.durationMs - stated)}${stated ? ` (the report adds the manual steps' stated ${humanDuration(stated)})` : ''}.`);
    const fenced = fencedOutageMs(r.summary);
    if (fenced !== undefined) o.log(`demo: write outage measured ${humanDuration(fenced)} (fence to verified); the application committed ${app.commits} transactions before the fence${app.fenced ? ' and was stopped by it' : ''}.`);
    o.log(`demo: ${outageText(r.summary)}`);
    const proof = /verify \w+: identical \([^)]*\)/.exec(r.summary.steps.find((s) => s.action === 'replicate-cutover')?.summary ?? '')?.[0];
    o.log(`demo: ${proof ?? 'verify: not reached'} (before the application was switched)`);
    o.log(back ? `demo: rollback window rehearsed: write outage of the rollback ${humanDuration(back.outageMs)}, nothing written on the target lost (verify ${back.verify?.level ?? 'none'}: identical)` : 'demo: rollback window: not reached');
    o.log(`demo: report ${files[1]} (markdown ${files[0]}), timeline ${files[2]}, checklist with rehearsed timings ${checklist}`);
    if (r.outcome !== 'ok') o.log(`demo: failed: ${describeError(r.error)}`);
    return {
      exitCode: r.outcome === 'ok' ? EXIT.ok : EXIT.stepFailed, outcome: r.outcome, error: r.error, outDir, sourceVersion, targetVersion, rows,
      writers: o.writers ?? 2, durationMs: r.summary.durationMs - stated, writeOutageMs: fenced, applicationCommits: app.commits, verify: proof,
      rollback: back ? { outageMs: back.outageMs, drainedEvents: back.drainedEvents, verify: back.verify ? `verify ${back.verify.level}: identical` : undefined } : undefined,
      files: { summary: join(outDir, 'summary.json'), markdown: files[0]!, report: files[1]!, timeline: files[2]!, checklist },
    };
  } finally {
    await load?.stop();
    offSignal();
    await stopAllClusters();
  }
}

function stepTable(s: RunSummary): string {
  return table(['step', 'phase', 'duration', 'outcome', 'result'],
    s.steps.map((t) => [t.id, t.phase, `${humanDuration(t.durationMs)}${t.simulated ? ' (stated)' : ''}`, t.outcome, t.summary ?? '']));
}

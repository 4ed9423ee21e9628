/**
 * The CLI side of a runbook run (runbook/runner.ts is the library side, which never prints, prompts or
 * exits): which task list to draw and where, the questions asked on the terminal (manual steps, the
 * rollback), the run's own notes on stderr, and the process's signals (a graceful stop, then at once).
 */
import { ListrInquirerPromptAdapter } from '@listr2/prompt-adapter-inquirer';
import { confirm } from '@inquirer/prompts';
import { CutoverError } from '../errors.js';
import { askOnTerminal, hasControllingTerminal } from '../lib/terminal.js';
import { gracefulStop } from './interrupt.js';
import { RunEmitter } from '../runbook/events.js';
import type { ConfirmAnswer, ConfirmRequest, RunOptions } from '../runbook/runner.js';

export type RunSessionOptions = Pick<RunOptions, 'renderer' | 'live' | 'taskList' | 'confirm' | 'events' | 'signal' | 'stopNow'>;

export interface RunSession {
  options: RunSessionOptions;
  /** Gives the process's signals back (after the run). */
  close(): void;
}

export function cliRunSession(o: { renderer?: 'default' | 'simple' | 'verbose'; taskList: 'stdout' | 'stderr' }): RunSession {
  const interactive = process.stdin.isTTY === true && process.stdout.isTTY === true;
  const events = new RunEmitter();
  const say = (t: string) => { process.stderr.write(t); };
  events.on('note', (e) => { if (!e.stepId) say(`note: ${e.text}\n`); });
  events.on('rollback', (e) => {
    if (e.decision === 'not-needed') say('rollback not needed: only read-only checks ran, nothing was changed\n');
    if (e.decision === 'declined') say(`rollback not run${interactive ? '' : ' (no terminal to confirm; pass --yes, or run `cutover run --rollback` later)'}\n`);
  });
  const stop = gracefulStop({ onFirst: (sig) => say(`\ninterrupted: cancelling the running step(s) (${sig}); send it again (Ctrl-C) to stop at once\n`) });
  // The run stops itself gracefully only while it is under way; before and after, a signal stops the command.
  events.on('run-start', () => stop.arm(true));
  events.on('run-end', () => stop.arm(false));
  const renderer = o.renderer ?? 'default';
  return {
    options: {
      // listr2 draws live only on a terminal (else its plain renderer prints every output line).
      renderer, live: renderer === 'default' && process.stdout.isTTY === true, taskList: o.taskList,
      events, signal: stop.signal, stopNow: stop.stopNow,
      confirm: (q) => ask(q, interactive),
    },
    close: stop.off,
  };
}

async function ask(q: ConfirmRequest, interactive: boolean): Promise<ConfirmAnswer> {
  if (q.kind === 'rollback') return interactive && await confirm({ message: q.message, default: false }) ? 'yes' : 'no';
  // A rehearsal with nobody to ask (CI): confirmed, counting the step's stated time.
  if (q.mode === 'rehearse' && !interactive && !hasControllingTerminal()) return 'auto';
  if (!interactive) {
    // Output piped (| tee night.log) with a person at the terminal: asked there.
    if (hasControllingTerminal()) {
      q.task.output = 'waiting for the answer on the terminal';
      return await askOnTerminal(q.message) ? 'yes' : 'no';
    }
    throw new CutoverError('E_USAGE', `manual step "${q.step.title}" needs a confirmation`, { hint: 'run on a terminal to confirm it, or pass --yes' });
  }
  return await q.task.prompt(ListrInquirerPromptAdapter).run(confirm, { message: q.message, default: true }) ? 'yes' : 'no';
}

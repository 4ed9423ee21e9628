/**
 * What a runbook run tells its callers, as one typed event stream: the CLI's renderers (the live task list,
 * plain lines, stderr notes) and the step logs subscribe to it. The library itself never prints, prompts or
 * exits; questions go through `RunHooks.confirm`.
 */
import { TypedEmitter } from '../lib/events.js';
import type { ProgressText } from '../lib/progress.js';
import type { Outcome } from './journal.js';
import type { StepOutputs } from './actions/types.js';

export interface StepRef { id: string; title: string }

export type RunEvents = {
  /** The run is under way (its lock held, its start journaled): from here its AbortSignals stop it. */
  'run-start': { tag: string; stateDir: string };
  /** The run's end is journaled (its AbortSignals no longer stop it; summary.json follows). */
  'run-end': { outcome: Outcome };
  /** A task list starts: the main phases, or the Rollback phase after a failure (`rollback: true`). */
  phase: { phase: string; rollback: boolean };
  'step-start': { step: StepRef; at: string };
  /** The step finished in an earlier run (resume): `reason` as shown, e.g. "done at 14:58:03". */
  'step-skip': { step: StepRef; reason: string };
  /** Live progress of a running step (a function is called again at each redraw). */
  progress: { stepId: string; text: ProgressText };
  /** A line worth keeping: a step's note (into its log), or, without `stepId`, one about the run itself. */
  note: { stepId?: string; text: string };
  /** Something the run journals as a warning (a step running 50% past its rehearsal). */
  warning: { stepId: string; message: string };
  /** The connection governor made an opener wait or a worker give back its sessions (into every running step's log). */
  budget: { text: string };
  'step-end': { step: StepRef; outcome: Outcome; durationMs: number; outputs?: StepOutputs; error?: unknown };
  /** After a failure: the Rollback phase is `not-needed` (only read-only checks ran), `declined`, or runs. */
  rollback: { decision: 'not-needed' | 'declined' | 'run'; steps: number };
  /** The run was interrupted (its AbortSignal fired): running steps are being cancelled. */
  interrupt: { reason: string };
};

export class RunEmitter extends TypedEmitter<RunEvents> {}

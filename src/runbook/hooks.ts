/**
 * What a runbook run asks of its caller and how it ends when stopped: the confirm hook's question and
 * answer, the step's entry in the task list a question can be drawn in, and the typed interruption.
 */
import type { ListrTaskWrapper, ListrRendererFactory } from 'listr2';
import { CutoverError } from '../errors.js';
import { HANDLED_SIGNALS, type HandledSignal } from '../lib/signals.js';
import type { Mode } from './connections.js';
import type { StepRef } from './events.js';

/** The task list's (empty) shared context. */
export type Ctx = Record<string, never>;
/** A step's entry in the task list (its `output` line; `prompt` for a question drawn inside it). */
export type StepTask = ListrTaskWrapper<Ctx, ListrRendererFactory, ListrRendererFactory>;

/**
 * A question for the person running the migration. `manual`: a manual step is done? (`task`: the step in the
 * drawn task list, for a prompt inside it). `rollback`: the run failed; run the Rollback phase?
 */
export type ConfirmRequest =
  | { kind: 'manual'; step: StepRef; mode: Mode; message: string; task: StepTask }
  | { kind: 'rollback'; message: string; steps: number; error: unknown };
/**
 * `yes`: a person confirmed. `no`: refused (a manual step fails; no rollback). `auto`: confirmed with nobody
 * to ask (as `yes: true` does): `onManual` does the step's work, and a rehearsal counts its stated time.
 */
export type ConfirmAnswer = 'yes' | 'no' | 'auto';

/** The run was interrupted (its AbortSignal): in RunResult.error, or thrown at once after `stopNow`. */
export class RunInterruptedError extends CutoverError {
  constructor(readonly reason: string, readonly signal: HandledSignal | undefined, readonly immediate: boolean, cause?: unknown) {
    super('E_INTERRUPTED', `interrupted (${reason})${immediate ? ': stopped at once' : ''}`, { cause });
    this.name = 'RunInterruptedError';
  }
}

/** The signal an abort reason names, if it is one the CLI handles. */
export const signalOf = (reason: unknown): HandledSignal | undefined => (HANDLED_SIGNALS as readonly unknown[]).includes(reason) ? reason as HandledSignal : undefined;

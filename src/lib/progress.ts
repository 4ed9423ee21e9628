/**
 * How progress reaches a person: redrawn in place at least every second on a terminal, and as plain
 * lines every 10 s (CUTOVER_PROGRESS_INTERVAL) when the output is a pipe or a CI log, where a line a
 * second would bury everything else. Shared by the CLI's progress line and the runbook's task list.
 */
import { parseDuration } from '../runbook/duration.js';

/** A progress text, or a function giving it now (re-evaluated at each redraw: elapsed times move). */
export type ProgressText = string | (() => string);

export const resolveText = (t: ProgressText): string => (typeof t === 'function' ? t() : t);

/** Redraw period on a terminal. */
export const TTY_REFRESH_MS = 1000;
const PLAIN_DEFAULT_MS = 10_000;

/** The plain-line period: CUTOVER_PROGRESS_INTERVAL ("30s", "500ms"), else 10 s. */
export function plainIntervalMs(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.CUTOVER_PROGRESS_INTERVAL;
  const ms = raw ? parseDuration(raw) : undefined;
  return ms !== undefined && ms >= 100 ? ms : PLAIN_DEFAULT_MS;
}

/**
 * A multi-line progress text (a totals line, then one indented line per table in flight) as one plain
 * line: "totals | table 1 | table 2".
 */
export function oneLine(text: string): string {
  return text.split('\n').map((l) => l.trim()).filter(Boolean).join(' | ');
}

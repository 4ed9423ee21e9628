/**
 * The machine-readable summary of a run or rehearsal (summary.json), and the outage arithmetic:
 * steps between the writes-stopped and writes-resumed markers, parallel groups counted by their longest
 * member, give the projected downtime and its critical path.
 */
import { readFile } from 'node:fs/promises';
import { CutoverError } from '../errors.js';
import type { Runbook, Step } from './model.js';
import type { Outcome } from './journal.js';
import type { StepOutputs } from './actions/index.js';
import type { ConnectionPeaks } from '../budget/sampler.js';
import { type KeyResults, isKeyResults } from './key-results.js';
import { ACTIONS } from './actions/index.js';
import { endpointsOf } from './actions/types.js';

export interface StepTiming {
  id: string;
  title: string;
  phase: string;
  kind: Step['kind'];
  action?: string;
  side: 'source' | 'target' | 'both' | 'none';
  /** ms since the run started (first step) */
  startMs: number;
  durationMs: number;
  outcome: Outcome;
  /** Manual step auto-confirmed with a stated duration (not measured). */
  simulated?: boolean;
  rows?: number;
  bytes?: number;
  connections?: { source: number; target: number };
  concurrency?: number;
  summary?: string;
  /** Writes fenced on the source, fence to verified (a replicate-cutover step measures it). */
  writeOutageMs?: number;
  /** Key results (absent in summaries written before they existed, and for steps that have none). */
  results?: KeyResults;
}

export interface RunSummary {
  runbook: string;
  name: string;
  mode: 'run' | 'rehearse';
  startedAt: string;
  endedAt: string;
  outcome: Outcome;
  durationMs: number;
  steps: StepTiming[];
  outage: OutageEstimate & { measuredMs?: number; outageIds?: string[] };
  phases: { phase: string; durationMs: number }[];
  /** Peaks sampled from pg_stat_activity during the run (cutover's own sessions and all of them). */
  connections?: ConnectionPeaks;
}

export interface OutageEstimate {
  budgetMs?: number;
  projectedMs: number;
  criticalPath: string[];
  withinBudget?: boolean;
}

export function sideOf(s: Step): StepTiming['side'] {
  // A named endpoint is neither database of the move: it costs neither side connections.
  if (s.kind === 'sql') return s.on === 'source' || s.on === 'target' ? s.on : s.on ? 'none' : 'source';
  if (s.kind === 'manual') return 'none';
  if (s.kind === 'sh') return 'both';
  // An action's side is what it declares in the registry (actions/types.ts endpoints).
  const a = ACTIONS.get(s.action ?? '');
  const e = a ? endpointsOf(a, s.options) : { source: 'write' as const, target: 'write' as const };
  return e.source && e.target ? 'both' : e.source ? 'source' : e.target ? 'target' : 'none';
}

/** The critical path as the operator reads it: the steps' titles (an id whose step is gone stays an id). */
export function criticalPathText(ids: readonly string[], steps: readonly { id: string; title: string }[]): string {
  return ids.map((id) => (steps.find((x) => x.id === id)?.title ?? id).replace(/\.$/, '')).join(' → ');
}

/** Sequential units: a step alone, or an adjacent parallel group. */
export function units(steps: Step[]): Step[][] {
  const out: Step[][] = [];
  for (const s of steps) {
    const last = out.at(-1);
    if (s.parallel && last && last[0]!.parallel === s.parallel) last.push(s);
    else out.push([s]);
  }
  return out;
}

export function outageSteps(rb: Runbook): Step[] {
  const stop = rb.markers.find((m) => m.kind === 'writes-stopped');
  const resume = rb.markers.find((m) => m.kind === 'writes-resumed');
  if (!stop || !resume) return [];
  return rb.steps.filter((s) => !s.rollback && s.index >= stop.beforeStep && s.index < resume.beforeStep);
}

/** Projected outage from per-step durations (rehearsal timings, else the runbook's own estimates). */
export function projectOutage(rb: Runbook, durationOf: (s: Step) => number | undefined): OutageEstimate {
  let total = 0;
  const path: string[] = [];
  for (const u of units(outageSteps(rb))) {
    const longest = u.reduce((a, b) => ((durationOf(b) ?? 0) > (durationOf(a) ?? 0) ? b : a));
    total += durationOf(longest) ?? 0;
    path.push(longest.id);
  }
  const budget = rb.front.downtimeBudgetMs;
  return { budgetMs: budget, projectedMs: total, criticalPath: path, withinBudget: budget === undefined ? undefined : total <= budget };
}

export function expectedDuration(s: Step, timings?: RunSummary): number | undefined {
  return timings?.steps.find((t) => t.id === s.id && t.outcome === 'ok')?.durationMs ?? s.estimateMs;
}

export async function loadTimings(path: string): Promise<RunSummary> {
  try {
    const s = JSON.parse(await readFile(path, 'utf8')) as RunSummary;
    // Older summaries have no `results`; one this version cannot read is left out, not trusted.
    for (const st of s.steps ?? []) if (st.results !== undefined && !isKeyResults(st.results)) delete st.results;
    return s;
  } catch (e) {
    throw new CutoverError('E_USAGE', `cannot read timings ${path}: ${(e as Error).message}`, { hint: 'pass the summary.json a rehearsal wrote' });
  }
}

export function outputsOf(o: StepOutputs | undefined): Partial<StepTiming> {
  if (!o) return {};
  return { rows: o.rows, bytes: o.bytes, connections: o.connections, concurrency: o.concurrency, summary: o.summary, writeOutageMs: o.outageMs,
    results: isKeyResults(o.results) ? o.results : undefined };
}

/** The time a run's summary counts for manual steps confirmed without running (their stated durations). */
export function statedMs(s: RunSummary): number {
  return s.steps.filter((t) => t.simulated).reduce((n, t) => n + t.durationMs, 0);
}

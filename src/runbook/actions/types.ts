import type { z } from 'zod';
import type { Capacity, Headroom } from '../../budget/capacity.js';
import type { RolesPolicy } from '../../pg/role-map.js';
import type { KeyResults } from '../key-results.js';
import type { ProgressText } from '../../lib/progress.js';
import type { Demand } from '../../budget/auto.js';
import type { RunContext } from '../context.js';

/**
 * A step's view of its run (context.ts: endpoints, governor, journal, state directory, abort signal,
 * events) plus what is the step's own. Actions report through `events`; `progress` and `log` are the
 * step's shorthands for its `progress` and `note` events.
 */
export interface ActionContext extends RunContext {
  stepId: string;
  /** The runbook's own folder (files a step names are relative to it). */
  runbookDir?: string;
  headroom: Headroom;
  /** The runbook's role map and missing-role policy (front matter `roles`). */
  roles?: RolesPolicy;
  /**
   * For a step of a parallel group: its share of what both sides had available when the group started
   * (measured once, before any member opened a connection). Otherwise the step measures for itself.
   */
  budgetShare?: { source?: Capacity; target?: Capacity; of: number };
  /** Measures a side's capacity over a connection the run keeps open (the sampler's), if any. */
  measure?: (side: 'source' | 'target') => Promise<Capacity | undefined>;
  /**
   * Live progress for the task list: a totals line, then optionally one indented line per table in
   * flight. A function is called again at each redraw (elapsed times and ETAs move between events).
   */
  progress(text: ProgressText): void;
  /** A line worth keeping in the log. */
  log(text: string): void;
}

/** Key outputs of a step, kept in the journal and the rehearsal summary. */
export interface StepOutputs {
  rows?: number;
  bytes?: number;
  /** Connections the step held at most, per side. */
  connections?: { source: number; target: number };
  concurrency?: number;
  summary?: string;
  /** Writes fenced on the source, fence to verified (replicate-cutover). */
  outageMs?: number;
  /** What the step proved or moved, typed (verify counts, a switch's outage breakdown, rows and bytes copied). */
  results?: KeyResults;
  /** Statements an operator may need after the run (e.g. the ones that lift a write fence), journaled. */
  statements?: string[];
  [key: string]: unknown;
}

/** How an operation uses an endpoint: reads it, or changes it (data, schema, privileges or bookkeeping). */
export type EndpointUse = 'read' | 'write';
export type Endpoints = Partial<Record<'source' | 'target' | 'pooler', EndpointUse>>;

/**
 * One operation of the registry (index.ts): its name, its options (one zod schema: the runbook's YAML
 * keys, checked by `cutover check`), the endpoints it uses and how, its connections per job for
 * `jobs: auto`, and what it does. The report's side, the budget's plan, the rollback rule and the
 * documentation's action table are read from here (docs/architecture.md).
 */
export interface Action<S extends z.ZodType = z.ZodType> {
  name: string;
  description: string;
  schema: S;
  /** The endpoints it uses: fixed, or from its options (e.g. `on: target`). */
  endpoints: Endpoints | ((options: z.infer<S>) => Endpoints);
  /** For endpoints read from the options: how, in words (the documentation's table). */
  endpointsText?: string;
  /** Connections on each side for `jobs` workers (an operation with a `jobs` option). */
  demand?: Demand;
  /** Reads only (checks): a run that failed before any other step started needs no rollback. */
  readOnly?: boolean;
  run(ctx: ActionContext, options: z.infer<S>): Promise<StepOutputs>;
}

/** The endpoints an action uses with these (validated) options. */
export function endpointsOf<S extends z.ZodType>(a: Action<S>, options: z.infer<S>): Endpoints {
  return typeof a.endpoints === 'function' ? a.endpoints(options) : a.endpoints;
}

export function defineAction<S extends z.ZodType>(a: Action<S>): Action<S> {
  return a;
}

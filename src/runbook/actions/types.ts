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

/**
 * What an operation's engine call needs: a runbook step's context is one; the CLI builds one from its
 * flags (only the sides its command takes, no state dir: the command's own options say where).
 */
export type ExecContext = Pick<ActionContext, 'stepId' | 'headroom' | 'roles' | 'budgetShare' | 'measure' | 'signal' | 'progress' | 'log' | 'runbookDir'>
  & Partial<Pick<ActionContext, 'source' | 'target' | 'endpoints'>>;

/** How the CLI spells one option (src/cli/from-registry.ts derives the rest from the schema). */
export interface CliFlag<V = unknown> {
  /** The long flag the help shows, without `--`, when it is not the key in kebab-case (which works too). */
  flag?: string;
  /** A one-letter alias, without `-`. */
  short?: string;
  /** The value's name in the help, e.g. `schema.table`. */
  arg?: string;
  /** The help text, when it is not the schema's description. */
  help?: string;
  /** The command line's default, when it is not the runbook's (e.g. `jobs`: 2, not auto). */
  default?: V;
  /** Required on the command line although a step has a default (e.g. a dump's `dir`). */
  required?: boolean;
  /** A record's repeatable `key=value` flags, as given, to the schema's input (else split at the first `=`). */
  fromArgs?: (values: string[]) => V;
  /** Flags that set this key to a fixed value, e.g. `--apply-settings` for `settings: apply`. */
  presets?: { flag: string; value: V; help: string }[];
}

export type CliFlags<S extends z.ZodType> = { [K in keyof z.input<S> & string]?: CliFlag<z.input<S>[K]> };

/**
 * An operation's `cutover <name>` command. Its flags are its schema's keys (and `options`, the ones only
 * the command line has) and `--source`/`--target` for the endpoints it declares; `execute` is the engine
 * call a step's `run` makes too; `output` is the result as the `--json` document (`doc`, its documented
 * shape) and as text.
 */
export interface ActionCli<S extends z.ZodType, X extends z.ZodType = z.ZodType, R = unknown, D extends z.ZodType = z.ZodType> {
  description: string;
  /** The command it is a subcommand of: `replicate` makes replicate-start `cutover replicate start`. */
  parent?: string;
  /** The help's example (every command has one). */
  example: string;
  flags?: CliFlags<S>;
  /** Options a step gets from its run instead (its state dir, resume): a zod object, read as the schema is. */
  options?: X;
  optionFlags?: CliFlags<X>;
  /** Sides it runs without when neither the flag nor its variable gives one (teardown: then only the source). */
  optionalSides?: readonly ('source' | 'target')[];
  /** `--role-map`, `--create-roles`, `--drop-unmapped-roles`: the role policy a runbook's front matter sets. */
  roles?: boolean;
  execute(ctx: ExecContext, options: z.infer<S>, cli: z.infer<X>): Promise<R>;
  output(result: R, options: z.infer<S>, cli: z.infer<X>): { doc: z.input<D>; text: () => string; exitCode?: number };
  doc: D;
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
/** source, target, pooler, or an endpoint the runbook's front matter names (`on: reporting`). */
export type Endpoints = Partial<Record<'source' | 'target' | 'pooler', EndpointUse>> & Readonly<Record<string, EndpointUse>>;

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
  /** Its `cutover <name>` command, generated from the above (src/cli/from-registry.ts). */
  cli?: ActionCli<S>;
}

/** The endpoints an action uses with these (validated) options. */
export function endpointsOf<S extends z.ZodType>(a: Action<S>, options: z.infer<S>): Endpoints {
  return typeof a.endpoints === 'function' ? a.endpoints(options) : a.endpoints;
}

export function defineAction<S extends z.ZodType, X extends z.ZodType = z.ZodType, R = unknown, D extends z.ZodType = z.ZodType>(
  a: Omit<Action<S>, 'cli'> & { cli?: ActionCli<S, X, R, D> }): Action<S> {
  // The command's own option, result and document types are the module's business: the registry keeps
  // them erased (its methods are only ever called with what the same module's schemas produced).
  return a as Action<S>;
}

import { z } from 'zod';
import type { RolesPolicy } from '../pg/role-map.js';
/** The parsed runbook: front matter, phases, steps, outage markers. */
export type StepKind = 'manual' | 'sql' | 'sh' | 'action';
export type Side = 'source' | 'target';

export interface ConnectionRef {
  /** Environment variable holding the connection string (preferred: no secret in the file). */
  env?: string;
  /** A URL or key=value string without a password (validated). */
  url?: string;
}

/** One set of connections: the two databases of the move, and optionally a pooler and named others. */
export interface ConnectionSet { source: ConnectionRef; target: ConnectionRef; pooler?: ConnectionRef; named: Record<string, ConnectionRef> }

/** Endpoint names a runbook may declare beside source, target and pooler (lower case: sh steps get NAME_URL). */
export const ENDPOINT_NAME = /^[a-z][a-z0-9_]{0,39}$/;
export const RESERVED_ENDPOINTS = ['source', 'target', 'pooler', 'rehearsal'] as const;

/** An option naming the endpoint a step runs on (`on:`): source, target, or one the front matter names. */
export const endpointOption = z.string({ error: (i) => (i.input === undefined ? 'required: source, target, or an endpoint named under the front matter\'s connections' : undefined) })
  .regex(ENDPOINT_NAME, 'source, target, or an endpoint named under the front matter\'s connections')
  .refine((n) => n !== 'pooler', 'not the pooler\'s admin console (it takes no SQL)');

export interface FrontMatter {
  name: string;
  /**
   * pooler: a PgBouncer admin console (fence: pooler), optional, in each set. `named`: any other endpoint
   * the runbook's steps use by name (`sql {on=reporting}`, `sql-file` `on: reporting`, `$REPORTING_URL` in sh).
   */
  connections: ConnectionSet & { rehearsal?: ConnectionSet };
  /** Milliseconds of write outage allowed. */
  downtimeBudgetMs?: number;
  /** Connections kept free for the application on each side: a count or "20%". */
  headroom?: number | string;
  /** Steps of one parallel group run at most this many at once. */
  maxParallel: number;
  /** Default options per action, merged under each step's own. */
  defaults: Record<string, Record<string, unknown>>;
  /** Role map and what to do with roles missing on the target (copy, restore, doctor). */
  roles: RolesPolicy;
}

export interface Step {
  id: string;
  index: number;
  phase: string;
  rollback: boolean;
  /** Short: title=, the ### heading above, or the first sentence of the text describing the step. */
  title: string;
  /** The whole describing paragraph (or checklist text) when the title is shorter than it. */
  description?: string;
  kind: StepKind;
  /** 1-based line in the runbook file. */
  line: number;
  /** For 'action': e.g. "copy", "verify". */
  action?: string;
  /** Validated options (actions) merged with defaults. */
  options: Record<string, unknown>;
  /** For sql: the endpoint it runs on (source, target, or one the front matter names). For sh: unused. */
  on?: string;
  /** SQL text or shell script (sql/sh), the YAML source (action), or the checklist text (manual). */
  body: string;
  /** Steps sharing a group name and adjacent run concurrently. */
  parallel?: string;
  /** Manual steps: code blocks and text shown under the checkbox (not executed). */
  details?: string;
  /** "(est. 5 min)" from the text, if any. */
  estimateMs?: number;
  /** sha256 of what the step does: a finished step whose hash changed blocks resume. */
  hash: string;
}

export interface Marker {
  kind: 'writes-stopped' | 'writes-resumed';
  line: number;
  /** The marker sits before the step with this index (steps.length if at the end). */
  beforeStep: number;
  /** The phase it was written in (a marker may end a phase rather than start the next). */
  phase: string;
}

export interface Runbook {
  file: string;
  front: FrontMatter;
  steps: Step[];
  markers: Marker[];
  phases: string[];
}

export interface RunbookProblem {
  file: string;
  line: number;
  message: string;
}

export function formatProblem(p: RunbookProblem): string {
  return `${p.file}:${p.line}: ${p.message}`;
}

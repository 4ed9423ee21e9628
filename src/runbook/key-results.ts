/**
 * A step's key results, typed by what the step did: what a verify compared and found, the write outage
 * of a fenced switch (cutover or rollback) phase by phase with its verify, what a copy, dump or restore
 * moved. Kept in the journal and summary.json (`results`), shown in the rehearsal report and under each
 * step of the checklist rendered with those timings. Built here from the engines' own results, so the
 * actions stay thin and the report never parses a summary string.
 */
import { CutoverError } from '../errors.js';

export interface VerifyOutcome {
  /** counts, checksums, full, or incremental (a replicate-cutover's). */
  level: string;
  ok: boolean;
  tables: number;
  /** Source rows compared (tables, not materialized views). */
  rows: number;
  /** Tables that differ or are missing on a side, and the differing rows found in them. */
  tablesDiffering: number;
  rowDifferences: number;
  /** Every other difference: sequences behind, schema objects, matviews, large objects, privileges. */
  otherDifferences: number;
  /** verify incremental: rows verified before the fence and unchanged since (not read in it). */
  trustedRows?: number;
  /** The other parts compared (a verify step's; a cutover reports tables and rows only). */
  compared?: { matviews: number; largeObjects: number; sequences: number; schemaObjects: number; privileges: number };
}

export interface TimedPhase { phase: string; durationMs: number; /** Inside the write outage (the engine says; older summaries do not). */ outage?: boolean }

/** A fenced switch's write outage: its phases from the fence to the switch, and what they add up to. */
export interface OutageBreakdown {
  totalMs: number;
  phases: TimedPhase[];
  /** Time in the outage outside any named phase (snapshots, bookkeeping between them). */
  otherMs: number;
}

export type KeyResults =
  | { kind: 'verify'; verify: VerifyOutcome }
  | {
    kind: 'switch';
    /** cutover: source to target (replicate-cutover); rollback: back to the old source (replicate-rollback). */
    direction: 'cutover' | 'rollback';
    outage: OutageBreakdown;
    /** Phases outside the outage: catch up and pre-verify before the fence, closing capture after the switch. */
    before: TimedPhase[];
    after: TimedPhase[];
    verify?: VerifyOutcome;
    fencedTables: number;
    drainedEvents: number;
    sequences: number;
    /** fence: pooler: how long clients waited in the pooler. */
    pausedMs?: number;
    /** Run again after it had finished: nothing was done. */
    already?: boolean;
  }
  | {
    kind: 'data';
    action: 'copy' | 'dump' | 'restore';
    tables?: number;
    rows?: number;
    bytes?: number;
    indexes?: number;
    /** restore: pg_restore's sections (pre-data, data, post-data) with their items. */
    sections?: (TimedPhase & { items: number; skipped: boolean })[];
  };

/** The counts of a verify report's summary (verify/verify.ts VerifyReport['summary']). */
export interface VerifyCounts {
  tables: number; rows: number; tablesDiffering: number; rowDifferences: number;
  matviewDifferences: number; largeObjectDifferences: number; sequencesBehind: number; schemaDifferences: number; privilegeDifferences: number;
  /** What else was compared, when known. */
  matviews?: number; largeObjects?: number; sequences?: number; schemaObjects?: number; privileges?: number;
}

export function verifyOutcome(level: string, ok: boolean, c: VerifyCounts, trustedRows?: number): VerifyOutcome {
  return {
    level, ok, tables: c.tables, rows: c.rows, tablesDiffering: c.tablesDiffering, rowDifferences: c.rowDifferences,
    otherDifferences: c.matviewDifferences + c.largeObjectDifferences + c.sequencesBehind + c.schemaDifferences + c.privilegeDifferences,
    ...(trustedRows !== undefined ? { trustedRows } : {}),
    ...(c.matviews !== undefined ? { compared: { matviews: c.matviews, largeObjects: c.largeObjects ?? 0, sequences: c.sequences ?? 0, schemaObjects: c.schemaObjects ?? 0, privileges: c.privileges ?? 0 } } : {}),
  };
}

// The cutover engine times its phases in order; the outage starts at the fence (or the pooler's PAUSE
// before it) and ends with the switch. What runs after the switch closes the forward capture.
const OUTAGE_START = new Set(['pause pooler', 'fence']);
const AFTER_SWITCH = new Set(['forward capture off the source']);

export interface SwitchFacts {
  outageMs: number;
  phases: TimedPhase[];
  fencedTables: number;
  drainedEvents: number;
  sequences: number;
  pause?: { pausedMs: number };
  verify?: VerifyOutcome;
}

export function switchResults(direction: 'cutover' | 'rollback', r: SwitchFacts, already = false): KeyResults {
  // The engine marks each phase; a summary written before it did is read by the phases' names.
  const marked = r.phases.some((p) => p.outage !== undefined);
  const start = marked ? r.phases.findIndex((p) => p.outage) : r.phases.findIndex((p) => OUTAGE_START.has(p.phase));
  const before = start < 0 ? (marked ? r.phases : []) : r.phases.slice(0, start);
  const rest = start < 0 ? (marked ? [] : r.phases) : r.phases.slice(start);
  const isAfter = (p: TimedPhase) => (marked ? !p.outage : AFTER_SWITCH.has(p.phase));
  const inside = rest.filter((p) => !isAfter(p));
  const sum = inside.reduce((n, p) => n + p.durationMs, 0);
  return {
    kind: 'switch', direction, before, after: rest.filter(isAfter),
    outage: { totalMs: r.outageMs, phases: inside, otherMs: Math.max(0, r.outageMs - sum) },
    verify: r.verify, fencedTables: r.fencedTables, drainedEvents: r.drainedEvents, sequences: r.sequences,
    ...(r.pause ? { pausedMs: r.pause.pausedMs } : {}), ...(already ? { already } : {}),
  };
}

const KINDS = new Set(['verify', 'switch', 'data']);
/** Whether a value read back (journal, summary.json, an error's details) is a KeyResults. */
export function isKeyResults(v: unknown): v is KeyResults {
  return typeof v === 'object' && v !== null && KINDS.has(String((v as { kind?: unknown }).kind));
}

/** The results a failing step attached to its error (a verify that found differences), if any. */
export function resultsOfError(e: unknown): KeyResults | undefined {
  const r = e instanceof CutoverError ? e.details?.results : undefined;
  return isKeyResults(r) ? r : undefined;
}

/** The same error with the step's results attached, for the journal and the report of a failed step. */
export function withResults(e: unknown, results: KeyResults | undefined): unknown {
  if (!(e instanceof CutoverError) || !results) return e;
  return new CutoverError(e.code, e.message, { hint: e.hint, cause: e.cause, details: { ...e.details, results } });
}

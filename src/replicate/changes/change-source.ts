/**
 * The change-source seam: how the applier (apply.ts), the cutover, status and verify learn what changed
 * on the source, without knowing how it was captured. Trigger capture (trigger-source.ts) is the first
 * implementation; a second one (logical decoding, where the source grants it) implements this interface
 * and is chosen in index.ts. Nothing outside `changes/` (and the capture's own install and teardown)
 * names the log, the ticks' representation or the capture's catalog.
 *
 * A position is opaque text that the applier stores with the rows it applied (apply_state.tick): trigger
 * capture uses a pg_snapshot ("xmin:xmax:xip,..."), logical decoding would use an LSN.
 */
import type pg from 'pg';
import type { Endpoint } from '../../pg/endpoint.js';

/** A point in the source's stream of committed changes (opaque outside the implementation). */
export type Position = string;

/** Where replication starts: recorded with the copy's snapshot (the copy shows everything before it). */
export interface StartPoint {
  position: Position;
  /** The source's clock when the copy took its snapshot (the first batch's lag is measured from it). */
  at: Date;
  /** Each table's storage signature as the copy read it (catalog.ts readStorage), by tableid. */
  storage: Record<string, string> | null;
}

/** A table changes are captured for, as the capture recorded it. */
export interface CapturedTable {
  tableid: number;
  relid: number;
  schema: string;
  name: string;
  /** The replicated key (empty: the whole row is the identity) and its types. */
  key: string[];
  keyTypes: string[];
  /** No key: the columns capture recorded as comparable (row-identity.ts), or null. */
  matchColumns: string[] | null;
  /** Its shape and capture triggers as last accepted (catalog.ts readShapes). */
  shape: string;
  triggers: string;
  /** Captured by ddl: follow after replication started (copied by a batch, not by the initial copy). */
  followed: boolean;
}

/** One table's changes in a batch. */
export interface ChangedTable {
  tableid: number;
  events: number;
  /** Truncated in this batch: read again whole. */
  truncated: boolean;
  /** Events of transactions the fence's mark does not show: writes that got past the fence. */
  afterFence: number;
}

/**
 * The changes committed after `from` and up to `to`, read on the source session inside the batch's
 * REPEATABLE READ transaction (whose snapshot is `to`): the applier reads the current rows of the changed
 * keys in that same snapshot. The key sets are SQL relations on that session, so that the current rows
 * are read with one `WHERE key IN (...)` and never travel through the client.
 */
export interface ChangeBatch {
  readonly from: Position;
  readonly to: Position;
  readonly tables: ChangedTable[];
  /** A keyed table's changed keys: a SELECT of one column per key column, named as the key column (duplicates possible). */
  keysSql(t: { tableid: number; key: string[]; keyTypes: string[] }): string;
  /**
   * A table without a key: each changed row value as jsonb `k` (as the table's row type `relation` now)
   * with its net count `n` in the batch (inserted minus deleted, never 0).
   */
  netRowsSql(t: { tableid: number; relation: string }): string;
  /** Incremental verify: the key chunks ((key - lo) / width, for keys in [lo, hi)) the batch's events touch. */
  chunks(c: pg.Client, tableid: number, grid: { lo: bigint; hi: bigint; width: bigint }): Promise<number[]>;
  /** Up to 10 source transactions of this batch that changed the table (named by a halt). */
  transactions(c: pg.Client, tableid: number): Promise<string[]>;
}

/** What is captured but not yet applied, and the capture's own size. */
export interface Backlog {
  /** The source's clock now. */
  now: Date;
  /** Events committed and not shown by the applied position. */
  pending: number;
  /** Everything the capture holds (applied or not), and its size on disk; undefined when not asked for. */
  logged?: number;
  bytes?: number;
}

export interface ChangeSource {
  /** Capture is installed on this server. */
  installed(c: pg.Client): Promise<boolean>;
  /**
   * The copy (or dump) records where replication starts: `reader` is inside the copy's REPEATABLE READ
   * transaction. Only the first copy's position is kept: a resumed copy that had to take a newer one is
   * still covered, because applying a key's current state again is harmless. Undefined when capture is
   * not installed.
   */
  recordStart(source: Endpoint, reader: pg.Client, note?: (m: string) => void): Promise<Position | undefined>;
  /** The recorded start, if a copy has recorded one. */
  start(c: pg.Client): Promise<StartPoint | undefined>;
  /** The source's position now (inside a REPEATABLE READ transaction as its first statement: the batch's). */
  now(c: pg.Client): Promise<{ position: Position; at: Date }>;
  /** Whether `applied` shows every transaction the position `mark` did not (all older ones ended). */
  covers(applied: Position, mark: Position): boolean;
  /** The captured tables, in tableid order (in the caller's snapshot). */
  tables(c: pg.Client): Promise<CapturedTable[]>;
  /** Records a table's shape (and capture triggers) as accepted. */
  acceptShape(c: pg.Client, relid: number, shape: string, triggers: string): Promise<void>;
  /** New partitions of captured tables get what capture needs on them; returns them (root relid, leaf name). */
  coverNewLeaves(c: pg.Client): Promise<{ relid: number; leaf: string }[]>;
  /**
   * The batch after `from`, up to `to` (the `now()` of this transaction). `fenceMark`: a position taken
   * once a write fence held; events it does not show are counted as having got past the fence.
   */
  nextBatch(c: pg.Client, from: Position, to: Position, fenceMark?: Position): Promise<ChangeBatch>;
  /** Frees what every position up to `applied` needed (brief locks; skipped when busy). Returns the events removed. */
  acknowledge(c: pg.Client, applied: Position): Promise<number>;
  /** Events committed after `from`; with `sizes`, the capture's total events and bytes too. */
  backlog(c: pg.Client, from: Position, o?: { sizes?: boolean }): Promise<Backlog>;
  /** The capture on this server is a rollback window's (reverse: this is the new server). */
  reverse(c: pg.Client): Promise<boolean>;
  /** ddl: follow: tables created since that the capture's selection covers get captured (before the batch that copies them). */
  captureNew(c: pg.Client, note: (m: string) => void): Promise<NewTables>;
  /** Without ddl: follow: tables created since that the capture's selection covers and that are not captured (names). */
  uncaptured(c: pg.Client): Promise<string[]>;
  /** For status: the capture's mode, how many tables, the recorded start; with `logged`, the events it holds. */
  describe(c: pg.Client, o?: { logged?: boolean }): Promise<CaptureSummary>;
}

export interface CaptureSummary {
  mode: string;
  tables: number;
  start: Position | null;
  startAt: Date | null;
  /** The source's clock now. */
  now: Date;
  logged?: number;
}

/** Tables ddl: follow captured now, and those it refused (why, by name). */
export interface NewTables {
  captured: { tableid: number; relid: number; schema: string; name: string; keySource: string }[];
  refused: string[];
}

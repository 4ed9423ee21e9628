/**
 * Incremental verify for a cutover under replication: the full comparison runs *before* the fence,
 * while the application still writes, and only what changed since is compared again in the fence.
 *
 * 1. plan(): each captured table with an integer leading key is cut into small key chunks.
 * 2. The applier is told to track (Applier.track): from its current tick on, every batch reports the
 *    chunks its events touch (a TRUNCATE: the whole table).
 * 3. preverify(): one pass per table and side computes each chunk's count and hash sum (each table in its
 *    own short transaction); chunks that differ (the replication lag) are marked changed too.
 * 4. refine(), in rounds: a new generation of marks, and the chunks marked so far compared again.
 * 5. After the fence and the drain, recheck() compares only the changed chunks, the keys outside the
 *    planned range, every table that is not planned (other keys, not captured), sequences and schema.
 *
 * Why an unchanged chunk needs no second look: its source rows are unchanged since the pre-pass (any
 * change is an event the applier applied after tracking began, so it would be marked), and its target
 * rows are unchanged (only the applier writes to the target before the switch, and each of its writes
 * comes from such an event). So source now = source then = target then = target now.
 * The assumption (nothing but the applier writes to the target before the switch) is checked: a guard
 * trigger on the target notes every other writer's statements (guardTarget), and the fence compares
 * such a table in full.
 */
import { CUTOVER_SCHEMA } from '../pg/private-schema.js';
import type pg from 'pg';
import type { ConnParams } from '../pg/conninfo.js';
import { withClient } from '../pg/connect.js';
import { resolveEndpoint } from '../pg/endpoint.js';
import { loadSql, qualify } from '../pg/sql.js';
import { mapLimit } from '../lib/pool.js';
import { classifySqlState, sqlStateOf } from '../pg/sqlstate.js';
import { type TableResult, type TableSpec, both, checksumTable, chunkSums, integerKey, keyBounds } from './compare-table.js';
import { type ChunkGrid, chunkGrid, differingChunks, keySpan } from './chunks.js';
import { checksumChunks, chunkSumsIn } from './ranges.js';
import { compareAll, compareOptions, type VerifyReport, withVerifySession } from './verify.js';
import type { RoleMap } from '../pg/role-map.js';
import type { TablesProgress } from '../lib/progress.js';
import { TableTracker } from './progress.js';

/** Leading key types the chunk grid can cut (integer keys). */
const INTEGER_KEYS = new Set(['smallint', 'integer', 'bigint']);

/** A captured table as the applier tracks it, by key chunk. */
export interface TrackedTable extends ChunkGrid { schema: string; name: string }
export type ChunkSink = (table: string, chunks: number[] | 'all') => void;

export interface IncrementalOptions {
  source: ConnParams;
  target: ConnParams;
  /** Worker sessions per side. Default 2. */
  jobs?: number;
  /** Rows per chunk (default 1,000): smaller chunks, less to compare again in the fence. */
  chunkRows?: number;
  /** Source role -> target role, for privileges and large objects' owners (the copy's role map). */
  roleMap?: RoleMap;
  /**
   * The tables whose changes the applier reports (the change source's captured tables, given by the
   * caller, so that verify knows nothing of how changes are captured): those with an integer leading key
   * are tracked by key chunk; every other table is compared in full in the fence.
   */
  tracked: readonly TrackableTable[];
}

/** A table changes are reported for: its relation and replicated key with the key's types. */
export interface TrackableTable { relid: number; schema: string; name: string; key: readonly string[]; keyTypes: readonly string[] }

interface Plan extends TrackedTable { keyColumn: string }

export interface IncrementalStats {
  preverifyMs: number;
  /** Chunks of the planned tables, and how many had to be compared again in the fence. */
  chunks: number;
  changedChunks: number;
  /** Rows known identical from the pre-pass (not read again in the fence). */
  trustedRows: number;
  /** Leaf tables compared in full in the fence (not planned, truncated, mostly changed, or written by others). */
  fullTables: number;
  /** Which, and why (a key that is not an integer or no key, truncated, mostly changed, written by others). */
  fullReasons: string[];
  /** Tables the guard on the target saw written by someone other than the applier. */
  foreignWrites: string[];
}

export class IncrementalVerify {
  private readonly plans = new Map<string, Plan>();
  /** Leaf table (qualified) -> the captured table it belongs to (itself or its partitioned root). */
  private readonly leafOf = new Map<string, string>();
  private readonly changed = new Map<string, Set<number> | 'all'>();
  /** Source rows per chunk of each pre-verified leaf. */
  private readonly preRows = new Map<string, Map<number, number>>();
  private preverifyMs = 0;
  /** Every table the source had at plan time (qualified): one missing here was created since. */
  private readonly known = new Set<string>();

  private constructor(private readonly o: IncrementalOptions) {}

  static async plan(o: IncrementalOptions): Promise<IncrementalVerify> {
    const v = new IncrementalVerify(o);
    const chunkRows = o.chunkRows ?? 1000;
    await withClient(await resolveEndpoint(o.source), 'verify-plan', async (c) => {
      // The tracked tables with an integer leading key.
      const captured = o.tracked.filter((x) => INTEGER_KEYS.has(x.keyTypes[0] ?? ''));
      const rows = (await c.query<{ schema: string; name: string; key_column: string; leaf_schema: string; leaf_name: string; leaf_rows: number }>(
        loadSql(import.meta.url, 'sql/incremental-plan.sql'), [captured.map((x) => x.relid), captured.map((x) => x.schema), captured.map((x) => x.name), captured.map((x) => x.key[0]!)])).rows;
      const est = new Map<string, { schema: string; name: string; key: string; rows: number }>();
      for (const r of rows) {
        const q = qualify(r.schema, r.name);
        v.leafOf.set(qualify(r.leaf_schema, r.leaf_name), q);
        const e = est.get(q) ?? { schema: r.schema, name: r.name, key: r.key_column, rows: 0 };
        e.rows += r.leaf_rows;
        est.set(q, e);
      }
      for (const r of (await c.query<{ schema: string; name: string }>(loadSql(import.meta.url, 'sql/leaf-tables.sql'))).rows) v.known.add(qualify(r.schema, r.name));
      // The key's bounds now (an index lookup each); keys outside them are always compared again.
      for (const [q, e] of est) {
        const span = keySpan([await keyBounds(c, q, e.key)]) ?? { lo: 0n, hi: 0n };
        // Never analysed (no estimate): assume dense keys.
        const n = e.rows > 0 ? BigInt(Math.max(1, Math.ceil(e.rows / chunkRows))) : (span.hi - span.lo) / BigInt(chunkRows) + 1n;
        v.plans.set(q, { schema: e.schema, name: e.name, keyColumn: e.key, ...chunkGrid(span.lo, span.hi, n) });
      }
    });
    return v;
  }

  /**
   * Puts a guard on the target's planned tables: a statement trigger that notes any write not made by
   * the applier, so that the fence compares such a table in full instead of trusting it. Returns the
   * tables guarded, or why it could not (the incremental verify then rests on its assumption alone).
   */
  async guardTarget(): Promise<{ guarded: number } | { error: string }> {
    const roots = [...this.plans.keys()];
    return withClient(await resolveEndpoint(this.o.target), 'verify-guard', async (c) => {
      try {
        await c.query('BEGIN');
        await c.query(loadSql(import.meta.url, 'sql/target-guard.sql'));
        const { guarded } = (await c.query<{ guarded: number }>(`SELECT guarded FROM ${CUTOVER_SCHEMA}.set_guard($1::text[]::regclass[])`, [roots])).rows[0]!;
        await c.query('COMMIT');
        return { guarded };
      } catch (e) {
        await c.query('ROLLBACK').catch(() => undefined);
        if (classifySqlState(sqlStateOf(e)) !== 'privilege') throw e;
        return { error: (e as Error).message };
      }
    });
  }

  /** Removes the guard from the target (idempotent). */
  async unguardTarget(): Promise<number> {
    return withClient(await resolveEndpoint(this.o.target), 'verify-guard', async (c) =>
      (await c.query<{ n: number | null }>(`SELECT CASE WHEN to_regprocedure('${CUTOVER_SCHEMA}.set_guard(regclass[])') IS NULL THEN 0 ELSE (${CUTOVER_SCHEMA}.set_guard('{}')).removed END AS n`)).rows[0]!.n ?? 0);
  }

  /** What the applier tracks (Applier.track), and where it reports. */
  tracked(): TrackedTable[] { return [...this.plans.values()]; }
  readonly sink: ChunkSink = (table, chunks) => {
    const cur = this.changed.get(table);
    if (cur === 'all') return;
    if (chunks === 'all') { this.changed.set(table, 'all'); return; }
    const set = cur ?? new Set<number>();
    for (const c of chunks) set.add(c);
    this.changed.set(table, set);
  };

  /** Compares every chunk of the planned tables once; chunks that differ now are marked changed. */
  async preverify(onProgress?: (done: number, total: number, table: string) => void, onTables?: (p: TablesProgress) => void): Promise<{ tables: number; chunks: number; differing: number; durationMs: number }> {
    const t0 = Date.now();
    const r = await this.compareMarked(() => 'all', onProgress, onTables);
    this.preverifyMs = Date.now() - t0;
    return { ...r, durationMs: this.preverifyMs };
  }

  /**
   * Narrows what the fence must compare, while the applier keeps applying: a new generation of marks
   * starts now, and the chunks marked so far are compared again. Those that match are clean unless the
   * new generation marks them; those that still differ are carried over. Marks reported by a batch before
   * the switch are of changes committed before it, which the comparison's snapshots (taken after) show.
   */
  async refine(onProgress?: (done: number, total: number, table: string) => void, onTables?: (p: TablesProgress) => void): Promise<{ compared: number; stillChanged: number; durationMs: number }> {
    const t0 = Date.now();
    const previous = new Map(this.changed);
    this.changed.clear();
    let compared = 0;
    for (const [q, m] of previous) compared += m === 'all' ? (this.plans.get(q)?.chunks ?? 0) : m.size;
    const r = await this.compareMarked((root) => previous.get(root), onProgress, onTables);
    return { compared, stillChanged: r.differing, durationMs: Date.now() - t0 };
  }

  /** Changed chunks so far, over all planned tables (a truncated table counts all its chunks). */
  changedChunks(): number {
    let n = 0;
    for (const [q, m] of this.changed) n += m === 'all' ? (this.plans.get(q)?.chunks ?? 0) : m.size;
    return n;
  }

  /** Compares the chunks `which` selects of every planned leaf; differing ones are marked, source counts kept. */
  private async compareMarked(which: (root: string) => Set<number> | 'all' | undefined,
    onProgress?: (done: number, total: number, table: string) => void, onTables?: (p: TablesProgress) => void): Promise<{ tables: number; chunks: number; differing: number }> {
    let differing = 0, chunks = 0, tables = 0;
    await withVerifySession({ source: this.o.source, target: this.o.target, jobs: this.o.jobs, roleMap: this.o.roleMap }, async (s) => {
      const todo = s.specs.filter((spec) => { const p = this.planFor(spec); return p && which(qualify(p.schema, p.name)) !== undefined; });
      // This runs while the application works: every table is read in its own short transaction on each
      // side (any snapshot taken after tracking began will do), so that a TRUNCATE or DDL the application
      // queues waits for one table's read at most, not for the whole pass. The leaders' transactions
      // (which looked at every table's size) end now; the workers already hold their snapshots.
      await Promise.all([s.source.leader.query('COMMIT'), s.target.leader.query('COMMIT')]);
      const fresh = (c: pg.Client) => c.query('COMMIT; BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      let done = 0;
      const unq = (spec: TableSpec) => `${spec.schema}.${spec.name}`;
      const tracker = new TableTracker(todo.map((spec) => {
        const p = this.planFor(spec)!;
        const w = which(qualify(p.schema, p.name))!;
        return { name: unq(spec), ...(s.sizes.get(unq(spec)) ?? { bytes: 0, rows: 0 }), chunks: w === 'all' ? p.chunks : w.size };
      }), onTables);
      await mapLimit(todo, s.jobs, async (spec) => {
        const p = this.planFor(spec)!;
        const root = qualify(p.schema, p.name), leaf = qualify(spec.schema, spec.name);
        const w = which(root)!;
        tracker.start(unq(spec));
        // Most of the table: one pass over it is cheaper than many ranges.
        const whole = w === 'all' || w.size * 2 > p.chunks;
        const [sa, ta] = await s.pool.use((pair) => both(pair, async (c) => {
          await fresh(c);
          return whole ? chunkSums(c, spec, p) : chunkSumsIn(c, spec, p, w);
        }));
        const rows = whole ? new Map<number, number>() : this.preRows.get(leaf) ?? new Map<number, number>();
        if (!whole) for (const c of w as Set<number>) rows.delete(c);
        for (const [c, a] of sa) rows.set(c, a.n);
        const diff = differingChunks(sa, ta);
        this.sink(root, diff);
        this.preRows.set(leaf, rows);
        differing += diff.length;
        chunks += w === 'all' ? p.chunks : w.size;
        tables++;
        tracker.finish(unq(spec), [...sa.values()].reduce((n, a) => n + a.n, 0));
        onProgress?.(++done, todo.length, leaf);
      });
    });
    return { tables, chunks, differing };
  }

  /**
   * In the fence, after the drain: a full verify's report (tables, sequences, schema) for which the
   * pre-verified chunks that did not change since are taken as read.
   */
  async recheck(onProgress?: (done: number, total: number, table: string) => void, onTables?: (p: TablesProgress) => void): Promise<VerifyReport & { incremental: IncrementalStats }> {
    const t0 = Date.now();
    const opts = compareOptions({});
    const stats: IncrementalStats = { preverifyMs: this.preverifyMs, chunks: 0, changedChunks: 0, trustedRows: 0, fullTables: 0, fullReasons: [], foreignWrites: [] };
    const report = await withVerifySession({ source: this.o.source, target: this.o.target, jobs: this.o.jobs, roleMap: this.o.roleMap }, async (s) => {
      // Tables the guard saw written by someone other than the applier: their chunks cannot be trusted.
      // (An error would end the leader's snapshot transaction: look before reading.)
      const guarded = (await s.target.leader.query<{ ok: boolean }>(`SELECT to_regclass('${CUTOVER_SCHEMA}.foreign_writes') IS NOT NULL AS ok`)).rows[0]!.ok;
      const foreign = guarded ? (await s.target.leader.query<{ schema_name: string; table_name: string; role_name: string; statements: string }>(
        `SELECT schema_name, table_name, role_name, statements::text FROM ${CUTOVER_SCHEMA}.foreign_writes ORDER BY 1, 2, 3`)).rows : [];
      stats.foreignWrites = foreign.map((f) => `${qualify(f.schema_name, f.table_name)} (${f.statements} statement(s) by ${f.role_name})`);
      const written = new Set(foreign.map((f) => qualify(f.schema_name, f.table_name)));
      return compareAll(s, 'full', async (spec): Promise<TableResult> => {
        const p = this.planFor(spec);
        const pre = this.preRows.get(qualify(spec.schema, spec.name));
        const changed = p ? this.changed.get(qualify(p.schema, p.name)) : undefined;
        // Compared in full: not planned or not pre-verified, truncated since, or mostly changed anyway.
        const foreignWrite = written.has(qualify(spec.schema, spec.name)) || (p !== undefined && written.has(qualify(p.schema, p.name)));
        if (!p || !pre || foreignWrite || changed === 'all' || (changed?.size ?? 0) * 2 > p.chunks) {
          stats.fullTables++;
          const created = !this.known.has(qualify(spec.schema, spec.name));
          stats.fullReasons.push(`${qualify(spec.schema, spec.name)} (${created ? 'created since the pre-verify' : !p ? 'not chunked: no integer leading key' : !pre ? 'not pre-verified'
            : foreignWrite ? 'written by others' : changed === 'all' ? 'truncated' : 'mostly changed'})`);
          return checksumTable(s.pool, spec, opts);
        }
        const dirty = changed ?? new Set<number>();
        let trusted = 0;
        for (const [c, n] of pre) if (!dirty.has(c)) trusted += n;
        stats.chunks += p.chunks;
        stats.changedChunks += dirty.size;
        stats.trustedRows += trusted;
        return checksumChunks(s.pool, spec, p, dirty, { rows: trusted }, opts);
      }, onProgress, onTables);
    });
    return { ...report, durationMs: Date.now() - t0, incremental: stats };
  }

  private planFor(spec: TableSpec): Plan | undefined {
    const root = this.leafOf.get(qualify(spec.schema, spec.name));
    const p = root ? this.plans.get(root) : undefined;
    // The leaf must be keyed the same way as the table the change source tracks.
    return p && integerKey(spec) === p.keyColumn ? p : undefined;
  }
}


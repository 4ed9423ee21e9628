/**
 * Trigger capture as a change source (capture.ts installs it): every captured write is a row in the
 * partitioned log `_cutover.log` (txid, tableid, op, key as jsonb), and a position is a pg_snapshot. A
 * batch between two snapshots ("ticks", PgQ's idea) holds the events of the transactions the newer one
 * shows and the older one does not; the txid range bound lets the log's BRIN indexes skip what every
 * batch before has read. Acknowledging truncates log partitions whose events are all applied.
 */
import { CUTOVER_SCHEMA } from '../../pg/private-schema.js';
import type pg from 'pg';
import { withClient } from '../../pg/connect.js';
import type { Endpoint } from '../../pg/endpoint.js';
import { loadSql, quoteIdent } from '../../pg/sql.js';
import { classifySqlState, sqlStateOf } from '../../pg/sqlstate.js';
import { captureInstalled, readStorage } from '../catalog.js';
import { captureNewTables, newTablesMatching } from '../capture.js';
import { reverseCapture } from '../window-state.js';
import { compareSnapshots, literal } from './snapshot-text.js';
import type { Backlog, CaptureSummary, CapturedTable, ChangeBatch, ChangedTable, ChangeSource, Position, StartPoint } from './change-source.js';

/** The log's partitions (capture-schema.sql): one in use, the others emptied once applied. */
const LOG_PARTITIONS = [0, 1, 2] as const;

export const triggerSource: ChangeSource = {
  installed: captureInstalled,

  async recordStart(source: Endpoint, reader: pg.Client, note: (m: string) => void = () => undefined): Promise<Position | undefined> {
    if (!(await captureInstalled(reader))) return undefined;
    const { snap, at } = (await reader.query<{ snap: string; at: Date }>('SELECT pg_current_snapshot()::text AS snap, now() AS at')).rows[0]!;
    // The tables' storage as this snapshot sees it (what the copy reads): recorded with the snapshot.
    const tables = (await reader.query<{ tableid: number; relid: string }>(`SELECT tableid, relid::int8 AS relid FROM ${CUTOVER_SCHEMA}.tables`)).rows;
    const storage = Object.fromEntries(await readStorage(reader, tables.map((x) => ({ tableid: x.tableid, relid: Number(x.relid) }))));
    const kept = await withClient(source, 'replicate-mark', async (c) => (await c.query<{ s: string }>(
      `UPDATE ${CUTOVER_SCHEMA}.state SET start_snapshot = coalesce(start_snapshot, $1::pg_snapshot), start_snapshot_at = coalesce(start_snapshot_at, $2),
         storage = CASE WHEN start_snapshot IS NULL THEN $3::jsonb ELSE storage END
       RETURNING start_snapshot::text AS s`, [snap, at, JSON.stringify(storage)])).rows[0]?.s);
    note(kept === snap
      ? `change capture is on: replication will start from this copy's snapshot (${snap})`
      : `change capture is on: replication starts from an earlier copy's snapshot (${kept}); applying from there is safe`);
    return kept;
  },

  async start(c: pg.Client): Promise<StartPoint | undefined> {
    const r = (await c.query<{ start: string | null; at: Date | null; storage: Record<string, string> | null }>(
      `SELECT start_snapshot::text AS start, start_snapshot_at AS at, storage FROM ${CUTOVER_SCHEMA}.state`)).rows[0];
    return r?.start && r.at ? { position: r.start, at: r.at, storage: r.storage } : undefined;
  },

  async now(c: pg.Client): Promise<{ position: Position; at: Date }> {
    const r = (await c.query<{ cur: string; at: Date }>('SELECT pg_current_snapshot()::text AS cur, now() AS at')).rows[0]!;
    return { position: r.cur, at: r.at };
  },

  covers: (applied: Position, mark: Position): boolean => compareSnapshots(applied, mark) >= 0,

  async tables(c: pg.Client): Promise<CapturedTable[]> {
    const { rows } = await c.query<{ tableid: number; relid: string; schema_name: string; table_name: string; key_columns: string[]; key_types: string[];
      match_columns: string[] | null; shape: string; triggers: string; followed: boolean }>(
      `SELECT tableid, relid::int8 AS relid, schema_name, table_name, key_columns::text[] AS key_columns, key_types, match_columns::text[] AS match_columns, shape, triggers, followed FROM ${CUTOVER_SCHEMA}.tables ORDER BY tableid`);
    return rows.map((r) => ({
      tableid: r.tableid, relid: Number(r.relid), schema: r.schema_name, name: r.table_name, key: r.key_columns, keyTypes: r.key_types,
      matchColumns: r.match_columns, shape: r.shape, triggers: r.triggers, followed: r.followed,
    }));
  },

  async acceptShape(c: pg.Client, relid: number, shape: string, triggers: string): Promise<void> {
    await c.query(`UPDATE ${CUTOVER_SCHEMA}.tables SET shape = $2, triggers = $3 WHERE relid = $1::oid`, [relid, shape, triggers]);
  },

  async coverNewLeaves(c: pg.Client): Promise<{ relid: number; leaf: string }[]> {
    // New partitions of captured tables get the leaf triggers that are not cloned (TRUNCATE, statement mode).
    return (await c.query<{ relid: string; leaf: string }>(`SELECT relid::int8::text AS relid, leaf FROM ${CUTOVER_SCHEMA}.cover_new_leaves()`)).rows
      .map((r) => ({ relid: Number(r.relid), leaf: r.leaf }));
  },

  async nextBatch(c: pg.Client, from: Position, to: Position, fenceMark?: Position): Promise<ChangeBatch> {
    const rows = (await c.query<{ tableid: number; events: string; truncated: boolean; after_fence: number }>(
      loadSql(import.meta.url, 'sql/batch-tables.sql'), [from, to, fenceMark ?? null])).rows;
    return new TriggerBatch(from, to, rows.map((r) => ({ tableid: r.tableid, events: Number(r.events), truncated: r.truncated, afterFence: r.after_fence })));
  },

  async acknowledge(c: pg.Client, applied: Position): Promise<number> {
    let removed = 0;
    for (const p of LOG_PARTITIONS) {
      await c.query('BEGIN');
      try {
        await c.query(`SELECT set_config('lock_timeout', '50ms', true)`);
        const n = Number((await c.query<{ n: string }>(`SELECT ${CUTOVER_SCHEMA}.truncate_applied($1, $2::pg_snapshot) AS n`, [p, applied])).rows[0]!.n);
        await c.query('COMMIT');
        if (n > 0) removed += n;
      } catch (e) {
        await c.query('ROLLBACK').catch(() => undefined);
        if (classifySqlState(sqlStateOf(e)) !== 'lock_timeout') throw e;
      }
    }
    return removed;
  },

  async backlog(c: pg.Client, from: Position, o: { sizes?: boolean } = {}): Promise<Backlog> {
    if (!o.sizes) {
      const r = (await c.query<{ now: Date; pending: string }>(loadSql(import.meta.url, 'sql/pending-events.sql'), [from])).rows[0]!;
      return { now: r.now, pending: Number(r.pending) };
    }
    const r = (await c.query<{ now: Date; pending: string; logged: string; log_bytes: string }>(loadSql(import.meta.url, 'sql/pending.sql'), [from])).rows[0]!;
    return { now: r.now, pending: Number(r.pending), logged: Number(r.logged), bytes: Number(r.log_bytes) };
  },

  reverse: reverseCapture,
  captureNew: (c: pg.Client, note: (m: string) => void) => captureNewTables(c, note),
  uncaptured: newTablesMatching,

  async describe(c: pg.Client, o: { logged?: boolean } = {}): Promise<CaptureSummary> {
    const r = (await c.query<{ mode: string; start: string | null; at: Date | null; now: Date; tables: number; logged: string | null }>(
      `SELECT capture_mode AS mode, start_snapshot::text AS start, start_snapshot_at AS at, now() AS now,
              (SELECT count(*)::int FROM ${CUTOVER_SCHEMA}.tables) AS tables, ${o.logged ? `(SELECT count(*) FROM ${CUTOVER_SCHEMA}.log)::text` : 'NULL::text'} AS logged
         FROM ${CUTOVER_SCHEMA}.state`)).rows[0]!;
    return { mode: r.mode, tables: r.tables, start: r.start, startAt: r.at, now: r.now, logged: r.logged === null ? undefined : Number(r.logged) };
  },
};

/** One batch of the trigger log: the events of transactions `to` shows and `from` does not. */
class TriggerBatch implements ChangeBatch {
  /** The log's rows of this batch (COPY takes no parameters: the snapshots are literals). */
  private readonly filter: string;

  constructor(readonly from: Position, readonly to: Position, readonly tables: ChangedTable[]) {
    const a = literal(from), b = literal(to);
    this.filter = `l.txid >= pg_snapshot_xmin(${a}::pg_snapshot)::text::bigint AND l.txid < pg_snapshot_xmax(${b}::pg_snapshot)::text::bigint
        AND NOT pg_visible_in_snapshot(l.txid::text::xid8, ${a}::pg_snapshot) AND pg_visible_in_snapshot(l.txid::text::xid8, ${b}::pg_snapshot)`;
  }

  keysSql(t: { tableid: number; key: string[]; keyTypes: string[] }): string {
    const decoded = t.key.map((k, i) => `(l.k->>${i})::${t.keyTypes[i]} AS ${quoteIdent(k)}`).join(', ');
    return `SELECT ${decoded} FROM ${CUTOVER_SCHEMA}.log l WHERE l.tableid = ${t.tableid} AND l.op <> 'T' AND ${this.filter}`;
  }

  netRowsSql(t: { tableid: number; relation: string }): string {
    // The log holds whole rows ('I' added, 'D' removed); counts commute, so the order of the batch's events
    // does not matter. Each logged row as the table's row type now: a row logged before a column was added
    // (no key for it) and the same row logged after (the key, null) are one value and cancel out.
    return `SELECT pg_catalog.to_jsonb(pg_catalog.jsonb_populate_record(NULL::${t.relation}, l.k)) AS k, sum(CASE l.op WHEN 'I' THEN 1 ELSE -1 END) AS n FROM ${CUTOVER_SCHEMA}.log l
            WHERE l.tableid = ${t.tableid} AND l.op IN ('I', 'D') AND ${this.filter} GROUP BY 1 HAVING sum(CASE l.op WHEN 'I' THEN 1 ELSE -1 END) <> 0`;
  }

  async chunks(c: pg.Client, tableid: number, grid: { lo: bigint; hi: bigint; width: bigint }): Promise<number[]> {
    const { rows } = await c.query<{ c: string }>(
      `SELECT DISTINCT (((l.k->>0)::int8 - $1::int8) / $2::int8)::text AS c FROM ${CUTOVER_SCHEMA}.log l
        WHERE l.tableid = ${tableid} AND ${this.filter} AND (l.k->>0)::int8 >= $1::int8 AND (l.k->>0)::int8 < $3::int8`,
      [grid.lo.toString(), grid.width.toString(), grid.hi.toString()]);
    return rows.map((r) => Number(r.c));
  }

  async transactions(c: pg.Client, tableid: number): Promise<string[]> {
    const { rows } = await c.query<{ txid: string }>(
      `SELECT DISTINCT l.txid::text AS txid FROM ${CUTOVER_SCHEMA}.log l WHERE l.tableid = $1
          AND NOT pg_visible_in_snapshot(l.txid::text::xid8, $2::pg_snapshot) AND pg_visible_in_snapshot(l.txid::text::xid8, $3::pg_snapshot)
          AND l.txid >= pg_snapshot_xmin($2::pg_snapshot)::text::bigint ORDER BY 1 LIMIT 10`, [tableid, this.from, this.to]);
    return rows.map((r) => r.txid);
  }
}

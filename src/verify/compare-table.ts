/**
 * Compares one table on both sides. With an integer leading key column the key range is cut into chunks
 * (count + sum of 64-bit row hashes per chunk, both sides at once); a differing chunk is bisected until it
 * is small, then its rows are compared by key and the differing columns named. Other keys compare the
 * whole table the same way; tables without a key are compared as multisets of rows.
 */
import type pg from 'pg';
import { qualify, quoteIdent } from '../pg/sql.js';
import { type ColumnInfo, columnExpr, rowHash64, rowText } from './normalize.js';
import type { Pair, PairPool } from './pairs.js';
import { type ChunkGrid, chunkBounds, chunkGrid, differingChunks, keySpan } from './chunks.js';

export interface TableSpec {
  schema: string;
  name: string;
  /** A materialized view's contents are compared like a table's (populated on both sides). */
  kind?: 'table' | 'materialized view';
  /** Primary key columns, or null (multiset comparison). */
  key: string[] | null;
  /** Columns present on both sides (compared), in source order. */
  columns: ColumnInfo[];
  /** Columns that exist on one side only (a schema difference that makes every row differ). */
  columnMismatch: string[];
  /** Same columns in the same order on both sides and none to normalise: hash the record text itself. */
  wholeRow: boolean;
}

export interface RowDifference {
  kind: 'missing on target' | 'extra on target' | 'changed';
  /** Primary key values as text (null for tables without a key). */
  key: Record<string, string | null> | null;
  /** Columns whose values differ (changed rows). */
  columns?: string[];
  /** For tables without a key: the row's text and how many more copies one side has. */
  row?: string;
  count?: number;
}

export interface TableResult {
  schema: string;
  name: string;
  kind?: 'table' | 'materialized view';
  sourceRows: number;
  targetRows: number;
  /** stale on source: a materialized view not refreshed on the source since its tables changed (see verify.ts). */
  status: 'same' | 'differs' | 'stale on source';
  chunks: number;
  differenceCount: number;
  differences: RowDifference[];
  note?: string;
  durationMs: number;
}

export interface CompareOptions {
  /** Rows per checksum chunk (default 100,000). */
  chunkRows: number;
  /** Below this many rows a differing range is compared row by row (default 2,000). */
  leafRows: number;
  /** Most row differences reported per table (the total is always counted). */
  maxReported: number;
  /** Tables larger than this are not drilled into without an integer key (memory). */
  maxDrillRows: number;
}

const INT_TYPES = new Set(['int2', 'int4', 'int8']);

/** The leading key column, when it is an integer (the key range can then be cut into ranges). */
export function integerKey(spec: TableSpec): string | undefined {
  const k = spec.key?.[0];
  const type = spec.columns.find((c) => c.name === k)?.base_type;
  return k && type && INT_TYPES.has(type) ? k : undefined;
}

export type Record_ = (d: RowDifference, count?: number) => void;

export function recorder(result: TableResult, opts: CompareOptions): Record_ {
  return (d, count = 1) => {
    result.differenceCount += count;
    if (result.differences.length < opts.maxReported) result.differences.push(d);
  };
}

/** Compares the key range [a, b) of a table with an integer key: bisects a differing range down to its rows. */
export function drillRange(spec: TableSpec, record: Record_, opts: CompareOptions) {
  const k = quoteIdent(integerKey(spec)!);
  const where = `r.${k} >= $1::int8 AND r.${k} < $2::int8`;
  const go = async (pair: Pair, a: bigint, b: bigint, known?: [Agg, Agg]): Promise<void> => {
    const [s, t] = known ?? await both(pair, (c) => agg(c, spec, where, [a.toString(), b.toString()]));
    if (s.n === t.n && s.h === t.h) return;
    if (Math.max(s.n, t.n) <= opts.leafRows || b - a <= 1n) {
      await compareRows(pair, spec, where, [a.toString(), b.toString()], record, opts);
      return;
    }
    const mid = a + (b - a) / 2n;
    await go(pair, a, mid);
    await go(pair, mid, b);
  };
  return go;
}

export interface Agg { n: number; h: string }
export const NO_ROWS: Agg = { n: 0, h: '0' };

// Every query reads the table as alias "r".
export function sql(spec: TableSpec) {
  const rt = rowText(spec.columns, 'r', spec.wholeRow);
  return { rowText: rt, hash: rowHash64(rt), table: `${qualify(spec.schema, spec.name)} r` };
}

export async function agg(c: pg.Client, spec: TableSpec, where: string, params: unknown[]): Promise<Agg> {
  const s = sql(spec);
  const r = await c.query<{ n: string; h: string }>(
    `SELECT count(*) AS n, coalesce(sum(${s.hash}), 0)::text AS h FROM ${s.table} WHERE ${where}`, params);
  return { n: Number(r.rows[0]!.n), h: r.rows[0]!.h };
}

/** The integer key's smallest and largest value in `table` (alias r) where `where` holds: index lookups. */
export async function keyBounds(c: pg.Client, table: string, key: string, where = 'true', params: unknown[] = []): Promise<{ lo: bigint | null; hi: bigint | null }> {
  const k = `r.${quoteIdent(key)}`;
  const b = (await c.query<{ lo: string | null; hi: string | null }>(`SELECT min(${k})::text AS lo, max(${k})::text AS hi FROM ${table} r WHERE ${where}`, params)).rows[0]!;
  return { lo: b.lo === null ? null : BigInt(b.lo), hi: b.hi === null ? null : BigInt(b.hi) };
}

export async function both<T>(pair: Pair, fn: (c: pg.Client, side: 'source' | 'target') => Promise<T>): Promise<[T, T]> {
  return Promise.all([fn(pair.source, 'source'), fn(pair.target, 'target')]);
}

/** Count and hash sum of every chunk of the grid, by chunk number (one pass over the table). */
export async function chunkSums(c: pg.Client, spec: TableSpec, g: ChunkGrid): Promise<Map<number, Agg>> {
  const k = quoteIdent(integerKey(spec)!);
  const { rows } = await c.query<{ c: string; n: string; h: string }>(
    `SELECT ((r.${k}::int8 - $1::int8) / $2::int8)::int8 AS c, count(*) AS n, coalesce(sum(${sql(spec).hash}), 0)::text AS h
       FROM ${sql(spec).table} WHERE r.${k} >= $1::int8 AND r.${k} < $3::int8 GROUP BY 1`, [g.lo.toString(), g.width.toString(), g.hi.toString()]);
  return new Map(rows.map((r) => [Number(r.c), { n: Number(r.n), h: r.h }]));
}

export async function countTable(pool: PairPool, spec: TableSpec): Promise<TableResult> {
  const t0 = Date.now();
  const [s, t] = await pool.use((pair) => both(pair, async (c) =>
    Number((await c.query<{ n: string }>(`SELECT count(*) AS n FROM ${qualify(spec.schema, spec.name)}`)).rows[0]!.n)));
  return {
    schema: spec.schema, name: spec.name, kind: spec.kind, sourceRows: s, targetRows: t, status: s === t ? 'same' : 'differs',
    chunks: 1, differenceCount: Math.abs(s - t), differences: [], durationMs: Date.now() - t0,
    note: s === t ? undefined : `${Math.abs(s - t)} row(s) ${s > t ? 'missing on' : 'extra on'} target`,
  };
}

export async function checksumTable(pool: PairPool, spec: TableSpec, opts: CompareOptions): Promise<TableResult> {
  const t0 = Date.now();
  const result: TableResult = {
    schema: spec.schema, name: spec.name, kind: spec.kind, sourceRows: 0, targetRows: 0, status: 'same', chunks: 0,
    differenceCount: 0, differences: [], durationMs: 0,
  };
  const record = recorder(result, opts);
  const keyCol = integerKey(spec);
  if (spec.columnMismatch.length) result.note = `columns on one side only: ${spec.columnMismatch.join(', ')}`;

  if (keyCol) {
    // One pass per side: bounds, count and hash sum together. Identical tables (the usual case) cost
    // exactly one read of each side; only a differing table is chunked and bisected.
    const whole = await pool.use((pair) => both(pair, (c) => agg(c, spec, 'true', [])));
    result.sourceRows = whole[0].n;
    result.targetRows = whole[1].n;
    result.chunks = 1;
    if (whole[0].n === whole[1].n && whole[0].h === whole[1].h) { result.durationMs = Date.now() - t0; return result; }
    // It differs: the key's bounds on both sides (an index lookup) to cut it into chunks.
    const span = keySpan(await pool.use((pair) => both(pair, (c) => keyBounds(c, qualify(spec.schema, spec.name), keyCol))))!;
    const g = chunkGrid(span.lo, span.hi, BigInt(Math.max(1, Math.ceil(Math.max(result.sourceRows, result.targetRows, 1) / opts.chunkRows))));
    result.chunks = g.chunks;
    const drill = drillRange(spec, record, opts);
    // Every chunk's count and hash sum in one more pass per side, then only the differing chunks are
    // bisected with range queries down to their rows.
    await pool.use(async (pair) => {
      const [sa, ta] = await both(pair, (c) => chunkSums(c, spec, g));
      for (const c of differingChunks(sa, ta)) await drill(pair, ...chunkBounds(g, c), [sa.get(c) ?? NO_ROWS, ta.get(c) ?? NO_ROWS]);
    });
  } else {
    result.chunks = 1;
    await pool.use(async (pair) => {
      const [s, t] = await both(pair, (c) => agg(c, spec, 'true', []));
      result.sourceRows = s.n;
      result.targetRows = t.n;
      if (s.n === t.n && s.h === t.h) return;
      if (Math.max(s.n, t.n) > opts.maxDrillRows) {
        result.differenceCount += Math.max(1, Math.abs(s.n - t.n));
        result.note = `differs; not drilled into (${Math.max(s.n, t.n)} rows, no integer key: add one or raise maxDrillRows)`;
        return;
      }
      if (spec.key) await compareRows(pair, spec, 'true', [], record, opts);
      else await compareMultiset(pair, spec, record);
    });
  }
  result.status = result.differenceCount === 0 && !spec.columnMismatch.length ? 'same' : 'differs';
  result.durationMs = Date.now() - t0;
  return result;
}

/** Row-by-row comparison of one range, by primary key. */
async function compareRows(pair: Pair, spec: TableSpec, where: string, params: unknown[],
  record: (d: RowDifference, n?: number) => void, opts: CompareOptions): Promise<void> {
  const key = spec.key!;
  const keyList = key.map((k) => `r.${quoteIdent(k)}::text`).join(', ');
  const fetch = (c: pg.Client) =>
    c.query<{ k: (string | null)[]; h: string }>({
      text: `SELECT ARRAY[${keyList}] AS k, md5(${sql(spec).rowText}) AS h FROM ${sql(spec).table} WHERE ${where}`,
      values: params,
    });
  const [s, t] = await both(pair, fetch);
  const tmap = new Map(t.rows.map((r) => [JSON.stringify(r.k), r.h]));
  const changed: (string | null)[][] = [];
  const keyObj = (k: (string | null)[]) => Object.fromEntries(key.map((name, i) => [name, k[i] ?? null]));
  for (const r of s.rows) {
    const id = JSON.stringify(r.k);
    const th = tmap.get(id);
    if (th === undefined) record({ kind: 'missing on target', key: keyObj(r.k) });
    else if (th !== r.h) changed.push(r.k);
    tmap.delete(id);
  }
  for (const id of tmap.keys()) record({ kind: 'extra on target', key: keyObj(JSON.parse(id) as (string | null)[]) });
  if (!changed.length) return;
  // Name the columns that differ, for the rows we will report.
  const detail = changed.slice(0, opts.maxReported);
  const keyArrays = key.map((_, i) => detail.map((k) => k[i] ?? null));
  const match = key.map((k, i) => `r.${quoteIdent(k)}::text = u.k${i}`).join(' AND ');
  const unnest = `unnest(${key.map((_, i) => `$${i + 1}::text[]`).join(', ')}) AS u(${key.map((_, i) => `k${i}`).join(', ')})`;
  const values = spec.columns.map((c) => columnExpr(c, 'r')).join(', ');
  const [sd, td] = await both(pair, (c) => c.query<{ k: (string | null)[]; v: (string | null)[] }>({
    text: `SELECT ARRAY[${keyList}] AS k, ARRAY[${values}]::text[] AS v FROM ${sql(spec).table}, ${unnest} WHERE ${match}`,
    values: keyArrays,
  }));
  const tv = new Map(td.rows.map((r) => [JSON.stringify(r.k), r.v]));
  for (const r of sd.rows) {
    const other = tv.get(JSON.stringify(r.k)) ?? [];
    const differing = spec.columns.filter((_, i) => r.v[i] !== other[i]).map((c) => c.name);
    record({ kind: 'changed', key: keyObj(r.k), columns: differing });
  }
  // Changed rows beyond the reported ones are still counted.
  for (let i = detail.length; i < changed.length; i++) record({ kind: 'changed', key: keyObj(changed[i]!) });
}

/** Tables without a key: rows compared as multisets (row text -> number of copies). */
async function compareMultiset(pair: Pair, spec: TableSpec, record: (d: RowDifference, n?: number) => void): Promise<void> {
  const [s, t] = await both(pair, (c) => c.query<{ h: string; n: string; r: string }>(
    `SELECT md5(x.t) AS h, count(*) AS n, min(x.t) AS r FROM (SELECT ${sql(spec).rowText} AS t FROM ${sql(spec).table}) x GROUP BY 1`));
  const tmap = new Map(t.rows.map((r) => [r.h, r]));
  for (const r of s.rows) {
    const o = tmap.get(r.h);
    const diff = Number(r.n) - Number(o?.n ?? 0);
    if (diff > 0) record({ kind: 'missing on target', key: null, row: r.r, count: diff }, diff);
    else if (diff < 0) record({ kind: 'extra on target', key: null, row: r.r, count: -diff }, -diff);
    tmap.delete(r.h);
  }
  for (const o of tmap.values()) record({ kind: 'extra on target', key: null, row: o.r, count: Number(o.n) }, Number(o.n));
}

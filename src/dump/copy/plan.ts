/** What the streaming copy will do: table units (whole tables or key ranges) and the indexes to build. */
import type pg from 'pg';
import { loadSql, qualify, quoteIdent } from '../../pg/sql.js';

export interface CopyTable {
  schema: string;
  name: string;
  bytes: number;
  estimatedRows: number;
  columns: string[];
  splitKey: string | null;
  isPartition: boolean;
  /** Every column can travel in COPY's binary format between any two servers. */
  binarySafe: boolean;
}

export interface CopyUnit {
  table: CopyTable;
  /** "schema.name" or "schema.name#part" */
  key: string;
  /** Key range [lo, hi) for a split table (null: unbounded); undefined for a whole table (TRUNCATE + COPY FREEZE). */
  range?: [string | null, string | null];
  parts: number;
}

export interface CopyIndex {
  schema: string;
  table: string;
  indexName: string;
  indexOid: number;
  indexdef: string;
  constraintOid: number | null;
  constraintName: string | null;
  constraintType: 'p' | 'u' | null;
  deferrable: boolean;
  deferred: boolean;
  /** On a materialized view (`table` names it): built after its refresh. */
  onMatview: boolean;
}

import { tableKey } from '../../pg/table-name.js';
export { tableKey };

export async function readTables(c: pg.Client): Promise<CopyTable[]> {
  const { rows } = await c.query<{ schema: string; name: string; bytes: string; estimated_rows: string; columns: string[] | null; split_key: string | null; is_partition: boolean; binary_safe: boolean }>(
    loadSql(import.meta.url, '../sql/copy-tables.sql'));
  return rows.map((r) => ({
    schema: r.schema, name: r.name, bytes: Number(r.bytes), estimatedRows: Number(r.estimated_rows),
    columns: r.columns ?? [], splitKey: r.split_key, isPartition: r.is_partition, binarySafe: r.binary_safe,
  }));
}

export async function readIndexes(c: pg.Client): Promise<CopyIndex[]> {
  const { rows } = await c.query<{ schema: string; table_name: string; index_name: string; index_oid: string; indexdef: string; constraint_oid: string | null; constraint_name: string | null; constraint_type: string | null; deferrable: boolean; deferred: boolean; on_matview: boolean }>(
    loadSql(import.meta.url, '../sql/copy-indexes.sql'));
  return rows.map((r) => ({
    schema: r.schema, table: r.table_name, indexName: r.index_name, indexOid: Number(r.index_oid), indexdef: r.indexdef,
    constraintOid: r.constraint_oid === null ? null : Number(r.constraint_oid), constraintName: r.constraint_name,
    constraintType: r.constraint_type as 'p' | 'u' | null, deferrable: r.deferrable, deferred: r.deferred, onMatview: r.on_matview,
  }));
}

/** Splits tables larger than `splitBytes` with an integer key into at most `maxParts` ranges. */
export async function planUnits(c: pg.Client, tables: CopyTable[], splitBytes: number, maxParts: number): Promise<CopyUnit[]> {
  const units: CopyUnit[] = [];
  for (const t of tables) {
    const parts = t.splitKey && splitBytes > 0 && t.bytes > splitBytes ? Math.min(maxParts, Math.ceil(t.bytes / splitBytes)) : 1;
    if (parts <= 1) { units.push({ table: t, key: tableKey(t), parts: 1 }); continue; }
    const k = quoteIdent(t.splitKey!);
    const b = (await c.query<{ lo: string | null; hi: string | null }>(`SELECT min(${k})::text AS lo, max(${k})::text AS hi FROM ${qualify(t.schema, t.name)}`)).rows[0]!;
    if (b.lo === null || b.hi === null) { units.push({ table: t, key: tableKey(t), parts: 1 }); continue; }
    const lo = BigInt(b.lo), hi = BigInt(b.hi) + 1n;
    const step = (hi - lo + BigInt(parts) - 1n) / BigInt(parts);
    let i = 0;
    for (let a = lo; a < hi; a += step, i++) {
      units.push({ table: t, key: `${tableKey(t)}#${i}`, range: [a.toString(), (a + step < hi ? a + step : hi).toString()], parts });
    }
    // The first and last ranges are open-ended, so the ranges always cover the whole key space.
    const mine = units.filter((u) => u.table === t);
    mine[0]!.range![0] = null;
    mine.at(-1)!.range![1] = null;
    for (const u of mine) u.parts = mine.length;
  }
  return units;
}

/** WHERE clause for a unit's key range. */
export function rangePredicate(u: CopyUnit): string {
  if (!u.range) return 'true';
  const k = quoteIdent(u.table.splitKey!);
  const [lo, hi] = u.range;
  const conds = [lo !== null ? `${k} >= ${BigInt(lo).toString()}` : '', hi !== null ? `${k} < ${BigInt(hi).toString()}` : ''].filter(Boolean);
  return conds.length ? conds.join(' AND ') : 'true';
}

export interface CopyForeignKey {
  constraintOid: number;
  name: string;
  schema: string;
  table: string;
  refSchema: string;
  refTable: string;
  definition: string;
  /** Either side is partitioned or a partition: left to pg_restore's post-data. */
  partitioned: boolean;
}

export async function readForeignKeys(c: pg.Client): Promise<CopyForeignKey[]> {
  const { rows } = await c.query<{ constraint_oid: string; name: string; schema: string; table_name: string; ref_schema: string; ref_table: string; definition: string; partitioned: boolean }>(
    loadSql(import.meta.url, '../sql/copy-fkeys.sql'));
  return rows.map((r) => ({ constraintOid: Number(r.constraint_oid), name: r.name, schema: r.schema, table: r.table_name, refSchema: r.ref_schema, refTable: r.ref_table, definition: r.definition, partitioned: r.partitioned }));
}

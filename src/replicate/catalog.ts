/** What replication reads from the catalogs: candidate tables, columns, shapes (for DDL detection). */
import { CUTOVER_SCHEMA } from '../pg/private-schema.js';
import type pg from 'pg';
import { loadSql } from '../pg/sql.js';

export interface Candidate {
  relid: number;
  schema: string;
  name: string;
  kind: 'r' | 'p';
  canTrigger: boolean;
  canSelect: boolean;
  primaryKey: string[] | null;
  /** Unique indexes over NOT NULL columns: what may stand in for a missing primary key. */
  uniqueKeys: { index: string; columns: string[] }[];
}

export async function readCandidates(c: pg.Client): Promise<Candidate[]> {
  const { rows } = await c.query<{ relid: string; schema: string; name: string; kind: 'r' | 'p'; can_trigger: boolean; can_select: boolean;
    primary_key: string[] | null; unique_keys: Candidate['uniqueKeys'] }>(loadSql(import.meta.url, 'sql/tables.sql'));
  return rows.map((r) => ({
    relid: Number(r.relid), schema: r.schema, name: r.name, kind: r.kind, canTrigger: r.can_trigger, canSelect: r.can_select,
    primaryKey: r.primary_key, uniqueKeys: r.unique_keys,
  }));
}

export interface Column { name: string; type: string; generated: boolean; identity: '' | 'a' | 'd' }

export async function readColumns(c: pg.Client, relids: number[]): Promise<Map<number, Column[]>> {
  const { rows } = await c.query<{ relid: string; name: string; type: string; generated: boolean; identity: Column['identity'] }>(
    loadSql(import.meta.url, 'sql/columns.sql'), [relids]);
  const out = new Map<number, Column[]>();
  for (const r of rows) {
    const k = Number(r.relid);
    out.set(k, [...(out.get(k) ?? []), { name: r.name, type: r.type, generated: r.generated, identity: r.identity }]);
  }
  return out;
}

export interface Shape { relid: number; name: string; shape: string; triggers: string }

/**
 * Runs `fn` with the settings that deparsing and name quoting read pinned (search_path = pg_catalog,
 * quote_all_identifiers = off), then gives the session its own back: what cutover records must not
 * depend on the session that happened to compute it.
 */
export async function withPinnedSettings<T>(c: pg.Client, fn: () => Promise<T>): Promise<T> {
  const prev = (await c.query<{ sp: string; q: string }>(`SELECT current_setting('search_path') AS sp, current_setting('quote_all_identifiers') AS q`)).rows[0]!;
  await c.query(`SELECT set_config('search_path', 'pg_catalog', false), set_config('quote_all_identifiers', 'off', false)`);
  try {
    return await fn();
  } finally {
    // In an aborted transaction this fails, and the rollback restores the settings anyway.
    await c.query(`SELECT set_config('search_path', $1, false), set_config('quote_all_identifiers', $2, false)`, [prev.sp, prev.q]).catch(() => undefined);
  }
}

/** Each table's shape (columns, key, partitions, the user types of its columns) and capture triggers; missing tables have no entry. */
export async function readShapes(c: pg.Client, relids: number[]): Promise<Map<number, Shape>> {
  const { rows } = await withPinnedSettings(c, () => c.query<{ relid: string; name: string; shape: string; triggers: string }>(loadSql(import.meta.url, 'sql/fingerprint.sql'), [relids]));
  return new Map(rows.map((r) => [Number(r.relid), { relid: Number(r.relid), name: r.name, shape: r.shape, triggers: r.triggers }]));
}

/** What differs between two shapes of one table: its own parts, and the user types that changed (by name). */
export function shapeDifference(before: string, after: string): { table: boolean; types: string[] } {
  try {
    const b = JSON.parse(before) as { table: string; types: Record<string, string> };
    const a = JSON.parse(after) as { table: string; types: Record<string, string> };
    const names = new Set([...Object.keys(b.types), ...Object.keys(a.types)]);
    return { table: b.table !== a.table, types: [...names].filter((n) => b.types[n] !== a.types[n]).sort() };
  } catch {
    return { table: before !== after, types: [] }; // a shape recorded by an older cutover
  }
}

/**
 * Each table's storage signature (sql/storage.sql: relfilenodes, columns' attnums) in the session's
 * snapshot, by tableid: what a rewrite no trigger sees changes. `tables`: tableid and source relid.
 */
export async function readStorage(c: pg.Client, tables: readonly { tableid: number; relid: number }[]): Promise<Map<number, string>> {
  const byRelid = new Map(tables.map((x) => [x.relid, x.tableid]));
  const { rows } = await c.query<{ relid: string; sig: string }>(loadSql(import.meta.url, 'sql/storage.sql'), [[...byRelid.keys()]]);
  return new Map(rows.flatMap((r) => { const id = byRelid.get(Number(r.relid)); return id === undefined ? [] : [[id, r.sig] as const]; }));
}

/** Oids of tables on a server by qualified, quoted name ("s"."t"); null where missing. */
export async function resolveTables(c: pg.Client, names: string[]): Promise<(number | null)[]> {
  const { rows } = await c.query<{ oid: string | null }>('SELECT to_regclass(n)::oid::int8 AS oid FROM unnest($1::text[]) WITH ORDINALITY u(n, i) ORDER BY i', [names]);
  return rows.map((r) => (r.oid === null ? null : Number(r.oid)));
}

export async function captureInstalled(c: pg.Client): Promise<boolean> {
  return (await c.query<{ r: string | null }>(`SELECT to_regclass('${CUTOVER_SCHEMA}.state')::text AS r`)).rows[0]!.r !== null;
}

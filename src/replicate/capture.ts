/**
 * Installs change capture on the source: the private `_cutover` schema (sql/capture-schema.sql,
 * rotate.sql) and, per table, a generated capture function with its triggers. Runs as an ordinary role
 * that owns the tables (or holds TRIGGER on them) and may CREATE in the database. Idempotent: running it
 * again refreshes functions and triggers and keeps the log.
 *
 * Locks: CREATE TRIGGER takes SHARE ROW EXCLUSIVE on each table, one table per transaction, with a short
 * lock_timeout; on a timeout it waits and retries (saying who holds the table), so application writes
 * never queue behind cutover for longer than that timeout.
 */
import { CUTOVER_SCHEMA } from '../pg/private-schema.js';
import type pg from 'pg';
import { resolveTableSelection } from '../pg/entry-checks.js';
import { CutoverError } from '../errors.js';
import type { ConnParams } from '../pg/conninfo.js';
import { withClient } from '../pg/connect.js';
import { resolveEndpoint } from '../pg/endpoint.js';
import { loadSql, qualify } from '../pg/sql.js';
import { classifySqlState, sqlStateOf } from '../pg/sqlstate.js';
import { splitQualified, type SelectionOptions } from '../pg/select-tables.js';
import { type Candidate, readCandidates, readShapes } from './catalog.js';
import { withLock } from './lock.js';
import { equalityColumns } from './row-identity.js';

export const CAPTURE_MODES = ['row', 'statement'] as const;
export type CaptureMode = (typeof CAPTURE_MODES)[number];
/** Transaction ids per log-table range: 2^16. A log table is emptied once its range is applied. */
export const RANGE_BITS = 16;
const SCHEMA_VERSION = 1;

export interface CaptureOptions extends SelectionOptions {
  source: ConnParams;
  /** Row triggers (default) or statement triggers with transition tables; see bench/replicate.ts. */
  mode?: CaptureMode;
  /** Tables without a primary key: "schema.table" -> the columns of a unique index over NOT NULL columns (else the whole row is the identity). */
  keys?: Record<string, string[]>;
  /** lock_timeout for each CREATE TRIGGER (ms). Default 1000. */
  lockTimeoutMs?: number;
  /** Give up waiting for a table's lock after this long (ms). Default 5 minutes. */
  maxLockWaitMs?: number;
  /** Transaction ids per log table range, as a power of two (default 16). Small values are for tests. */
  rangeBits?: number;
  /** Exactly these tables (by catalog name, no parsing): the rollback window captures what both servers hold. */
  exact?: { schema: string; name: string }[];
  onNote?: (message: string) => void;
}

export interface CapturedTable { tableid: number; relid: number; schema: string; name: string; key: string[]; keySource: 'primary key' | string }

export interface CaptureResult { tables: CapturedTable[]; mode: CaptureMode; durationMs: number; lockRetries: number; removed: string[] }

const q = (s: string) => `"${s.replace(/"/g, '""')}"`;
const display = (t: { schema: string; name: string }) => `${q(t.schema)}.${q(t.name)}`;

function matches(list: string[] | undefined, t: Candidate, bySchema: boolean): boolean {
  return (list ?? []).some((x) => {
    if (bySchema) return x === t.schema;
    const s = splitQualified(x);
    return (s.schema ?? 'public') === t.schema && s.name === t.name;
  });
}

export function selectTables(all: Candidate[], o: SelectionOptions): Candidate[] {
  return all.filter((t) => (!o.schemas?.length || matches(o.schemas, t, true)) && !matches(o.excludeSchemas, t, true) &&
    (!o.tables?.length || matches(o.tables, t, false)) && !matches(o.excludeTables, t, false));
}

/** Which key each table replicates by (none: the whole row); refuses, naming every table, a declared key that is not one. */
export function chooseKeys(tables: Candidate[], keys: Record<string, string[]> = {}): Map<Candidate, { key: string[]; source: string }> {
  const out = new Map<Candidate, { key: string[]; source: string }>();
  const problems: string[] = [];
  const declared = new Map(Object.entries(keys).map(([k, v]) => {
    const s = splitQualified(k);
    return [`${s.schema ?? 'public'}\u0000${s.name}`, v] as const;
  }));
  for (const t of tables) {
    const d = declared.get(`${t.schema}\u0000${t.name}`);
    if (d) {
      const idx = t.uniqueKeys.find((u) => u.columns.length === d.length && u.columns.every((c, i) => c === d[i]));
      if (!idx) {
        problems.push(`${display(t)}: the declared key (${d.join(', ')}) is not a unique index over NOT NULL columns` +
          (t.uniqueKeys.length ? ` (candidates: ${t.uniqueKeys.map((u) => `(${u.columns.join(', ')})`).join(', ')})` : ''));
      } else out.set(t, { key: d, source: `unique index ${idx.index}` });
    } else if (t.primaryKey) out.set(t, { key: t.primaryKey, source: 'primary key' });
    // No key: the whole row is the identity (row-identity.ts).
    else out.set(t, { key: [], source: 'full row (no key)' });
  }
  if (problems.length) {
    throw new CutoverError('E_NO_KEY', `change capture needs a key on every replicated table:\n  ${problems.join('\n  ')}`, {
      hint: 'add a primary key (ALTER TABLE ... ADD PRIMARY KEY), declare a unique key (runbook `keys:` / --key "schema.table=col1,col2"), or exclude the table (--exclude-table)',
    });
  }
  return out;
}

export async function installCapture(o: CaptureOptions): Promise<CaptureResult> {
  const t0 = Date.now();
  const mode = o.mode ?? 'row';
  const note = o.onNote ?? (() => undefined);
  const source = await resolveEndpoint(o.source);
  o = { ...o, ...(await resolveTableSelection('replicate start', source, o)) };
  return withClient(source, 'replicate-start', async (c) => {
    const v = Number((await c.query<{ v: string }>(`SELECT current_setting('server_version_num') AS v`)).rows[0]!.v);
    if (v < 130000) {
      throw new CutoverError('E_PREFLIGHT', `change capture needs PostgreSQL 13 or later on the source (pg_current_xact_id, pg_snapshot); this one is ${Math.floor(v / 10000)}`, {
        hint: 'upgrade the source, or migrate with a maintenance window: dump/restore or copy with writes stopped',
      });
    }
    const all = await readCandidates(c);
    const exact = o.exact && new Set(o.exact.map((t) => `${t.schema}\u0000${t.name}`));
    const selected = exact ? all.filter((t) => exact.has(`${t.schema}\u0000${t.name}`)) : selectTables(all, o);
    if (!selected.length) throw new CutoverError('E_USAGE', 'no table matches the selection: nothing to capture');
    const noTrigger = selected.filter((t) => !t.canTrigger || !t.canSelect);
    if (noTrigger.length) {
      throw new CutoverError('E_PRIVILEGE', `cannot capture ${noTrigger.length} table(s) without TRIGGER and SELECT on them: ${noTrigger.slice(0, 10).map(display).join(', ')}`, {
        hint: 'connect as the tables\' owner, or GRANT TRIGGER, SELECT ON those tables TO the role cutover uses',
      });
    }
    const keyed = chooseKeys(selected, o.keys);
    // Full-row identity needs columns to compare; a table with none cannot be replicated.
    const matchCols = new Map<Candidate, string[]>();
    const unmatchable: string[] = [];
    for (const t of selected.filter((x) => !keyed.get(x)!.key.length)) {
      const cols = await equalityColumns(c, t.schema, t.name);
      if (cols.length) matchCols.set(t, cols);
      else unmatchable.push(display(t));
    }
    if (unmatchable.length) {
      throw new CutoverError('E_NO_KEY', `change capture cannot match the rows of ${unmatchable.length} table(s) without a key, whose columns have no equality operator: ${unmatchable.join(', ')}`, {
        hint: 'add a primary key (ALTER TABLE ... ADD PRIMARY KEY), declare a unique key (runbook `keys:` / --key "schema.table=col1,col2"), or exclude the table (--exclude-table)',
      });
    }

    try {
      await c.query('BEGIN');
      for (const f of ['sql/capture-schema.sql', 'sql/rotate.sql']) await c.query(loadSql(import.meta.url, f));
      await c.query(`INSERT INTO ${CUTOVER_SCHEMA}.state (version, range_bits, capture_mode, selection) VALUES ($1, $2, $3, $4)
        ON CONFLICT (id) DO UPDATE SET capture_mode = EXCLUDED.capture_mode, selection = EXCLUDED.selection`,
      [SCHEMA_VERSION, o.rangeBits ?? RANGE_BITS, mode, JSON.stringify(storedSelection(exact
        // An exact list (the rollback window): the tables left out stay out; a table created later is new.
        ? { excludeTables: all.filter((t) => !exact.has(`${t.schema}\u0000${t.name}`)).map((t) => qualify(t.schema, t.name)) }
        : o))]);
      await c.query('COMMIT');
    } catch (e) {
      await c.query('ROLLBACK').catch(() => undefined);
      if (classifySqlState(sqlStateOf(e)) === 'privilege') {
        throw new CutoverError('E_PRIVILEGE', `cannot create cutover's capture schema on the source: ${(e as Error).message}`, {
          cause: e, hint: `GRANT CREATE ON DATABASE ${q(source.dbname)} TO ${q(source.user)}`,
        });
      }
      throw e;
    }
    const bits = (await c.query<{ b: number }>(`SELECT range_bits AS b FROM ${CUTOVER_SCHEMA}.state`)).rows[0]!.b;

    // Tables captured by an earlier run but no longer selected: their triggers go.
    const known = (await c.query<{ tableid: number; relid: string; schema_name: string; table_name: string }>(`SELECT tableid, relid::int8 AS relid, schema_name, table_name FROM ${CUTOVER_SCHEMA}.tables`)).rows;
    const keep = new Set(selected.map((t) => t.relid));
    const removed: string[] = [];
    let lockRetries = 0;
    for (const k of known.filter((x) => !keep.has(Number(x.relid)))) {
      lockRetries += await withLock(c, display({ schema: k.schema_name, name: k.table_name }), o, note, async () => {
        await c.query(`SELECT ${CUTOVER_SCHEMA}.drop_triggers($1::oid) FROM pg_class WHERE oid = $1::oid`, [k.relid]);
        await c.query(`DELETE FROM ${CUTOVER_SCHEMA}.tables WHERE tableid = $1`, [k.tableid]);
      });
      removed.push(display({ schema: k.schema_name, name: k.table_name }));
    }
    const ids = new Map(known.map((k) => [Number(k.relid), k.tableid]));
    let next = Math.max(0, ...known.map((k) => k.tableid)) + 1;
    const out: CapturedTable[] = [];
    for (const t of selected) {
      const { key, source: keySource } = keyed.get(t)!;
      const tableid = ids.get(t.relid) ?? next++;
      lockRetries += await captureTable(c, t, tableid, key, matchCols.get(t) ?? null, mode, bits, o, note);
      out.push({ tableid, relid: t.relid, schema: t.schema, name: t.name, key, keySource });
    }
    // Capture fires ALWAYS where cutover owns the table (add_leaf_triggers in capture-schema.sql).
    const notAlways = (await c.query<{ rel: string }>(`SELECT DISTINCT tg.tgrelid::regclass::text AS rel FROM pg_trigger tg
      WHERE tg.tgname LIKE 'cutover\\_capture%' AND tg.tgenabled <> 'A' AND tg.tgrelid IN (SELECT relid FROM ${CUTOVER_SCHEMA}.tables UNION SELECT unnest(partitions) FROM ${CUTOVER_SCHEMA}.tables) ORDER BY 1`)).rows;
    if (notAlways.length) {
      note(`capture on ${notAlways.length} table(s) cutover does not own fires only in the default replication role: a session that sets ` +
        `session_replication_role = replica and writes them is not captured (${notAlways.slice(0, 10).map((r) => r.rel).join(', ')}${notAlways.length > 10 ? ', ...' : ''}); ` +
        'connect as their owner, or make sure no such session writes them');
    }
    await recordBaseline(c, out);
    return { tables: out, mode, durationMs: Date.now() - t0, lockRetries, removed };
  });
}

/** The selection capture was installed with, as recorded on the source: new tables that match it are followed (ddl: follow). */
function storedSelection(o: SelectionOptions): SelectionOptions {
  return { schemas: o.schemas ?? [], excludeSchemas: o.excludeSchemas ?? [], tables: o.tables ?? [], excludeTables: o.excludeTables ?? [] };
}

/** Registers one table in `_cutover.tables` and installs its capture function and triggers (one brief lock). */
async function captureTable(c: pg.Client, t: Candidate, tableid: number, key: string[], matchCols: string[] | null, mode: CaptureMode, bits: number,
  o: { lockTimeoutMs?: number; maxLockWaitMs?: number }, note: (m: string) => void, followed = false): Promise<number> {
  return withLock(c, display(t), o, note, async () => {
    // key_types are cast targets in the applier's session (search_path ''): spelled qualified.
    await c.query(`SELECT set_config('search_path', 'pg_catalog', true), set_config('quote_all_identifiers', 'off', true)`);
    await c.query(`INSERT INTO ${CUTOVER_SCHEMA}.tables (tableid, relid, schema_name, table_name, key_columns, key_types, match_columns, followed)
      SELECT $1, $2::oid, $3, $4, $5::name[], coalesce((SELECT array_agg(format_type(a.atttypid, a.atttypmod) ORDER BY k.ord)
        FROM unnest($5::name[]) WITH ORDINALITY AS k(col, ord)
        JOIN pg_attribute a ON a.attrelid = $2::oid AND a.attname = k.col), '{}'), $6::name[], $7
      ON CONFLICT (tableid) DO UPDATE SET schema_name = EXCLUDED.schema_name, table_name = EXCLUDED.table_name,
        key_columns = EXCLUDED.key_columns, key_types = EXCLUDED.key_types, match_columns = EXCLUDED.match_columns`,
    [tableid, t.relid, t.schema, t.name, key, matchCols, followed]);
    await c.query(`SELECT ${CUTOVER_SCHEMA}.install_table($1, $2::regclass, $3::name[], $4, $5)`, [tableid, qualify(t.schema, t.name), key, mode, bits]);
  });
}

/** The shapes now are the baseline DDL detection compares with. */
async function recordBaseline(c: pg.Client, tables: { tableid: number; relid: number }[]): Promise<void> {
  const shapes = await readShapes(c, tables.map((t) => t.relid));
  for (const t of tables) {
    const s = shapes.get(t.relid)!;
    await c.query(`UPDATE ${CUTOVER_SCHEMA}.tables SET shape = $2, triggers = $3 WHERE tableid = $1`, [t.tableid, s.shape, s.triggers]);
  }
}

export interface NewTables { captured: CapturedTable[]; refused: string[] }

/**
 * ddl: follow: tables created on the source since capture was installed that match the recorded selection
 * (a table excluded by it stays excluded; an explicit table list matches no new table) get capture now,
 * keyed by their primary key or, without one, by the whole row. Run on the applier's source session
 * outside any transaction; every table is committed before the applier's next snapshot, so no write to it
 * is missed. Refused (not captured, for the applier to halt on): tables cutover cannot trigger or read,
 * partitions of other tables by inheritance, tables without a key whose columns cannot be compared.
 * Without a recorded selection (capture installed by an older cutover) nothing is followed.
 */
/** Tables created since capture started that match its recorded selection (named for a halt without ddl: follow). */
export async function newTablesMatching(c: pg.Client): Promise<string[]> {
  const st = (await c.query<{ selection: SelectionOptions | null }>(`SELECT selection FROM ${CUTOVER_SCHEMA}.state`)).rows[0];
  if (!st?.selection) return [];
  const have = new Set((await c.query<{ relid: string }>(`SELECT relid::int8 AS relid FROM ${CUTOVER_SCHEMA}.tables`)).rows.map((k) => Number(k.relid)));
  return selectTables(await readCandidates(c), st.selection).filter((t) => !have.has(t.relid)).map(display);
}

export async function captureNewTables(c: pg.Client, note: (m: string) => void, o: { lockTimeoutMs?: number; maxLockWaitMs?: number } = {}): Promise<NewTables> {
  const st = (await c.query<{ selection: SelectionOptions | null; mode: CaptureMode; bits: number }>(
    `SELECT selection, capture_mode AS mode, range_bits AS bits FROM ${CUTOVER_SCHEMA}.state`)).rows[0];
  if (!st?.selection) return { captured: [], refused: [] };
  const known = (await c.query<{ relid: string; tableid: number }>(`SELECT relid::int8 AS relid, tableid FROM ${CUTOVER_SCHEMA}.tables`)).rows;
  const have = new Set(known.map((k) => Number(k.relid)));
  const fresh = selectTables(await readCandidates(c), st.selection).filter((t) => !have.has(t.relid));
  if (!fresh.length) return { captured: [], refused: [] };
  const inherits = new Set((await c.query<{ relid: string }>('SELECT DISTINCT inhrelid::int8 AS relid FROM pg_inherits WHERE inhrelid = ANY($1::oid[])',
    [fresh.map((t) => t.relid)])).rows.map((r) => Number(r.relid)));
  const refused: string[] = [];
  const captured: CapturedTable[] = [];
  let next = Math.max(0, ...known.map((k) => k.tableid)) + 1;
  for (const t of fresh) {
    if (!t.canTrigger || !t.canSelect) { refused.push(`new table ${display(t)}: no TRIGGER and SELECT on it for the role cutover uses`); continue; }
    if (inherits.has(t.relid)) { refused.push(`new table ${display(t)} inherits from another table (not followed)`); continue; }
    if (t.kind === 'p') { refused.push(`new table ${display(t)} is partitioned (not followed)`); continue; }
    const key = t.primaryKey ?? [];
    let matchCols: string[] | null = null;
    if (!key.length) {
      matchCols = await equalityColumns(c, t.schema, t.name);
      if (!matchCols.length) { refused.push(`new table ${display(t)} has no key and no column with an equality operator`); continue; }
    }
    const tableid = next++;
    await captureTable(c, t, tableid, key, matchCols, st.mode, st.bits, o, note, true);
    captured.push({ tableid, relid: t.relid, schema: t.schema, name: t.name, key, keySource: key.length ? 'primary key' : 'full row (no key)' });
  }
  await recordBaseline(c, captured);
  return { captured, refused };
}

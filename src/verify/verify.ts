/**
 * `verify`: are source and target identical? Levels: counts (exact row counts), checksums (default:
 * chunked row hashes that point at differing rows), full (checksums + sequences + schema + privileges).
 * Materialized views (populated or not, then their contents) and large objects are compared at every
 * level (large objects' content from checksums on). Each side reads one consistent snapshot shared by
 * all its workers, with row_security = off: a read that row-level security would filter is an error,
 * never a partial comparison. Refused before reading: source and target being one database, a table
 * selection naming unknown tables or nothing, tables whose rows RLS hides from the role.
 */
import { displayName } from '../pg/table-name.js';
import type pg from 'pg';
import type { ConnParams } from '../pg/conninfo.js';
import { openSnapshotGroup, type SnapshotGroup } from '../pg/snapshot.js';
import { tableFacts, type TableFacts } from '../pg/facts.js';
import { loadSql, quoteIdent } from '../pg/sql.js';
import { mapLimit } from '../lib/pool.js';
import { type ColumnInfo, needsNormalising } from './normalize.js';
import { PairPool } from './pairs.js';
import { type CompareOptions, type TableResult, type TableSpec, checksumTable, countTable } from './compare-table.js';
import { compareSequences, countBehind, type SequenceResult } from './sequences.js';
import { compareSchemaObjects, type SchemaDifference } from './schema.js';
import { comparePrivileges, type PrivilegeDifference } from './privileges.js';
import { compareLargeObjects, type LargeObjectResult } from './large-objects.js';
import { databaseIdentity, refuseSameDatabase } from '../pg/identity.js';
import { selectTables } from '../pg/select-tables.js';
import { describeRlsFiltered, RLS_HINT, rlsFilteredTables } from '../pg/rls.js';
import type { RoleMap } from '../pg/role-map.js';
import { CutoverError } from '../errors.js';
import { classifySqlState, sqlStateOf } from '../pg/sqlstate.js';
import type { TablesProgress } from '../lib/progress.js';
import { TableTracker } from './progress.js';

export const VERIFY_LEVELS = ['counts', 'checksums', 'full'] as const;
export type VerifyLevel = (typeof VERIFY_LEVELS)[number];

export interface VerifyOptions extends Partial<CompareOptions> {
  source: ConnParams;
  target: ConnParams;
  level?: VerifyLevel;
  /** Worker sessions per side (plus one snapshot leader per side). Default 2. */
  jobs?: number;
  /** Only these tables ("schema.table", or unqualified: resolved as search_path would); default all. */
  tables?: string[];
  /** Not these tables (each must exist). */
  excludeTables?: string[];
  /** Source role -> target role, for owners and grants (a role without an entry maps to itself). */
  roleMap?: RoleMap;
  onProgress?: (done: number, total: number, table: string) => void;
  /** Tables done and in flight, with their size and rows of the estimate (progress lines with rate and ETA). */
  onTables?: (p: TablesProgress) => void;
}

export interface VerifyReport {
  ok: boolean;
  level: VerifyLevel;
  jobs: number;
  durationMs: number;
  tables: TableResult[];
  /** Tables found on one side only. */
  missingTables: { schema: string; name: string; side: 'target' | 'source' }[];
  /** Materialized views: populated or not on each side (contents are in `tables`, kind 'materialized view'). */
  matviews: MatviewResult[];
  largeObjects: LargeObjectResult;
  sequences?: SequenceResult[];
  schema?: SchemaDifference[];
  /** Owners and grants (level full), through the role map. */
  privileges?: { compared: number; differences: PrivilegeDifference[] };
  /** Why view definitions were compared as printed (level full, when they could not be deparsed on one server). */
  notes: string[];
  summary: {
    /** Tables compared (not materialized views), the source rows read in them and in populated matviews. */
    tables: number; rows: number; tablesDiffering: number; rowDifferences: number;
    matviews: number; matviewDifferences: number;
    largeObjects: number; largeObjectDifferences: number;
    sequences: number; sequencesBehind: number;
    schemaObjects: number; schemaDifferences: number;
    privileges: number; privilegeDifferences: number;
  };
}

export interface MatviewResult {
  schema: string;
  name: string;
  source: boolean | null;
  target: boolean | null;
  status: 'same' | 'not populated on target' | 'populated on target only' | 'missing on target' | 'extra on target';
}

const DEFAULTS: CompareOptions = { chunkRows: 100_000, leafRows: 2_000, maxReported: 20, maxDrillRows: 2_000_000 };

const key = displayName;

export function compareOptions(o: Partial<CompareOptions>): CompareOptions {
  return {
    chunkRows: o.chunkRows ?? DEFAULTS.chunkRows, leafRows: o.leafRows ?? DEFAULTS.leafRows,
    maxReported: o.maxReported ?? DEFAULTS.maxReported, maxDrillRows: o.maxDrillRows ?? DEFAULTS.maxDrillRows,
  };
}

/** Both sides open on one snapshot each, the tables paired up: what every comparison works on. */
export interface VerifySession {
  source: SnapshotGroup;
  target: SnapshotGroup;
  pool: PairPool;
  /** Tables on both sides, largest first. */
  specs: TableSpec[];
  missingTables: VerifyReport['missingTables'];
  matviews: MatviewResult[];
  jobs: number;
  options: VerifyOptions;
  /** Source size (pg_table_size) and reltuples of each table ("schema.name"), for progress. */
  sizes: Map<string, { bytes: number; rows: number }>;
}

export async function withVerifySession<T>(o: VerifyOptions, fn: (s: VerifySession) => Promise<T>): Promise<T> {
  const jobs = Math.max(1, o.jobs ?? 2);
  let src: SnapshotGroup | undefined, tgt: SnapshotGroup | undefined;
  try {
    // row_security = off: a read RLS would filter fails instead of comparing part of a table.
    const settings = { row_security: 'off' };
    [src, tgt] = await Promise.all([openSnapshotGroup(o.source, 'verify-source', jobs, { settings }), openSnapshotGroup(o.target, 'verify-target', jobs, { settings })]);
    const [sid, tid] = await Promise.all([databaseIdentity(src.leader, o.source), databaseIdentity(tgt.leader, o.target)]);
    refuseSameDatabase(sid, tid, 'verify', o);
    const selection = await selectTables(src.leader, { tables: o.tables, excludeTables: o.excludeTables }, 'verify');
    const wanted = selection?.keys;
    const chosen = (t: { schema: string; name: string }) => !wanted || wanted.has(key(t));
    await refuseRlsFiltered(src.leader, tgt.leader, chosen);
    const [stables, ttables] = await Promise.all([tableFacts(src.leader), tableFacts(tgt.leader)]);
    // Data lives in plain tables and partitions; partitioned parents hold none.
    const leaves = (ts: TableFacts[]) => new Map(ts.filter((t) => t.kind === 'r').map((t) => [key(t), t]));
    const sl = leaves(stables), tl = leaves(ttables);
    const missingTables: VerifyReport['missingTables'] = [];
    const specs: TableSpec[] = [];
    for (const [k, t] of sl) {
      if (!chosen(t)) continue;
      if (!tl.has(k)) { missingTables.push({ schema: t.schema, name: t.name, side: 'target' }); continue; }
      specs.push(await tableSpec(src.leader, tgt.leader, t));
    }
    for (const [k, t] of tl) if (!sl.has(k) && chosen(t)) missingTables.push({ schema: t.schema, name: t.name, side: 'source' });
    // Largest first, so the long ones start early.
    const size = new Map(stables.map((t) => [key(t), t.bytes]));
    specs.sort((a, b) => (size.get(key(b)) ?? 0) - (size.get(key(a)) ?? 0));
    // Materialized views: populated on both sides -> their contents are compared like a keyless table's.
    const matviews = await compareMatviews(src.leader, tgt.leader, chosen);
    for (const m of matviews.filter((x) => x.source && x.target)) {
      specs.push({ ...(await tableSpec(src.leader, tgt.leader, { schema: m.schema, name: m.name, primaryKey: null })), kind: 'materialized view' });
    }
    const sizes = new Map(stables.map((t) => [key(t), { bytes: t.bytes, rows: t.estimatedRows }]));
    return await fn({ source: src, target: tgt, pool: new PairPool(src.workers, tgt.workers), specs, missingTables, matviews, jobs, options: o, sizes });
  } finally {
    await Promise.all([src?.close(), tgt?.close()]);
  }
}

/** Refuses, before reading anything, the tables whose rows RLS hides from the connected roles. */
async function refuseRlsFiltered(source: pg.Client, target: pg.Client, chosen: (t: { schema: string; name: string }) => boolean): Promise<void> {
  const [s, t] = await Promise.all([rlsFilteredTables(source), rlsFilteredTables(target)]);
  const lines = [...s.filter(chosen).map((x) => `source: ${describeRlsFiltered(x)}`), ...t.filter(chosen).map((x) => `target: ${describeRlsFiltered(x)}`)];
  if (!lines.length) return;
  throw new CutoverError('E_PRIVILEGE', `verify: row-level security would hide rows of these tables from the connected role, so they cannot be compared in full:\n  ${lines.join('\n  ')}`, {
    hint: `${RLS_HINT}; nothing was compared`, details: { tables: lines },
  });
}

async function compareMatviews(source: pg.Client, target: pg.Client, chosen: (t: { schema: string; name: string }) => boolean): Promise<MatviewResult[]> {
  const read = async (c: pg.Client) => new Map((await c.query<{ schema: string; name: string; populated: boolean }>(loadSql(import.meta.url, 'sql/matviews.sql'))).rows
    .filter(chosen).map((r) => [key(r), r]));
  const [s, t] = [await read(source), await read(target)];
  const out: MatviewResult[] = [];
  for (const [k, a] of s) {
    const b = t.get(k);
    t.delete(k);
    const status: MatviewResult['status'] = !b ? 'missing on target' : a.populated === b.populated ? 'same' : a.populated ? 'not populated on target' : 'populated on target only';
    out.push({ schema: a.schema, name: a.name, source: a.populated, target: b ? b.populated : null, status });
  }
  for (const b of t.values()) out.push({ schema: b.schema, name: b.name, source: null, target: b.populated, status: 'extra on target' });
  return out;
}

/**
 * A matview's contents are what its query gave at its last REFRESH: derived data, not rows an application
 * wrote. A source matview not refreshed since its tables changed holds a past state no copy can
 * reproduce (the copy refreshes the target's over the copied tables, and replication then changes those
 * tables). Such a difference is explained, not hidden: only when the source's contents are not what its
 * query gives now in the compared snapshot (stale), and reported as such, with whether the target's is
 * current. A matview current on the source that differs on the target stays a difference. Only run for
 * matviews that differ (it runs their queries).
 */
async function explainStaleMatviews(s: VerifySession, tables: TableResult[]): Promise<void> {
  for (const t of tables.filter((x) => x.kind === 'materialized view' && x.status === 'differs')) {
    const fresh = async (c: pg.Client) => {
      const rel = `${quoteIdent(t.schema)}.${quoteIdent(t.name)}`;
      const def = (await c.query<{ d: string }>('SELECT pg_get_viewdef($1::regclass) AS d', [rel])).rows[0]!.d.replace(/;\s*$/, '');
      const sig = (from: string) => `SELECT count(*) AS n, md5(string_agg(x::text, E'\\n' ORDER BY x::text)) AS h FROM (${from}) x`;
      const [a, b] = [(await c.query<{ n: string; h: string | null }>(sig(`TABLE ${rel}`))).rows[0]!, (await c.query<{ n: string; h: string | null }>(sig(def))).rows[0]!];
      return a.n === b.n && a.h === b.h;
    };
    if (!(await fresh(s.source.leader))) {
      const targetCurrent = await fresh(s.target.leader);
      t.status = 'stale on source';
      t.note = `not refreshed on the source since its tables changed (${t.differenceCount} row(s) differ from the target's); ` +
        (targetCurrent ? 'the target\'s equals its query over the compared tables' : 'REFRESH MATERIALIZED VIEW on the target after the switch if the application expects current data');
    }
  }
}

/** A read refused for lack of privilege names the table and what to do (never a partial comparison). */
async function readable<T>(spec: TableSpec, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (classifySqlState(sqlStateOf(e)) !== 'privilege') throw e;
    throw new CutoverError('E_PRIVILEGE', `verify cannot read ${spec.kind ?? 'table'} ${key(spec)}: ${(e as Error).message}`, {
      hint: `GRANT SELECT on it to the verifying role; if row-level security is what refuses: ${RLS_HINT}`, cause: e,
    });
  }
}

/**
 * Compares every table of the session with `compare` (several in flight), then materialized views and
 * large objects, and at level full sequences, schema and privileges.
 */
export async function compareAll(s: VerifySession, level: VerifyLevel, compare: (spec: TableSpec) => Promise<TableResult>,
  onProgress?: VerifyOptions['onProgress'], onTables?: VerifyOptions['onTables']): Promise<Omit<VerifyReport, 'durationMs'>> {
  let done = 0;
  const tracker = new TableTracker(s.specs.map((spec) => ({ name: key(spec), ...(s.sizes.get(key(spec)) ?? { bytes: 0, rows: 0 }) })), onTables);
  // Several tables in flight so small tables do not wait behind a big one's chunks.
  const tables = await mapLimit(s.specs, s.jobs * 2, async (spec) => {
    tracker.start(key(spec));
    const r = await readable(spec, () => compare(spec));
    tracker.finish(key(spec), r.sourceRows);
    onProgress?.(++done, s.specs.length, key(spec));
    return r;
  });
  tables.sort((a, b) => key(a).localeCompare(key(b)));
  await explainStaleMatviews(s, tables);
  const o = s.options;
  // The leaders are idle now; these run one after the other on them (same snapshots as the tables).
  const largeObjects = await compareLargeObjects(s.source.leader, s.target.leader, { content: level !== 'counts', roleMap: o.roleMap });
  const report: Omit<VerifyReport, 'durationMs'> = {
    ok: false, level, jobs: s.jobs, tables, missingTables: s.missingTables, matviews: s.matviews, largeObjects, notes: [],
    summary: {
      tables: 0, rows: 0, tablesDiffering: 0, rowDifferences: 0, matviews: s.matviews.length, matviewDifferences: 0,
      largeObjects: largeObjects.sourceCount, largeObjectDifferences: largeObjects.differences.length,
      sequences: 0, sequencesBehind: 0, schemaObjects: 0, schemaDifferences: 0, privileges: 0, privilegeDifferences: 0,
    },
  };
  if (level === 'full') {
    report.sequences = await compareSequences(s.source.leader, s.target.leader);
    const schema = await compareSchemaObjects(s.source.leader, s.target.leader, { source: o.source, target: o.target }, o.roleMap);
    report.schema = schema.differences;
    if (schema.note) report.notes.push(schema.note);
    report.privileges = await comparePrivileges(s.source.leader, s.target.leader, o.roleMap);
    report.summary.schemaObjects = schema.compared;
  }
  const sm = report.summary;
  // Tables and their rows; a matview's contents are compared like a table's but counted under matviews.
  const plain = tables.filter((t) => t.kind !== 'materialized view');
  sm.tables = plain.length;
  sm.rows = plain.reduce((n, t) => n + t.sourceRows, 0);
  sm.tablesDiffering = tables.filter((t) => t.status === 'differs').length + s.missingTables.length;
  sm.rowDifferences = tables.reduce((n, t) => n + t.differenceCount, 0);
  sm.matviewDifferences = s.matviews.filter((m) => m.status !== 'same').length;
  sm.sequences = (report.sequences ?? []).length;
  sm.sequencesBehind = countBehind(report.sequences ?? []);
  sm.schemaDifferences = (report.schema ?? []).length;
  sm.privileges = report.privileges?.compared ?? 0;
  sm.privilegeDifferences = report.privileges?.differences.length ?? 0;
  report.ok = identical(sm);
  return report;
}

/** Whether a report's counts show no difference anywhere. */
export function identical(sm: VerifyReport['summary']): boolean {
  return sm.tablesDiffering === 0 && sm.sequencesBehind === 0 && sm.schemaDifferences === 0 && sm.matviewDifferences === 0 &&
    sm.largeObjectDifferences === 0 && sm.privilegeDifferences === 0;
}

export async function verify(o: VerifyOptions): Promise<VerifyReport> {
  const t0 = Date.now();
  const level = o.level ?? 'checksums';
  const opts = compareOptions(o);
  const report = await withVerifySession(o, (s) =>
    compareAll(s, level, (spec) => (level === 'counts' ? countTable(s.pool, spec) : checksumTable(s.pool, spec, opts)), o.onProgress, o.onTables));
  return { ...report, durationMs: Date.now() - t0 };
}

async function columns(c: pg.Client, schema: string, name: string): Promise<ColumnInfo[]> {
  return (await c.query<ColumnInfo>(loadSql(import.meta.url, 'sql/columns.sql'), [schema, name])).rows;
}

async function tableSpec(s: pg.Client, t: pg.Client, tf: Pick<TableFacts, 'schema' | 'name' | 'primaryKey'>): Promise<TableSpec> {
  const [sc, tc] = [await columns(s, tf.schema, tf.name), await columns(t, tf.schema, tf.name)];
  const tnames = new Set(tc.map((c) => c.name));
  const snames = new Set(sc.map((c) => c.name));
  const columnMismatch = [...sc.filter((c) => !tnames.has(c.name)).map((c) => `${c.name} (source only)`),
    ...tc.filter((c) => !snames.has(c.name)).map((c) => `${c.name} (target only)`)];
  const sameOrder = sc.length === tc.length && sc.every((c, i) => c.name === tc[i]!.name);
  return {
    schema: tf.schema, name: tf.name, key: tf.primaryKey,
    wholeRow: columnMismatch.length === 0 && sameOrder && !sc.some(needsNormalising),
    columns: sc.filter((c) => tnames.has(c.name)),
    columnMismatch,
  };
}

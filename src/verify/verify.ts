/**
 * `verify`: are source and target identical? Levels: counts (exact row counts), checksums (default:
 * chunked row hashes that point at differing rows), full (checksums + sequences + schema). Each side
 * reads one consistent snapshot shared by all its workers.
 */
import type pg from 'pg';
import type { ConnParams } from '../pg/conninfo.js';
import { openSnapshotGroup, type SnapshotGroup } from '../pg/snapshot.js';
import { tableFacts, type TableFacts } from '../pg/facts.js';
import { loadSql } from '../pg/sql.js';
import { mapLimit } from '../lib/pool.js';
import { type ColumnInfo, needsNormalising } from './normalize.js';
import { PairPool } from './pairs.js';
import { type CompareOptions, type TableResult, type TableSpec, checksumTable, countTable } from './compare-table.js';
import { compareSequences, type SequenceResult } from './sequences.js';
import { compareSchema, type SchemaDifference } from './schema.js';

export const VERIFY_LEVELS = ['counts', 'checksums', 'full'] as const;
export type VerifyLevel = (typeof VERIFY_LEVELS)[number];

export interface VerifyOptions extends Partial<CompareOptions> {
  source: ConnParams;
  target: ConnParams;
  level?: VerifyLevel;
  /** Worker sessions per side (plus one snapshot leader per side). Default 2. */
  jobs?: number;
  /** Only these tables ("schema.table"); default all. */
  tables?: string[];
  onProgress?: (done: number, total: number, table: string) => void;
}

export interface VerifyReport {
  ok: boolean;
  level: VerifyLevel;
  jobs: number;
  durationMs: number;
  tables: TableResult[];
  /** Tables found on one side only. */
  missingTables: { schema: string; name: string; side: 'target' | 'source' }[];
  sequences?: SequenceResult[];
  schema?: SchemaDifference[];
  summary: { tables: number; tablesDiffering: number; rowDifferences: number; sequencesBehind: number; schemaDifferences: number };
}

const DEFAULTS: CompareOptions = { chunkRows: 100_000, leafRows: 2_000, maxReported: 20, maxDrillRows: 2_000_000 };

const key = (t: { schema: string; name: string }) => `${t.schema}.${t.name}`;

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
  jobs: number;
}

export async function withVerifySession<T>(o: VerifyOptions, fn: (s: VerifySession) => Promise<T>): Promise<T> {
  const jobs = Math.max(1, o.jobs ?? 2);
  let src: SnapshotGroup | undefined, tgt: SnapshotGroup | undefined;
  try {
    [src, tgt] = await Promise.all([openSnapshotGroup(o.source, 'verify-source', jobs), openSnapshotGroup(o.target, 'verify-target', jobs)]);
    const [stables, ttables] = await Promise.all([tableFacts(src.leader), tableFacts(tgt.leader)]);
    // Data lives in plain tables and partitions; partitioned parents hold none.
    const leaves = (ts: TableFacts[]) => new Map(ts.filter((t) => t.kind === 'r').map((t) => [key(t), t]));
    const sl = leaves(stables), tl = leaves(ttables);
    const wanted = o.tables ? new Set(o.tables) : undefined;
    const missingTables: VerifyReport['missingTables'] = [];
    const specs: TableSpec[] = [];
    for (const [k, t] of sl) {
      if (wanted && !wanted.has(k)) continue;
      if (!tl.has(k)) { missingTables.push({ schema: t.schema, name: t.name, side: 'target' }); continue; }
      specs.push(await tableSpec(src.leader, tgt.leader, t));
    }
    for (const [k, t] of tl) if (!sl.has(k) && (!wanted || wanted.has(k))) missingTables.push({ schema: t.schema, name: t.name, side: 'source' });
    // Largest first, so the long ones start early.
    const size = new Map(stables.map((t) => [key(t), t.bytes]));
    specs.sort((a, b) => (size.get(key(b)) ?? 0) - (size.get(key(a)) ?? 0));
    return await fn({ source: src, target: tgt, pool: new PairPool(src.workers, tgt.workers), specs, missingTables, jobs });
  } finally {
    await Promise.all([src?.close(), tgt?.close()]);
  }
}

/** Compares every table of the session with `compare` (several in flight), then sequences and schema at level full. */
export async function compareAll(s: VerifySession, level: VerifyLevel, compare: (spec: TableSpec) => Promise<TableResult>,
  onProgress?: VerifyOptions['onProgress']): Promise<Omit<VerifyReport, 'durationMs'>> {
  let done = 0;
  // Several tables in flight so small tables do not wait behind a big one's chunks.
  const tables = await mapLimit(s.specs, s.jobs * 2, async (spec) => {
    const r = await compare(spec);
    onProgress?.(++done, s.specs.length, key(spec));
    return r;
  });
  tables.sort((a, b) => key(a).localeCompare(key(b)));
  const report: Omit<VerifyReport, 'durationMs'> = {
    ok: false, level, jobs: s.jobs, tables, missingTables: s.missingTables,
    summary: { tables: tables.length, tablesDiffering: 0, rowDifferences: 0, sequencesBehind: 0, schemaDifferences: 0 },
  };
  if (level === 'full') {
    [report.sequences, report.schema] = await Promise.all([
      compareSequences(s.source.leader, s.target.leader),
      // node-postgres queues queries per client, so both may share the (idle) leaders.
      compareSchema(s.source.leader, s.target.leader),
    ]);
  }
  const sm = report.summary;
  sm.tablesDiffering = tables.filter((t) => t.status !== 'same').length + s.missingTables.length;
  sm.rowDifferences = tables.reduce((n, t) => n + t.differenceCount, 0);
  sm.sequencesBehind = (report.sequences ?? []).filter((q) => q.status === 'behind on target' || q.status === 'missing on target').length;
  sm.schemaDifferences = (report.schema ?? []).length;
  report.ok = sm.tablesDiffering === 0 && sm.sequencesBehind === 0 && sm.schemaDifferences === 0;
  return report;
}

export async function verify(o: VerifyOptions): Promise<VerifyReport> {
  const t0 = Date.now();
  const level = o.level ?? 'checksums';
  const opts = compareOptions(o);
  const report = await withVerifySession(o, (s) =>
    compareAll(s, level, (spec) => (level === 'counts' ? countTable(s.pool, spec) : checksumTable(s.pool, spec, opts)), o.onProgress));
  return { ...report, durationMs: Date.now() - t0 };
}

async function columns(c: pg.Client, schema: string, name: string): Promise<ColumnInfo[]> {
  return (await c.query<ColumnInfo>(loadSql(import.meta.url, 'sql/columns.sql'), [schema, name])).rows;
}

async function tableSpec(s: pg.Client, t: pg.Client, tf: TableFacts): Promise<TableSpec> {
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

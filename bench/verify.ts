/**
 * Verify benchmark on a generated database of about --gb GB copied by cutover: alternating rounds of
 *   cutover verify (checksums, -j J),
 *   pgcopydb compare data's method: per table count(1) + sum(hashtext(row::text)), both sides at once,
 *     J sessions per side (run here as SQL: Debian's pgcopydb 0.10 has no `compare` command),
 *   the floor: count(*) of every table on both sides, J sessions per side (one read of each side).
 *   npx tsx bench/verify.ts --gb 3 --rounds 3 --jobs 2
 * With --baseline PATH/TO/dist/cli/main.js (another build, e.g. before a change) its verify runs in the same
 * rounds, alternating; --full also times `--level full` (sequences, schema, privileges) of both builds.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { startClusters, stopAllClusters, createSampleDatabase, SAMPLE_BYTES_PER_ROW } from '../src/testing/index.js';
import { copy } from '../src/dump/copy/copy.js';
import { mapLimit } from '../src/lib/pool.js';
import { qualify } from '../src/pg/sql.js';
import { arg, report, timed, type Sample, recordSamples } from './lib.js';
import { openSnapshotGroup } from '../src/pg/snapshot.js';
import { databaseIdentity } from '../src/pg/identity.js';
import { rlsFilteredTables } from '../src/pg/rls.js';
import { compareLargeObjects } from '../src/verify/large-objects.js';
import { comparePrivileges } from '../src/verify/privileges.js';
import { compareSchemaObjects } from '../src/verify/schema.js';
import { compareSequences } from '../src/verify/sequences.js';

const gb = Number(arg('gb', '3'));
const rounds = Number(arg('rounds', '3'));
const jobs = Number(arg('jobs', '2'));
const CLI = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
const baseline = arg('baseline', '');
const full = arg('full', 'no') !== 'no';
const settings = { shared_buffers: '1GB', maintenance_work_mem: '1GB', max_wal_size: '8GB', checkpoint_timeout: '30min' };

const [src, dst] = await startClusters([{ version: 15, settings }, { version: 15, settings }]);
const work = await mkdtemp(join(tmpdir(), 'cutover-vbench-'));

/** Runs `sql(table)` for every table on both sides, `jobs` sessions per side. */
async function perTable(sqlFor: (table: string) => string): Promise<number> {
  const t0 = process.hrtime.bigint();
  const sides = [src!.url('bench'), dst!.url('bench')];
  await Promise.all(sides.map(async (url) => {
    const clients = await Promise.all(Array.from({ length: jobs }, async () => { const c = new pg.Client({ connectionString: url }); await c.connect(); return c; }));
    const tables = (await clients[0]!.query<{ s: string; n: string }>(`SELECT n.nspname s, c.relname n FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_' ORDER BY pg_table_size(c.oid) DESC`)).rows;
    const free = [...clients];
    await mapLimit(tables, jobs, async (t) => {
      const c = free.pop()!;
      try { await c.query(sqlFor(qualify(t.s, t.n))); } finally { free.push(c); }
    });
    await Promise.all(clients.map((c) => c.end()));
  }));
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

try {
  await src!.createDatabase('bench');
  await dst!.createDatabase('bench');
  await createSampleDatabase(src!.url('bench'), { rows: Math.round((gb * 1024 ** 3) / SAMPLE_BYTES_PER_ROW) });
  await copy({ source: src!.params('bench'), target: dst!.params('bench'), dir: join(work, 'copy'), jobs: 2 });
  const size = (await src!.query<{ s: string }>(`SELECT pg_size_pretty(pg_database_size('bench')) s`)).rows[0]!.s;
  console.log(`source and target: ${size} each (identical copy)`);
  const methods: Record<string, () => Promise<number>> = {
    'cutover verify': () => timed('node', [CLI, 'verify', '--source', 'env:S', '--target', 'env:T', '-j', String(jobs)], { S: src!.url('bench'), T: dst!.url('bench') }),
    'pgcopydb compare data (method)': () => perTable((t) => `SELECT count(1), sum(hashtext(x::text)::bigint) FROM ONLY ${t} x`),
    'count(*) floor': () => perTable((t) => `SELECT count(*) FROM ONLY ${t}`),
  };
  const env = { S: src!.url('bench'), T: dst!.url('bench') };
  if (baseline) methods['baseline verify'] = () => timed('node', [baseline, 'verify', '--source', 'env:S', '--target', 'env:T', '-j', String(jobs)], env);
  if (full) methods['cutover verify --level full'] = () => timed('node', [CLI, 'verify', '--level', 'full', '--source', 'env:S', '--target', 'env:T', '-j', String(jobs)], env);
  if (full && baseline) methods['baseline verify --level full'] = () => timed('node', [baseline, 'verify', '--level', 'full', '--source', 'env:S', '--target', 'env:T', '-j', String(jobs)], env);
  const samples: Sample[] = [];
  for (let round = 1; round <= rounds; round++) {
    const order = Object.keys(methods);
    if (round % 2 === 0) order.reverse();
    for (const m of order) {
      const seconds = await methods[m]!();
      samples.push({ method: m, round, seconds });
      console.log(`round ${round}: ${m} ${seconds.toFixed(1)} s`);
    }
  }
  if (arg('parts', 'no') !== 'no') {
    // The fixed cost of each part verify compares besides the rows, measured alone (no row reading to hide
    // in): the same calls verify makes, on one snapshot per side, 5 times each.
    const [a, b] = await Promise.all([openSnapshotGroup(src!.params('bench'), 'bench-parts', 0), openSnapshotGroup(dst!.params('bench'), 'bench-parts', 0)]);
    const parts: Record<string, () => Promise<unknown>> = {
      'identity + RLS check': () => Promise.all([databaseIdentity(a.leader, src!.params('bench')), databaseIdentity(b.leader, dst!.params('bench')), rlsFilteredTables(a.leader), rlsFilteredTables(b.leader)]),
      'large objects (with content)': () => compareLargeObjects(a.leader, b.leader, { content: true }),
      'sequences (as before)': () => compareSequences(a.leader, b.leader),
      'schema (search_path pinned, deparse when majors differ)': () => compareSchemaObjects(a.leader, b.leader, { source: src!.params('bench'), target: dst!.params('bench') }),
      'privileges': () => comparePrivileges(a.leader, b.leader),
    };
    for (const [name, fn] of Object.entries(parts)) {
      const ms: number[] = [];
      for (let i = 0; i < 5; i++) { const t0 = process.hrtime.bigint(); await fn(); ms.push(Number(process.hrtime.bigint() - t0) / 1e6); }
      console.log(`part ${name}: ${ms.map((x) => x.toFixed(0)).join(', ')} ms`);
    }
    await Promise.all([a.close(), b.close()]);
  }
  const refs = ['pgcopydb compare data (method)', 'count(*) floor', ...(baseline ? ['baseline verify'] : []), ...(full && baseline ? ['baseline verify --level full'] : [])];
  console.log('\n' + report(samples, refs));
  recordSamples(`verify ${gb} GB, -j ${jobs}`, samples, refs);
} finally {
  await stopAllClusters();
  await rm(work, { recursive: true, force: true });
}

/**
 * Copy benchmark: on a generated database of about --gb GB, alternating rounds of
 *   cutover copy (-j J), cutover dump + restore (-j J), pg_dump -Fd -j J + pg_restore -j J, and
 *   pgcopydb clone --table-jobs J --index-jobs J (if installed: apt install pgcopydb),
 * between two local PostgreSQL 15 servers. Prints each run, medians and ratios, and cutover copy's phases.
 *   npx tsx bench/copy.ts --gb 3 --rounds 3 --jobs 2
 * `--compare-cli PATH[,PATH...]` adds "cutover copy (compared build ...)": other builds' dist/cli/main.js
 * (e.g. the branch point), alternating with this one, to measure what a change costs. For a compared
 * build the REFRESH of the materialized views it left unpopulated (builds before the fidelity work did)
 * is timed after its copy, giving "... + REFRESH": the same end state as this build's copy.
 * `--skip NAME[,NAME...]` leaves methods out (e.g. "cutover dump+restore").
 */
import { mkdtemp, rm, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { startClusters, stopAllClusters, createSampleDatabase, SAMPLE_BYTES_PER_ROW } from '../src/testing/index.js';
import { arg, report, timed, type Sample, recordSamples } from './lib.js';
import { childCredentials } from '../src/pg/child-env.js';
import { urlWithoutPassword } from '../src/pg/conninfo.js';

const gb = Number(arg('gb', '3'));
const rounds = Number(arg('rounds', '3'));
const jobs = arg('jobs', '2');
const CLI = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
const compareClis = arg('compare-cli', '').split(',').filter(Boolean);
const skip = new Set(arg('skip', '').split(',').filter(Boolean));
// A compared build is named by the folder holding its dist/ (e.g. /work/build-78a5601 -> 78a5601).
const buildName = (cli: string) => cli.replace(/\/dist\/cli\/main\.js$/, '').split('/').at(-1)!.replace(/^build-/, '');
// Same settings on both servers for every method (durability off as in the test harness).
const settings = { shared_buffers: '1GB', maintenance_work_mem: '1GB', max_wal_size: '8GB', checkpoint_timeout: '30min', max_connections: 100 };

const [src, dst] = await startClusters([{ version: 15, settings }, { version: 15, settings }]);
const work = await mkdtemp(join(tmpdir(), 'cutover-bench-'));
try {
  await src!.createDatabase('bench');
  const rows = Math.round((gb * 1024 ** 3) / SAMPLE_BYTES_PER_ROW);
  const t0 = Date.now();
  await createSampleDatabase(src!.url('bench'), { rows });
  // pgcopydb 0.10 (Debian bookworm) fails on identifiers containing double quotes (it does not escape
  // them); the two tiny hostile-name tables are dropped so every tool copies the same database.
  await src!.query('DROP SCHEMA "Ünïcode ""Schema""" CASCADE; DROP TABLE app."Table With Spaces & ""Quotes"""', [], 'bench');
  console.log('note: hostile-name tables dropped for the benchmark (pgcopydb 0.10 cannot copy them)');
  // Set hint bits and freeze once, so the first tool to read the fresh rows does not pay for it.
  await src!.query('VACUUM (FREEZE, ANALYZE)', [], 'bench');
  // ... and write out what that dirtied now, not during the first method's run (a checkpoint in the
  // middle of round 1 made whichever tool ran first 20-30 % slower).
  await src!.query('CHECKPOINT', [], 'bench');
  const size = (await src!.query<{ s: string }>(`SELECT pg_size_pretty(pg_database_size('bench')) s`)).rows[0]!.s;
  console.log(`source: ${size} (rows=${rows}), generated in ${((Date.now() - t0) / 1000).toFixed(0)} s`);

  // Reference tools get passwords from a 0600 passfile (PGPASSFILE), never argv.
  const creds = await childCredentials('bench', undefined, [{ params: src!.params('bench') }, { params: dst!.params('bench') }]);
  const S = urlWithoutPassword(src!.params('bench')), T = urlWithoutPassword(dst!.params('bench'));
  const SP = { PGPASSFILE: creds.env.PGPASSFILE }, TP = SP;
  const hasPgcopydb = (await execa('pgcopydb', ['--version'], { reject: false })).exitCode === 0;
  const reset = async () => { await dst!.createDatabase('bench'); await rm(join(work, 'x'), { recursive: true, force: true }); };
  // Seconds spent making the target's matviews populated as on the source (after a compared build's copy).
  const refreshed = new Map<string, number>();
  const refreshLikeSource = async (label: string) => {
    const want = (await src!.query<{ n: string }>(`SELECT format('%I.%I', schemaname, matviewname) n FROM pg_matviews WHERE ispopulated ORDER BY 1`, [], 'bench')).rows.map((r) => r.n);
    const t = Date.now();
    // Creation order (oid) respects dependencies between matviews.
    const todo = (await dst!.query<{ n: string }>(`SELECT format('%I.%I', n.nspname, c.relname) n FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind = 'm' AND NOT c.relispopulated ORDER BY c.oid`, [], 'bench')).rows.map((r) => r.n).filter((n) => want.includes(n));
    for (const n of todo) await dst!.query(`REFRESH MATERIALIZED VIEW ${n}`, [], 'bench');
    refreshed.set(label, (Date.now() - t) / 1000);
  };
  const copyWith = (cli: string) => () => timed('node', [cli, 'copy', '--source', 'env:S', '--target', 'env:T', '-j', jobs, '--dir', join(work, 'x')], { S: src!.url('bench'), T: dst!.url('bench') });
  const all: Record<string, () => Promise<number>> = {
    'cutover copy': copyWith(CLI),
    ...Object.fromEntries(compareClis.map((cli) => [`cutover copy (${buildName(cli)})`, async () => {
      const s = await copyWith(cli)();
      await refreshLikeSource(`cutover copy (${buildName(cli)})`);
      return s;
    }])),
    'cutover dump+restore': async () =>
      (await timed('node', [CLI, 'dump', '--source', 'env:S', '--dir', join(work, 'x'), '-j', jobs], { S: src!.url('bench') })) +
      (await timed('node', [CLI, 'restore', '--target', 'env:T', '--dir', join(work, 'x'), '-j', jobs], { T: dst!.url('bench') })),
    'pg_dump+pg_restore': async () =>
      (await timed('pg_dump', ['-d', S, '-Fd', '-j', jobs, '--no-owner', '--no-acl', '-f', join(work, 'x')], SP)) +
      (await timed('pg_restore', ['-d', T, '-j', jobs, '--no-owner', '--no-acl', join(work, 'x')], TP)),
    ...(hasPgcopydb ? {
      pgcopydb: () => timed('pgcopydb', ['clone', '--source', S, '--target', T, '--table-jobs', jobs, '--index-jobs', jobs,
        '--dir', join(work, 'x'), '--no-owner', '--no-acl'], SP, true),
    } : {}),
  };
  const methods = Object.fromEntries(Object.entries(all).filter(([m]) => !skip.has(m)));
  if (!hasPgcopydb) console.log('pgcopydb not installed (apt install pgcopydb): left out');
  const samples: Sample[] = [];
  let lastSummary = '';
  const lastCompared = new Map<string, string>();
  for (let round = 1; round <= rounds; round++) {
    // Alternate the order each round so no method always runs on a warmer cache.
    const order = Object.keys(methods);
    if (round % 2 === 0) order.reverse();
    for (const m of order) {
      await reset();
      const seconds = await methods[m]!();
      samples.push({ method: m, round, seconds });
      const r = refreshed.get(m);
      if (r !== undefined) {
        samples.push({ method: `${m} + REFRESH`, round, seconds: seconds + r });
        refreshed.delete(m);
      }
      console.log(`round ${round}: ${m} ${seconds.toFixed(1)} s${r !== undefined ? ` (+ REFRESH of its unpopulated matviews ${r.toFixed(1)} s)` : ''}`);
      if (m === 'cutover copy') lastSummary = await readFile(join(work, 'x', 'summary.json'), 'utf8');
      else if (m.startsWith('cutover copy (')) lastCompared.set(m, await readFile(join(work, 'x', 'summary.json'), 'utf8').catch(() => ''));
    }
  }
  console.log('\n' + report(samples, ['pg_dump+pg_restore', ...(hasPgcopydb ? ['pgcopydb'] : [])]));
  recordSamples(`copy ${gb} GB, -j ${jobs}`, samples, ['pg_dump+pg_restore', 'pgcopydb']);
  for (const [label, text] of [['cutover copy', lastSummary], ...lastCompared] as const) {
    if (!text) continue;
    const s = JSON.parse(text) as { phases: { phase: string; durationMs: number; concurrency: number }[] };
    console.log(`\n${label} phases (last run):`);
    for (const p of s.phases) console.log(`  ${p.phase.padEnd(48)} ${(p.durationMs / 1000).toFixed(1).padStart(6)} s  x${p.concurrency}`);
  }
} finally {
  await stopAllClusters();
  await rm(work, { recursive: true, force: true });
}

/**
 * Change-capture benchmark (not part of npm test), on local PostgreSQL 15 servers:
 *
 *   capture  Source throughput with capture off, row triggers, statement triggers and a minimal key-only
 *            row trigger (the reference: one INSERT of txid, table and key per row), alternating in one
 *            run: pgbench tpcb-like (4 clients, --seconds each; every table captured, pgbench_history
 *            without a key, so by its whole row) and one bulk UPDATE of --bulk rows.
 *   keyless  A history table with and without a key: single-row INSERTs (pgbench, 4 clients) with capture
 *            off / keyed / keyless, alternating; then the applier on a backlog of --bulk inserted rows,
 *            and of 1,000 deleted rows, keyed vs keyless.
 *   lo       Large objects in the fence: --los objects of 64 kB; the cutover's "large objects" phase
 *            with nothing changed, and after creating, rewriting, granting and unlinking some.
 *   apply    Apply throughput on a backlog (one UPDATE of --bulk rows, then the applier drains it), and
 *            lag under a steady pgbench load at --rate TPS (per-batch lag: previous tick to commit).
 *   outage   `replicate cutover` on a sample database of --gb GB under a steady write load: the write
 *            outage (fence to verified) and its phases, with verify full and verify incremental
 *            alternating (--rounds each).
 *
 *   pooler   `replicate cutover` with `fence: pooler` through a real PgBouncer (transaction pooling) in front
 *            of a sample database of --gb GB with pgbench tables in it: pgbench at --rate TPS (4 clients)
 *            through the pooler during the whole cutover, per-transaction latency logged (-l). Prints the
 *            pause (PAUSE to RESUME, longest client wait), failed transactions, and the latency max and
 *            p99 of the transactions around the switch against the same run's steady state before it
 *            (the reference: what the clients see when nothing is switched). --rounds switches, each onto
 *            a fresh copy.
 *
 *   window   The rollback window at --gb GB under writers, --rounds rounds: the forward cutover with
 *            `window: true` (its outage, including opening the window), the application's writers on the
 *            target for --seconds with the window's capture on, the rollback under them (its outage),
 *            finish, then the same writers on the target for --seconds without capture (the reference
 *            for the capture's cost on the target). Each round starts again from a fresh copy.
 *
 *   npx tsx bench/replicate.ts --part all --rounds 3 --seconds 20 --bulk 1000000 --rate 1000 --gb 1 --los 1000
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { startClusters, stopAllClusters, createSampleDatabase, createSampleWriter, startWorkload, SAMPLE_BYTES_PER_ROW, type Cluster } from '../src/testing/index.js';
import { childCredentials } from '../src/pg/child-env.js';
import { installCapture, type CaptureMode } from '../src/replicate/capture.js';
import { teardown } from '../src/replicate/teardown.js';
import { Applier, type BatchResult } from '../src/replicate/apply.js';
import { cutover } from '../src/replicate/cutover.js';
import { copy } from '../src/dump/copy/copy.js';
import { readdir, readFile } from 'node:fs/promises';
import { startPgBouncer } from '../src/testing/pgbouncer.js';
import { PgBouncerAdmin } from '../src/pooler/admin.js';
import { unfence } from '../src/replicate/cutover.js';
import { arg, median, record } from './lib.js';
import { rollback } from '../src/replicate/rollback.js';
import { finish } from '../src/replicate/window.js';

const part = arg('part', 'all');
const rounds = Number(arg('rounds', '3'));
const seconds = Number(arg('seconds', '20'));
const bulk = Number(arg('bulk', '1000000'));
const rate = Number(arg('rate', '1000'));
const gb = Number(arg('gb', '1'));
const los = Number(arg('los', '1000'));
const settings = { shared_buffers: '1GB', maintenance_work_mem: '512MB', max_wal_size: '8GB', checkpoint_timeout: '30min', max_connections: 100 };
const work = await mkdtemp(join(tmpdir(), 'cutover-bench-repl-'));
const pct = (xs: number[], p: number) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor(p * s.length))] ?? 0; };

async function pgbench(c: Cluster, db: string, args: string[]): Promise<string> {
  const creds = await childCredentials('bench', c.params(db));
  try {
    const r = await execa('pgbench', args, { env: { ...creds.env, PGAPPNAME: 'pgbench' }, extendEnv: true, all: true });
    return String(r.all);
  } finally {
    await creds.cleanup();
  }
}

async function pgbenchInit(c: Cluster, db: string, scale: number) {
  await c.createDatabase(db);
  await pgbench(c, db, ['-i', '-q', '-s', String(scale)]);
  // pgbench_history has no key: captured by its whole row.
  await c.query(`CREATE TABLE bulk (id int PRIMARY KEY, v int NOT NULL); INSERT INTO bulk SELECT g, 0 FROM generate_series(1, ${bulk}) g`, [], db);
  await c.query('VACUUM ANALYZE', [], db);
}

async function captureOverhead(src: Cluster) {
  console.log(`\n## capture overhead: pgbench tpcb-like -c 4 -T ${seconds}, bulk UPDATE of ${bulk} rows; ${rounds} alternating rounds`);
  await pgbenchInit(src, 'cap', 10);
  const variants = (arg('variants', '') || '').split(',').filter(Boolean);
  const modes: string[] = ['off', 'row', 'statement', 'key-only', ...variants];
  const tps: Record<string, number[]> = {}, bulkS: Record<string, number[]> = {};
  for (let round = 1; round <= rounds; round++) {
    const order = round % 2 ? modes : [...modes].reverse();
    for (const m of order) {
      await teardown({ source: src.params('cap') });
      await src.query('DROP TABLE IF EXISTS ref_log; DROP FUNCTION IF EXISTS ref_capture() CASCADE', [], 'cap');
      if (m === 'key-only') await keyOnlyReference(src, 'cap');
      else if (m !== 'off') await installCapture({ source: src.params('cap'), mode: m.split('+')[0] as CaptureMode });
      // Experiments: --variants row+unlogged,row+nobrin
      if (m.includes('+unlogged')) await src.query('ALTER TABLE _cutover.log_0 SET UNLOGGED; ALTER TABLE _cutover.log_1 SET UNLOGGED; ALTER TABLE _cutover.log_2 SET UNLOGGED', [], 'cap');
      if (m.includes('+nobrin')) await src.query('DROP INDEX _cutover.log_0_txid, _cutover.log_1_txid, _cutover.log_2_txid', [], 'cap');
      await src.query('VACUUM', [], 'cap');
      const out = await pgbench(src, 'cap', ['-n', '-c', '4', '-j', '2', '-T', String(seconds), '-b', 'tpcb-like']);
      const t = Number(/tps = ([\d.]+) \(without initial connection time\)/.exec(out)?.[1] ?? /tps = ([\d.]+)/.exec(out)![1]);
      const t0 = process.hrtime.bigint();
      await src.query('UPDATE bulk SET v = v + 1', [], 'cap');
      const b = Number(process.hrtime.bigint() - t0) / 1e9;
      (tps[m] ??= []).push(t);
      (bulkS[m] ??= []).push(b);
      console.log(`round ${round}: capture ${m.padEnd(9)} tpcb-like ${t.toFixed(0)} TPS, bulk UPDATE ${b.toFixed(2)} s`);
    }
  }
  await teardown({ source: src.params('cap') });
  console.log('\n| capture | TPS runs | TPS median | vs off | bulk UPDATE runs (s) | median (s) | vs off |\n|---|---|---|---|---|---|---|');
  for (const m of modes) {
    console.log(`| ${m} | ${tps[m]!.map((x) => x.toFixed(0)).join(', ')} | ${median(tps[m]!).toFixed(0)} | ${(median(tps[m]!) / median(tps.off!)).toFixed(2)}x | ` +
      `${bulkS[m]!.map((x) => x.toFixed(2)).join(', ')} | ${median(bulkS[m]!).toFixed(2)} | ${(median(bulkS[m]!) / median(bulkS.off!)).toFixed(2)}x |`);
    if (m !== 'off') {
      record([
        { bench: 'capture overhead', what: `${m} triggers: pgbench tpcb-like`, value: median(tps[m]!), unit: 'TPS', ratios: { 'capture off': median(tps[m]!) / median(tps.off!) } },
        { bench: 'capture overhead', what: `${m} triggers: bulk UPDATE of ${bulk} rows`, value: median(bulkS[m]!), unit: 's', ratios: { 'capture off': median(bulkS[m]!) / median(bulkS.off!) } },
      ]);
    }
  }
}

/**
 * The reference: the least a trigger can do to capture changes by key. One plain row trigger per table
 * inserting (txid, table, key) into one table; no partitioned log, no SECURITY DEFINER, no update check.
 */
async function keyOnlyReference(c: Cluster, db: string) {
  await c.query(`CREATE TABLE ref_log (txid bigint, relid oid, k int);
    CREATE FUNCTION ref_capture() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      INSERT INTO ref_log VALUES (txid_current(), TG_RELID, CASE WHEN TG_OP = 'DELETE' THEN (to_jsonb(OLD)->>TG_ARGV[0])::int ELSE (to_jsonb(NEW)->>TG_ARGV[0])::int END);
      RETURN NULL;
    END $$;`, [], db);
  for (const [t, k] of [['pgbench_accounts', 'aid'], ['pgbench_branches', 'bid'], ['pgbench_tellers', 'tid'], ['pgbench_history', 'aid'], ['bulk', 'id']]) {
    await c.query(`CREATE TRIGGER ref AFTER INSERT OR UPDATE OR DELETE ON ${t} FOR EACH ROW EXECUTE FUNCTION ref_capture('${k}')`, [], db);
  }
}

async function keylessCost(src: Cluster, dst: Cluster) {
  console.log(`\n## keyless tables: single-row INSERTs (pgbench -c 4 -T ${seconds}), ${rounds} alternating rounds; apply of ${bulk} inserts and 1,000 deletes`);
  const cols = 'aid int, bid int, delta int, mtime timestamp, filler char(22)';
  await src.createDatabase('kl');
  await src.query(`CREATE TABLE hist_keyed (hid bigserial PRIMARY KEY, ${cols}); CREATE TABLE hist_keyless (${cols})`, [], 'kl');
  const { writeFile } = await import('node:fs/promises');
  const script = (t: string) => join(work, `${t}.sql`);
  for (const t of ['hist_keyed', 'hist_keyless']) {
    await writeFile(script(t), `\\set aid random(1, 100000)\nINSERT INTO ${t} (aid, bid, delta, mtime, filler) VALUES (:aid, 1, 5, now(), 'x');\n`);
  }
  const variants = ['off', 'keyed', 'keyless'];
  const tps: Record<string, number[]> = {};
  for (let round = 1; round <= rounds; round++) {
    for (const v of round % 2 ? variants : [...variants].reverse()) {
      await teardown({ source: src.params('kl') });
      const t = v === 'keyless' ? 'hist_keyless' : 'hist_keyed';
      if (v !== 'off') await installCapture({ source: src.params('kl'), tables: [`public.${t}`] });
      await src.query('TRUNCATE hist_keyed, hist_keyless', [], 'kl');
      await src.query('VACUUM', [], 'kl');
      const out = await pgbench(src, 'kl', ['-n', '-c', '4', '-j', '2', '-T', String(seconds), '-f', script(t)]);
      const x = Number(/tps = ([\d.]+)/.exec(out)![1]);
      (tps[v] ??= []).push(x);
      console.log(`round ${round}: capture ${v.padEnd(8)} single-row INSERT ${x.toFixed(0)} TPS`);
    }
  }
  console.log('\n| capture | TPS runs | median | vs off |\n|---|---|---|---|');
  for (const v of variants) console.log(`| ${v} | ${tps[v]!.map((x) => x.toFixed(0)).join(', ')} | ${median(tps[v]!).toFixed(0)} | ${(median(tps[v]!) / median(tps.off!)).toFixed(2)}x |`);
  record(variants.filter((v) => v !== 'off').map((v) => ({ bench: 'keyless capture', what: `${v}: single-row INSERT into a history table`, value: median(tps[v]!), unit: 'TPS', ratios: { 'capture off': median(tps[v]!) / median(tps.off!) } })));

  // Apply: a backlog of inserts, then of deletes, on each table.
  await teardown({ source: src.params('kl') });
  await src.query('TRUNCATE hist_keyed, hist_keyless', [], 'kl');
  await installCapture({ source: src.params('kl') });
  await dst.createDatabase('kl');
  await copy({ source: src.params('kl'), target: dst.params('kl'), dir: join(work, 'copy-kl'), jobs: 2 });
  const a = await Applier.open({ source: src.params('kl'), target: dst.params('kl') });
  try {
    await a.run({ until: (b) => b.events === 0 });
    for (const t of ['hist_keyed', 'hist_keyless']) {
      for (const [what, sql] of [
        [`${bulk} inserted rows`, `INSERT INTO ${t} (aid, bid, delta, mtime, filler) SELECT g % 100000, 1, g % 7, now(), 'x' FROM generate_series(1, ${bulk}) g`],
        [`1,000 deleted rows (of ${bulk})`, `DELETE FROM ${t} WHERE ctid IN (SELECT ctid FROM ${t} LIMIT 1000)`],
      ] as const) {
        await src.query(sql, [], 'kl');
        const t0 = Date.now(), e0 = a.totals.events;
        const snap = await a.sourceSnapshot();
        await a.run({ until: () => a.covers(snap) });
        const sec = (Date.now() - t0) / 1000;
        console.log(`apply ${t}: ${what}: ${(a.totals.events - e0)} events in ${sec.toFixed(2)} s (${((a.totals.events - e0) / sec).toFixed(0)} rows/s)`);
        record([{ bench: 'keyless apply', what: `${t}: ${what}`, value: sec, unit: 's' }]);
      }
    }
  } finally {
    await a.close();
  }
  await teardown({ source: src.params('kl'), target: dst.params('kl') });
}

async function largeObjects(src: Cluster, dst: Cluster) {
  console.log(`\n## large objects in the fence: sample database with ${los} large objects of 64 kB`);
  await src.createDatabase('lo');
  await createSampleDatabase(src.url('lo'), { rows: 2000 });
  await src.query(`SELECT lo_from_bytea(0, convert_to(repeat(md5(g::text), 2048), 'UTF8')) FROM generate_series(1, ${los}) g`, [], 'lo');
  await dst.createDatabase('lo');
  await installCapture({ source: src.params('lo') });
  await copy({ source: src.params('lo'), target: dst.params('lo'), dir: join(work, 'copy-lo'), jobs: 2 });
  const { unfence } = await import('../src/replicate/cutover.js');
  const n = Math.max(1, Math.round(los / 20));
  for (const changed of [false, true, false, true]) {
    if (changed) {
      await src.query(`SELECT lo_from_bytea(0, convert_to(repeat('new', 20000), 'UTF8')) FROM generate_series(1, ${n});
        SELECT lo_put(oid, 100, '\\x00ff') FROM (SELECT oid FROM pg_largeobject_metadata ORDER BY oid DESC OFFSET ${n} LIMIT ${n}) x;
        SELECT lo_unlink(oid) FROM (SELECT oid FROM pg_largeobject_metadata ORDER BY oid LIMIT ${n}) x;`, [], 'lo');
    }
    const notes: string[] = [];
    const r = await cutover({ source: src.params('lo'), target: dst.params('lo'), fence: 'manual', confirm: async () => undefined, verify: 'none', onNote: (m) => notes.push(m) });
    const ph = r.phases.find((p) => p.phase === 'large objects')!.durationMs;
    console.log(`cutover: write outage ${(r.outageMs / 1000).toFixed(2)} s, of which large objects ${(ph / 1000).toFixed(2)} s (${changed ? `${n} created, ${n} rewritten, ${n} unlinked` : 'nothing changed'}); ${notes.filter((x) => /large objects/.test(x)).join('')}`);
    record([{ bench: `large objects in the fence (${los} x 64 kB)`, what: changed ? `${n} created, ${n} rewritten, ${n} unlinked` : 'nothing changed (compare only)', value: ph / 1000, unit: 's' }]);
    await unfence(src.params('lo'));
  }
  await teardown({ source: src.params('lo'), target: dst.params('lo') });
}

async function applyAndLag(src: Cluster, dst: Cluster) {
  console.log(`\n## apply: a backlog of ${bulk} updated rows, then lag under pgbench at ${rate} TPS for ${seconds} s`);
  await pgbenchInit(src, 'app', 10);
  await dst.createDatabase('app');
  await installCapture({ source: src.params('app'), mode: 'row' });
  await copy({ source: src.params('app'), target: dst.params('app'), dir: join(work, 'copy-app'), jobs: 2 });
  // A table read again in full (a rewrite the storage check saw) would dominate a batch: said if it happens.
  const a = await Applier.open({ source: src.params('app'), target: dst.params('app'), onNote: (m) => { if (/read again/.test(m)) console.log(`note: ${m}`); } });
  try {
    await a.run({ until: (b) => b.events === 0 });
    const rates: number[] = [];
    for (let round = 1; round <= rounds; round++) {
      await src.query('UPDATE bulk SET v = v + 1', [], 'app');
      const e0 = a.totals.events, t0 = Date.now();
      const snap = await a.sourceSnapshot();
      await a.run({ until: () => a.covers(snap) });
      const s = (Date.now() - t0) / 1000;
      console.log(`round ${round}: applied ${a.totals.events - e0} events (${bulk} rows) in ${s.toFixed(2)} s: ${((a.totals.events - e0) / s).toFixed(0)} rows/s`);
      rates.push((a.totals.events - e0) / s);
    }
    record([{ bench: 'apply', what: `backlog of ${bulk} updated rows`, value: median(rates), unit: 'rows/s' }]);
    const lags: number[] = [];
    const e0 = a.totals.events;
    const load = pgbench(src, 'app', ['-n', '-c', '4', '-j', '2', '-R', String(rate), '-T', String(seconds), '-b', 'tpcb-like']);
    let done = false;
    void load.finally(() => { done = true; });
    const t0 = Date.now();
    await a.run({ onBatch: (b: BatchResult) => { if (b.events) lags.push(b.lagMs); }, until: () => done });
    const out = await load;
    const tps = /tps = ([\d.]+)/.exec(out)?.[1];
    console.log(`steady load: pgbench ${tps} TPS; applied ${a.totals.events - e0} events in ${lags.length} batches over ${((Date.now() - t0) / 1000).toFixed(0)} s; ` +
      `lag p50 ${pct(lags, 0.5)} ms, p95 ${pct(lags, 0.95)} ms, max ${Math.max(...lags)} ms (the first batch of the load: ${lags[0]} ms)`);
    record([{ bench: 'apply', what: `lag p95 under pgbench at ${Math.round(Number(tps))} TPS`, value: pct(lags, 0.95), unit: 'ms' }]);
    const r = await a.rotate(true);
    console.log(`log rotation: ${r} applied events removed by TRUNCATE`);
  } finally {
    await a.close();
  }
}

async function outage(src: Cluster, dst: Cluster) {
  console.log(`\n## cutover outage: sample database of ~${gb} GB under a steady write load`);
  await src.createDatabase('out');
  const rows = Math.round((gb * 1024 ** 3) / SAMPLE_BYTES_PER_ROW);
  await createSampleDatabase(src.url('out'), { rows });
  const appUrl = await createSampleWriter(src, 'out', 'app_writer', 'bench-pw');
  await src.query('VACUUM ANALYZE', [], 'out');
  const size = (await src.query<{ s: string }>(`SELECT pg_size_pretty(pg_database_size('out')) s`)).rows[0]!.s;
  await dst.createDatabase('out');
  await installCapture({ source: src.params('out'), excludeTables: ['billing.audit_log'] });
  let load = startWorkload({ url: appUrl, clients: 2, pauseMs: 5 });
  let loadStart = Date.now();
  const t0 = Date.now();
  await copy({ source: src.params('out'), target: dst.params('out'), dir: join(work, 'copy-out'), jobs: 2 });
  console.log(`source ${size}; copied under load in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  // verify full compares every row in the fence; incremental compares every row before it and in it only
  // what changed since. Alternating, the order reversed every round; each cutover is unfenced after.
  const { unfence } = await import('../src/replicate/cutover.js');
  const outages: Record<string, number[]> = { full: [], incremental: [] };
  for (let round = 0; round < rounds; round++) {
    const levels = round % 2 ? (['incremental', 'full'] as const) : (['full', 'incremental'] as const);
    for (const level of levels) {
      await load.waitForCommits(200);
      const notes: string[] = [];
      const r = await cutover({ source: src.params('out'), target: dst.params('out'), fence: 'revoke', roles: ['app_writer'], verify: level, onNote: (m) => notes.push(m) });
      const st = await load.stop();
      outages[level]!.push(r.outageMs / 1000);
      console.log(`cutover (verify ${level}): write outage ${(r.outageMs / 1000).toFixed(2)} s; writers committed ${st.commits} transactions ` +
        `(${(st.commits / Math.max(1, (Date.parse(r.fencedAt) - loadStart) / 1000)).toFixed(0)}/s) before the fence; phases: ${r.phases.map((p) => `${p.phase} ${(p.durationMs / 1000).toFixed(2)} s`).join(', ')}`);
      for (const n of notes.filter((x) => /verify/.test(x))) console.log(`  ${n}`);
      await unfence(src.params('out'));
      load = startWorkload({ url: appUrl, clients: 2, pauseMs: 5 });
      loadStart = Date.now();
    }
  }
  await load.stop();
  const mf = median(outages.full!), mi = median(outages.incremental!);
  console.log(`\nwrite outage, median of ${rounds}: verify full ${mf.toFixed(2)} s, verify incremental ${mi.toFixed(2)} s (${(mi / mf).toFixed(2)}x)`);
  record([
    { bench: `cutover outage, ${size} under writes`, what: 'write outage (fence to verified, verify full)', value: mf, unit: 's', ratios: { 'verify full': 1 } },
    { bench: `cutover outage, ${size} under writes`, what: 'write outage (fence to verified, verify incremental)', value: mi, unit: 's', ratios: { 'verify full': mi / mf } },
  ]);
  await teardown({ source: src.params('out'), target: dst.params('out') });
}

async function rollbackWindow(src: Cluster, dst: Cluster) {
  console.log(`\n## the rollback window: sample database of ~${gb} GB, writers on the source then on the target; ${rounds} rounds`);
  await src.createDatabase('win');
  const rows = Math.round((gb * 1024 ** 3) / SAMPLE_BYTES_PER_ROW);
  await createSampleDatabase(src.url('win'), { rows });
  const appSrc = await createSampleWriter(src, 'win', 'app_writer', 'bench-pw');
  await dst.query(`DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'app_writer') THEN CREATE ROLE app_writer LOGIN PASSWORD 'bench-pw'; END IF; END $$`);
  await src.query('VACUUM ANALYZE', [], 'win');
  const size = (await src.query<{ s: string }>(`SELECT pg_size_pretty(pg_database_size('win')) s`)).rows[0]!.s;
  const source = src.params('win'), target = dst.params('win');
  const fwd: number[] = [], back: number[] = [], on: number[] = [], off: number[] = [], open: number[] = [];
  const rate = (commits: number, ms: number) => commits / (ms / 1000);
  for (let round = 1; round <= rounds; round++) {
    await dst.query('DROP DATABASE IF EXISTS win WITH (FORCE)');
    await dst.createDatabase('win');
    await installCapture({ source });
    let load = startWorkload({ url: appSrc, clients: 2, pauseMs: 5 });
    await copy({ source, target, dir: join(work, `copy-win-${round}`), jobs: 2 });
    const appTgt = await createSampleWriter(dst, 'win', 'app_writer', 'bench-pw');
    await load.waitForCommits(200);
    const notes: string[] = [];
    const f = await cutover({ source, target, fence: 'triggers', verify: 'incremental', window: true, onNote: (m) => notes.push(`forward: ${m}`) });
    await load.stop();
    fwd.push(f.outageMs / 1000);
    open.push((f.phases.find((p) => p.phase === 'open rollback window')?.durationMs ?? 0) / 1000);
    // The application on the new server, captured for the way back.
    load = startWorkload({ url: appTgt, clients: 2, pauseMs: 5 });
    let t0 = Date.now();
    await new Promise((r) => setTimeout(r, seconds * 1000));
    const n0 = (await load.stop()).commits;
    on.push(rate(n0, Date.now() - t0));
    load = startWorkload({ url: appTgt, clients: 2, pauseMs: 5 });
    await load.waitForCommits(200);
    const r = await rollback({ source, target, fence: 'triggers', verify: 'incremental', onNote: (m) => notes.push(`rollback: ${m}`) });
    await load.stop();
    back.push(r.outageMs / 1000);
    await finish({ source, target });
    await unfence(target);
    // The same writers on the new server without capture: the reference for what the window costs there.
    load = startWorkload({ url: appTgt, clients: 2, pauseMs: 5 });
    t0 = Date.now();
    await new Promise((res) => setTimeout(res, seconds * 1000));
    const n1 = (await load.stop()).commits;
    off.push(rate(n1, Date.now() - t0));
    console.log(`round ${round}: forward cutover (window) outage ${fwd.at(-1)!.toFixed(2)} s (opening the window ${open.at(-1)!.toFixed(2)} s); ` +
      `writers on the target ${on.at(-1)!.toFixed(0)} tx/s captured vs ${off.at(-1)!.toFixed(0)} tx/s not; rollback outage ${back.at(-1)!.toFixed(2)} s ` +
      `(phases: ${r.phases.map((p) => `${p.phase} ${(p.durationMs / 1000).toFixed(2)} s`).join(', ')}); forward phases: ${f.phases.map((p) => `${p.phase} ${(p.durationMs / 1000).toFixed(2)} s`).join(', ')}`);
    for (const n of notes.filter((x) => /verify|window/.test(x))) console.log(`  ${n}`);
  }
  const mf = median(fwd), mb = median(back), mon = median(on), moff = median(off);
  console.log(`\nmedians of ${rounds}: forward outage ${mf.toFixed(2)} s (opening the window ${median(open).toFixed(2)} s), rollback outage ${mb.toFixed(2)} s (${(mb / mf).toFixed(2)}x the forward); ` +
    `target writers with the window's capture ${mon.toFixed(0)} tx/s vs without ${moff.toFixed(0)} tx/s (${(mon / moff).toFixed(2)}x)`);
  record([
    { bench: `rollback window, ${size} under writers`, what: 'forward write outage with window: true (verify incremental)', value: mf, unit: 's', ratios: { forward: 1 } },
    { bench: `rollback window, ${size} under writers`, what: 'rollback write outage (verify incremental)', value: mb, unit: 's', ratios: { forward: mb / mf } },
    { bench: `rollback window, ${size} under writers`, what: 'application transactions on the target, window capture on', value: mon, unit: 'tx/s', ratios: { 'capture off': mon / moff } },
  ]);
}

/** pgbench -l lines (client, tx, latency µs, script, epoch s, epoch µs[, schedule lag µs]) of every file under dir. */
async function pgbenchLog(dir: string): Promise<{ endUs: number; latencyUs: number; lagUs: number }[]> {
  const out: { endUs: number; latencyUs: number; lagUs: number }[] = [];
  for (const f of (await readdir(dir)).filter((x) => x.startsWith('tx.'))) {
    for (const line of (await readFile(join(dir, f), 'utf8')).split('\n')) {
      const x = line.trim().split(/\s+/).map(Number);
      if (x.length < 6 || !Number.isFinite(x[2])) continue;
      // The transaction's own time, BEGIN to COMMIT as the client saw it (a wait in the paused pooler
      // included); pgbench's schedule lag (-R: behind its own timetable) is reported apart.
      out.push({ endUs: x[4]! * 1e6 + x[5]!, latencyUs: x[2]!, lagUs: x[6] ?? 0 });
    }
  }
  return out;
}

async function poolerSwitch(src: Cluster, dst: Cluster) {
  console.log(`\n## switch through PgBouncer: sample database of ~${gb} GB, pgbench at ${rate} TPS through the pooler`);
  const PW = 'bench-pooler-pw';
  for (const c of [src, dst]) await c.query(`DO $$ BEGIN CREATE ROLE bench_app LOGIN PASSWORD '${PW}'; EXCEPTION WHEN duplicate_object THEN NULL; END $$`);
  await src.createDatabase('pool');
  await createSampleDatabase(src.url('pool'), { rows: Math.round((gb * 1024 ** 3) / SAMPLE_BYTES_PER_ROW) });
  await pgbench(src, 'pool', ['-i', '-q', '-s', '10']);
  await src.query('GRANT ALL ON pgbench_accounts, pgbench_branches, pgbench_tellers, pgbench_history TO bench_app', [], 'pool');
  await src.query('VACUUM ANALYZE', [], 'pool');
  const size = (await src.query<{ s: string }>(`SELECT pg_size_pretty(pg_database_size('pool')) s`)).rows[0]!.s;
  const pooler = await startPgBouncer({
    databases: { app: { host: src.host, port: src.port, dbname: 'pool', user: 'bench_app', password: PW } },
    users: { bench_app: PW }, poolMode: 'transaction', poolSize: 8,
  });
  const iniBefore = await readFile(pooler.ini, 'utf8');
  const rows: { round: number; pausedS: number; waitS: number; failed: number; steadyP99: number; switchMax: number; switchP99: number; outageS: number }[] = [];
  try {
    for (let round = 0; round < rounds; round++) {
      const target = `pool_r${round}`;
      await dst.createDatabase(target);
      await installCapture({ source: src.params('pool') });
      const t0 = Date.now();
      await copy({ source: src.params('pool'), target: dst.params(target), dir: join(work, `copy-pool-${round}`), jobs: 2 });
      console.log(`round ${round + 1}: source ${size}; copied in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
      const logDir = await mkdtemp(join(work, 'pgbench-'));
      const benchSeconds = 90;
      const load = execa('pgbench', ['-h', pooler.host, '-p', String(pooler.port), '-U', 'bench_app', '-n', '-c', '4', '-j', '2', '-R', String(rate),
        '-T', String(benchSeconds), '-l', '--log-prefix', join(logDir, 'tx'), 'app'], { env: { PGPASSWORD: PW }, reject: false, all: true });
      // A steady state first (the reference), then the switch; pgbench goes on until its time is up.
      await new Promise((r) => setTimeout(r, 20_000));
      const switchStart = Date.now();
      let pauseStart = 0;
      const r = await cutover({
        source: src.params('pool'), target: dst.params(target), fence: 'pooler', verify: 'incremental',
        pooler: { admin: pooler.adminParams(), database: 'app', repoint: { ini: pooler.ini }, pauseTimeoutMs: 10_000 },
        onPhase: (p) => { if (p === 'pause pooler') pauseStart = Date.now(); },
      });
      const switchEnd = Date.now();
      const b = await load;
      const failed = Number(/number of failed transactions: (\d+)/.exec(String(b.all))?.[1] ?? (b.exitCode === 0 ? 0 : NaN));
      const tx = await pgbenchLog(logDir);
      const lat = (xs: typeof tx) => xs.map((x) => x.latencyUs / 1000);
      const steady = lat(tx.filter((x) => x.endUs / 1000 < switchStart - 1000));
      // Transactions that ended from the PAUSE to 2 s after the RESUME (those the pause held), and the
      // whole cutover (its pre-verify reads every row while the application runs: CPU for both on 2 cores).
      const around = lat(tx.filter((x) => x.endUs / 1000 >= pauseStart && x.endUs / 1000 <= switchEnd + 2000));
      const during = lat(tx.filter((x) => x.endUs / 1000 >= switchStart && x.endUs / 1000 <= switchEnd));
      const lagMax = Math.max(...tx.map((x) => x.lagUs / 1000));
      rows.push({ round, pausedS: r.pause!.pausedMs / 1000, waitS: r.pause!.maxClientWaitMs / 1000, failed, steadyP99: pct(steady, 0.99),
        switchMax: Math.max(...around), switchP99: pct(around, 0.99), outageS: r.outageMs / 1000 });
      console.log(`  pgbench exit ${b.exitCode}, ${tx.length} transactions logged, failed ${failed}; cutover phases: ${r.phases.map((p) => `${p.phase} ${(p.durationMs / 1000).toFixed(2)} s`).join(', ')}`);
      console.log(`  paused ${(r.pause!.pausedMs / 1000).toFixed(2)} s (longest client wait ${(r.pause!.maxClientWaitMs / 1000).toFixed(2)} s, ${r.pause!.waitingClients} waiting); ` +
        `transaction latency steady p99 ${pct(steady, 0.99).toFixed(1)} ms / max ${Math.max(...steady).toFixed(1)} ms; ` +
        `pause to 2 s after resume (${around.length} tx) p99 ${pct(around, 0.99).toFixed(1)} ms / max ${Math.max(...around).toFixed(1)} ms; ` +
        `whole cutover incl. pre-verify (${during.length} tx) p99 ${pct(during, 0.99).toFixed(1)} ms / max ${Math.max(...during).toFixed(1)} ms; pgbench schedule lag max ${lagMax.toFixed(0)} ms`);
      // Back for the next round: the pooler on the source, writes given back there, capture removed.
      await writeFile(pooler.ini, iniBefore);
      const admin = await PgBouncerAdmin.open(pooler.adminParams());
      try { await admin.reload(); } finally { await admin.close(); }
      await teardown({ source: src.params('pool'), target: dst.params(target) });
      await unfence(src.params('pool'));
    }
  } finally {
    await pooler.stop();
  }
  const m = (k: keyof (typeof rows)[number]) => median(rows.map((x) => x[k] as number));
  console.log(`\nmedian of ${rounds}: paused ${m('pausedS').toFixed(2)} s, longest client wait ${m('waitS').toFixed(2)} s, failed transactions ${rows.map((x) => x.failed).join(', ')}; ` +
    `latency around the switch p99 ${m('switchP99').toFixed(0)} ms, max ${m('switchMax').toFixed(0)} ms vs steady p99 ${m('steadyP99').toFixed(1)} ms ` +
    `(${(m('switchMax') / m('steadyP99')).toFixed(0)}x)`);
  record([
    { bench: `PgBouncer switch, ${size}, pgbench ${rate} TPS`, what: 'client latency max around the switch', value: m('switchMax'), unit: 'ms', ratios: { 'steady p99': m('switchMax') / m('steadyP99') } },
    { bench: `PgBouncer switch, ${size}, pgbench ${rate} TPS`, what: 'client latency p99 around the switch', value: m('switchP99'), unit: 'ms', ratios: { 'steady p99': m('switchP99') / m('steadyP99') } },
    { bench: `PgBouncer switch, ${size}, pgbench ${rate} TPS`, what: 'pooler paused (PAUSE to RESUME)', value: m('pausedS'), unit: 's' },
    { bench: `PgBouncer switch, ${size}, pgbench ${rate} TPS`, what: 'failed client transactions', value: Math.max(...rows.map((x) => x.failed)), unit: 'tx' },
  ]);
}

const [src, dst] = await startClusters([{ version: 15, settings }, { version: 15, settings }]);
try {
  if (part === 'all' || part === 'capture') await captureOverhead(src!);
  if (part === 'all' || part === 'keyless') await keylessCost(src!, dst!);
  if (part === 'all' || part === 'apply') await applyAndLag(src!, dst!);
  if (part === 'all' || part === 'lo') await largeObjects(src!, dst!);
  if (part === 'all' || part === 'outage') await outage(src!, dst!);
  if (part === 'all' || part === 'pooler') await poolerSwitch(src!, dst!);
  if (part === 'all' || part === 'window') await rollbackWindow(src!, dst!);
} finally {
  await stopAllClusters();
  await rm(work, { recursive: true, force: true });
}

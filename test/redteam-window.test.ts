import { afterAll, beforeAll, describe, it } from 'vitest';
import { mkdtemp, readdir, readFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import pg from 'pg';
import { availableMajors, createAppDatabase, createAppWriter, rowFingerprint, startAppWorkload, startClusters, stopAllClusters, type Cluster } from '../src/testing/index.js';
import { copy } from '../src/dump/copy/copy.js';
import { installCapture } from '../src/replicate/capture.js';
import { Applier } from '../src/replicate/apply.js';
import { cutover } from '../src/replicate/cutover.js';
import { CLI, cutover as cli } from './helpers/cli.js';

let A: Cluster, B: Cluster;
const SCHEMAS = ['shop', 'public'];
const log = (...x: unknown[]) => console.log('RT>', ...x);
beforeAll(async () => {
  const m = await availableMajors();
  [A, B] = (await startClusters([{ version: m.at(-1) }, { version: m.at(-1) }])) as [Cluster, Cluster];
}, 180_000);
afterAll(() => stopAllClusters());

async function movedOnline(src: Cluster, tgt: Cluster, db: string) {
  await src.createDatabase(db); await tgt.createDatabase(db);
  await createAppDatabase(src.url(db));
  const appSrc = await createAppWriter(src, db, 'shop_writer', 'shop-pw-1');
  await tgt.query(`DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'shop_writer') THEN CREATE ROLE shop_writer; END IF; END $$`);
  const source = src.params(db), target = tgt.params(db);
  await installCapture({ source });
  const load = startAppWorkload({ url: appSrc, clients: 1, pauseMs: 10 });
  await load.waitForCommits(10);
  await copy({ source, target, dir: join(await mkdtemp(join(tmpdir(), 'rt-')), 'copy'), jobs: 1 });
  const appTgt = await createAppWriter(tgt, db, 'shop_writer', 'shop-pw-1');
  const a = await Applier.open({ source, target });
  let n = 0; await a.run({ until: () => ++n >= 2 }); await a.close();
  return { source, target, appSrc, appTgt, load };
}
async function q(url: string, sql: string): Promise<string> {
  const c = new pg.Client({ connectionString: url }); c.on('error', () => undefined); await c.connect();
  try { const r = await c.query(sql); const rr = Array.isArray(r) ? r.at(-1)! : r; return 'OK ' + JSON.stringify(rr.rows); }
  catch (e) { return `ERR ${(e as { code?: string }).code}: ${(e as Error).message}`; } finally { await c.end(); }
}
const fenced = async (c: Cluster, db: string) => (await c.query<{ r: string | null }>(`SELECT to_regclass('_cutover_fence.state')::text r`, [], db)).rows[0]!.r !== null
  && ((await c.query<{ n: number }>('SELECT count(*)::int n FROM _cutover_fence.state', [], db)).rows[0]!.n > 0);
const env = (db: string) => ({ CUTOVER_SOURCE_URL: A.url(db), CUTOVER_TARGET_URL: B.url(db) });
const show = (label: string, r: { code: number; stdout: string; stderr: string }) => log(`${label}: exit ${r.code}\n--stdout--\n${r.stdout}\n--stderr--\n${r.stderr}`);
async function diff(db: string) {
  const a = await rowFingerprint(A.url(db), SCHEMAS), b = await rowFingerprint(B.url(db), SCHEMAS);
  return Object.keys({ ...a, ...b }).filter((k) => a[k] !== b[k]).map((k) => `${k}: old=${a[k]} new=${b[k]}`);
}

describe('redteam', () => {
  it('race at window opening, fence pass, sequences, target-only table, failed rollback + hint', async () => {
    const db = 'rt1';
    const { source, target, appSrc, appTgt, load } = await movedOnline(A, B, db);
    // A writer on the target started when the window opens (before the switch).
    let stop = false; const ok: number[] = []; let i = 0; let writer: Promise<void> | undefined;
    const startWriter = () => { writer = (async () => {
      const c = new pg.Client({ connectionString: appTgt }); await c.connect();
      while (!stop) { const k = ++i; try { await c.query(`INSERT INTO shop.history VALUES ($1, 'race', 0)`, [k]); ok.push(k); } catch (e) { log('race err', (e as Error).message); } }
      await c.end(); })(); };
    const res = await cutover({ source, target, fence: 'triggers', verify: 'checksums', window: true,
      onPhase: (p) => { if (p === 'open rollback window') startWriter(); } });
    stop = true; await writer; await load.stop();
    log('phases', JSON.stringify(res.phases), 'race rows committed on target', ok.length);
    show('apply --reverse', await cli(['replicate', 'apply', '--reverse', '--until-caught-up'], env(db)));
    const onOld = new Set((await A.query<{ at: number }>(`SELECT at FROM shop.history WHERE msg = 'race'`, [], db)).rows.map((r) => r.at));
    const lost = ok.filter((k) => !onOld.has(k));
    log(`RACE: ${ok.length} committed on target during window opening, ${lost.length} missing on old source after reverse apply; first lost: ${lost.slice(0, 10)}; min ok ${ok[0]} max ${ok.at(-1)}`);
    log('diff after reverse apply', await diff(db));

    // Fence pass probes as the application role on the old source.
    for (const s of [`SELECT * FROM _cutover_fence.state`, `SELECT _cutover_fence.passes()`,
      `SET cutover.fence_pass = 'x'; INSERT INTO shop.history VALUES (1, 'probe', 1)`,
      `SELECT set_config('cutover.fence_pass', 'deadbeef', false); INSERT INTO shop.history VALUES (1, 'probe', 1)`,
      `SELECT name, setting FROM pg_settings WHERE name LIKE 'cutover%'`,
      `SELECT pg_get_functiondef('_cutover_fence.refuse()'::regprocedure) IS NOT NULL`,
      `SELECT lo_from_bytea(0, 'sneaky lo on fenced old source')`,
      `SELECT nextval('shop.ids')`,
      `SELECT has_schema_privilege('_cutover_fence', 'USAGE'), has_table_privilege('_cutover_fence.state', 'SELECT')`,
      `CREATE TABLE shop.sneak (x int)`, `CREATE TEMP TABLE t (x int); INSERT INTO t VALUES (1)`,
      `SELECT count(*) FROM pg_largeobject_metadata`]) log('APP on old:', s, '=>', await q(appSrc, s));
    // Passing the fence with the real value (superuser reads it): do those writes get recorded / detected?
    const pass = (await A.query<{ pass: string }>('SELECT pass FROM _cutover_fence.state', [], db)).rows[0]!.pass;
    log('log settings', await q(A.url(db), `SELECT string_agg(name || '=' || setting, ', ') FROM pg_settings WHERE name IN ('log_statement','logging_collector','log_directory','data_directory','log_min_duration_statement','log_min_error_statement')`));
    // secret in logs?
    const dd = (await A.query<{ d: string }>('SHOW data_directory')).rows[0]!.d;
    const hits: string[] = [];
    const walk = async (d: string) => { for (const f of await readdir(d).catch(() => [] as string[])) { const p = join(d, f); const s = await stat(p).catch(() => undefined); if (!s) continue;
      if (s.isDirectory() && /log/.test(f)) await walk(p); else if (s.isFile() && /\.log|\.csv|logfile/.test(f) && (await readFile(p, 'utf8').catch(() => '')).includes(pass)) hits.push(p); } };
    await walk(dd); await walk(join(dd, '..'));
    log('secret found in files:', hits);

    // Sequences: the application takes ids on the target (no rows).
    const seqBefore = await q(B.url(db), `SELECT last_value FROM shop.ids`);
    log('nextval x50 on target as app', await q(appTgt, `SELECT max(nextval('shop.ids')) FROM generate_series(1,50)`), 'before', seqBefore);
    // A table created on the target during the window, with rows.
    log('target-only table', await q(B.url(db), `CREATE TABLE shop.only_new (id int primary key, v text); GRANT ALL ON shop.only_new TO shop_writer; INSERT INTO shop.only_new SELECT g, 'x' FROM generate_series(1,5) g`));
    log('write on target after ddl', await q(appTgt, `INSERT INTO shop.history VALUES (777, 'after-ddl', 1)`));
    show('apply --reverse after CREATE TABLE', await cli(['replicate', 'apply', '--reverse', '--until-caught-up'], env(db)));
    show('status mid-window', await cli(['replicate', 'status'], env(db)));
    show('teardown (forward) during window', await cli(['replicate', 'teardown'], env(db)));
    show('rollback with target-only table', await cli(['replicate', 'rollback', '--wait', '10'], env(db)));
    log('fenced old/new', await fenced(A, db), await fenced(B, db));
    log('seq old/new', await q(A.url(db), 'SELECT last_value FROM shop.ids'), await q(B.url(db), 'SELECT last_value FROM shop.ids'));
    log('diff after rollback attempt', await diff(db));
    show('status after failed rollback', await cli(['replicate', 'status'], env(db)));
    // Follow the hint of the failed rollback as an operator with the usual env (source = old).
    show('unfence (operator env)', await cli(['replicate', 'unfence'], env(db)));
    log('fenced old/new after unfence', await fenced(A, db), await fenced(B, db));
    show('rollback again', await cli(['replicate', 'rollback', '--wait', '10'], env(db)));
    log('diff after rollback again', await diff(db));
    log('race rows old/new', await q(A.url(db), `SELECT count(*) FROM shop.history WHERE msg='race'`), await q(B.url(db), `SELECT count(*) FROM shop.history WHERE msg='race'`));
    log('after-ddl on old', await q(A.url(db), `SELECT count(*) FROM shop.history WHERE msg='after-ddl'`));
  }, 900_000);

  it('rollback SIGKILLed after fencing the target, rerun; misuse order', async () => {
    const db = 'rt2';
    const { source, target, appTgt, load } = await movedOnline(A, B, db);
    await cutover({ source, target, fence: 'triggers', verify: 'checksums', window: true });
    await load.stop();
    const after = startAppWorkload({ url: appTgt, clients: 2, pauseMs: 5 });
    await after.waitForCommits(40);
    show('apply --reverse', await cli(['replicate', 'apply', '--reverse', '--until-caught-up'], env(db)));
    const child = execa('node', [CLI, 'replicate', 'rollback', '--wait', '10'], { reject: false, all: true, env: { ...process.env, CUTOVER_NO_TTY: '1', ...env(db) } });
    let hit = false;
    for (let i = 0; i < 3000 && !hit; i++) { hit = await fenced(B, db).catch(() => false); if (!hit) await new Promise((r) => setTimeout(r, 5)); }
    child.kill('SIGKILL'); const ce = await child;
    log('killed rollback: fenced-target-seen', hit, 'signal', ce.signal, 'output', ce.all);
    const stats = await after.stop();
    log('app on target stats', JSON.stringify(stats));
    log('fenced old/new after kill', await fenced(A, db), await fenced(B, db));
    show('status after kill', await cli(['replicate', 'status'], env(db)));
    show('apply --reverse after kill', await cli(['replicate', 'apply', '--reverse', '--until-caught-up'], env(db)));
    show('rollback rerun', await cli(['replicate', 'rollback', '--wait', '10'], env(db)));
    log('diff after rerun', await diff(db));
    log('seq old/new', await q(A.url(db), 'SELECT last_value, is_called FROM shop.ids'), await q(B.url(db), 'SELECT last_value, is_called FROM shop.ids'));
    show('rollback twice', await cli(['replicate', 'rollback'], env(db)));
    show('apply --reverse after rollback', await cli(['replicate', 'apply', '--reverse', '--until-caught-up'], env(db)));
    show('status after rollback', await cli(['replicate', 'status'], env(db)));
    show('teardown (forward) after rollback', await cli(['replicate', 'teardown'], env(db)));
    show('finish', await cli(['replicate', 'finish'], env(db)));
    show('rollback after finish', await cli(['replicate', 'rollback'], env(db)));
    show('status after finish', await cli(['replicate', 'status'], env(db)));
    show('finish twice', await cli(['replicate', 'finish'], env(db)));
  }, 900_000);
});

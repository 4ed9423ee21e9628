/**
 * The rollback window (docs/replicate.md): after an online cutover the application writes to the new
 * server; reverse replication keeps the fenced old source in step, so a rollback loses nothing. Proved
 * with the tests' own row fingerprint (rowFingerprint: SQL of the test, not cutover's verify) and catalog
 * queries for what cutover leaves behind.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import pg from 'pg';
import {
  availableMajors, createAppDatabase, createAppWriter, rowFingerprint, startAppWorkload, startClusters, stopAllClusters, type Cluster,
} from '../src/testing/index.js';
import { copy } from '../src/dump/copy/copy.js';
import { installCapture } from '../src/replicate/capture.js';
import { Applier } from '../src/replicate/apply.js';
import { cutover } from '../src/replicate/cutover.js';
import { rollback } from '../src/replicate/rollback.js';
import { finish } from '../src/replicate/window.js';
import { unfence } from '../src/replicate/fence.js';
import { teardown } from '../src/replicate/teardown.js';
import { CLI, cutover as cutoverCli } from './helpers/cli.js';
import type { CutoverError } from '../src/errors.js';

let c14: Cluster, c15: Cluster, c17: Cluster;
const work = () => mkdtemp(join(tmpdir(), 'cutover-window-'));
const SCHEMAS = ['shop', 'public'];

beforeAll(async () => {
  const majors = await availableMajors();
  [c14, c15, c17] = (await startClusters([{ version: majors[0] }, { version: 15 }, { version: majors.at(-1) }])) as [Cluster, Cluster, Cluster];
}, 180_000);
afterAll(() => stopAllClusters());

async function rowsOnly(url: string): Promise<Record<string, string>> {
  const f = await rowFingerprint(url, SCHEMAS);
  delete f['(large objects)'];
  return f;
}

/** What cutover left on a server: its schemas, and any trigger of its own. */
async function leftovers(c: Cluster, db: string): Promise<string[]> {
  return (await c.query<{ x: string }>(`SELECT 'schema ' || nspname AS x FROM pg_namespace WHERE nspname LIKE '\\_cutover%'
    UNION ALL SELECT 'trigger ' || tgname || ' on ' || tgrelid::regclass FROM pg_trigger WHERE tgname LIKE 'cutover\\_%' AND NOT tgisinternal ORDER BY 1`, [], db)).rows.map((r) => r.x);
}

/** An app write on a server: ok, or the SQLSTATE that refused it. */
async function tryWrite(url: string): Promise<string> {
  const c = new pg.Client({ connectionString: url });
  c.on('error', () => undefined);
  await c.connect();
  try {
    await c.query(`INSERT INTO shop.history VALUES (424242, 'probe', 1)`);
    return 'ok';
  } catch (e) {
    return (e as { code?: string }).code ?? String(e);
  } finally {
    await c.end();
  }
}

/** Source (application writing), capture, copy, catch up: ready for the cutover. */
async function movedOnline(src: Cluster, tgt: Cluster, db: string) {
  await src.createDatabase(db);
  await tgt.createDatabase(db);
  await createAppDatabase(src.url(db));
  const appSrc = await createAppWriter(src, db, 'shop_writer', 'shop-pw-1');
  // The application's role exists on the new server before the copy (it owns large objects there).
  await tgt.query(`DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'shop_writer') THEN CREATE ROLE shop_writer; END IF; END $$`);
  const source = src.params(db), target = tgt.params(db);
  await installCapture({ source });
  const load = startAppWorkload({ url: appSrc, clients: 2, pauseMs: 5 });
  await load.waitForCommits(20);
  await copy({ source, target, dir: join(await work(), 'copy'), jobs: 2 });
  // The application's role logs in on the new server too (its grants came with the copy).
  const appTgt = await createAppWriter(tgt, db, 'shop_writer', 'shop-pw-1');
  const a = await Applier.open({ source, target });
  let n = 0;
  await a.run({ until: () => ++n >= 3 });
  await a.close();
  return { source, target, appSrc, appTgt, load };
}

describe('the rollback window', () => {
  it('writes made on the new server after the switch go back with the rollback: the old source equals the new, then takes writes again; finish leaves nothing', async () => {
    const db = 'window_rollback';
    const { source, target, appSrc, appTgt, load } = await movedOnline(c15, c17, db);
    const res = await cutover({ source, target, fence: 'triggers', verify: 'checksums', window: true });
    const before = await load.stop();
    expect(before.fenced).toBe(true);
    expect(res.verify?.ok).toBe(true);
    // Every table of the application is captured on the new server.
    expect(res.window?.tables).toBe((await c17.query<{ n: number }>(`SELECT count(*)::int n FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition AND n.nspname IN ('shop', 'public')`, [], db)).rows[0]!.n);
    expect(res.phases.map((p) => p.phase)).toContain('open rollback window');
    expect(await rowFingerprint(c17.url(db), SCHEMAS)).toEqual(await rowFingerprint(c15.url(db), SCHEMAS));
    // The forward capture left the old source; its fence stayed; the new server captures.
    expect(await leftovers(c15, db)).toEqual(expect.arrayContaining(['schema _cutover_fence']));
    expect((await leftovers(c15, db)).filter((x) => x.includes('capture') || x === 'schema _cutover')).toEqual([]);
    expect((await leftovers(c17, db)).some((x) => x.startsWith('trigger cutover_capture'))).toBe(true);
    expect(await tryWrite(appSrc)).toBe('25006');

    // The switch: the application writes to the new server, every kind of change it makes.
    const after = startAppWorkload({ url: appTgt, clients: 3, pauseMs: 5 });
    await after.waitForCommits(60);
    const status = await cutoverCli(['replicate', 'status', '--source', c15.url(db), '--target', c17.url(db)]);
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout).toMatch(/ROLLBACK WINDOW open for .*\n.*old source: fenced/);
    expect(status.stdout).toMatch(/capture on the target: [1-9]\d* event\(s\)/);
    // The reverse applier as a service would run it, caught up once.
    const applied = await cutoverCli(['replicate', 'apply', '--reverse', '--until-caught-up', '--source', c15.url(db), '--target', c17.url(db)]);
    expect(applied.code, applied.stderr + applied.stdout).toBe(0);
    expect(applied.stdout).toMatch(/applied [1-9]\d* event\(s\)/);
    // A table created on the new server during the window halts reverse replication (its rows would not go back).
    await c17.query(`CREATE TABLE shop.only_new (id int PRIMARY KEY); INSERT INTO shop.only_new SELECT generate_series(1, 5)`, [], db);
    const newTable = await cutoverCli(['replicate', 'apply', '--reverse', '--until-caught-up', '--source', c15.url(db), '--target', c17.url(db)]);
    expect(newTable.code, newTable.stderr).toBe(7);
    expect(newTable.stderr).toMatch(/new table\(s\) "shop"\."only_new"/);
    await c17.query('DROP TABLE shop.only_new', [], db);
    const accepted = await cutoverCli(['replicate', 'apply', '--reverse', '--accept-ddl', '--until-caught-up', '--source', c15.url(db), '--target', c17.url(db)]);
    expect(accepted.code, accepted.stderr).toBe(0);
    // The old source still refuses the application (the applier passed the fence, the application does not), and saw no breach.
    expect(await tryWrite(appSrc)).toBe('25006');
    expect((await c15.query<{ n: number }>('SELECT count(*)::int n FROM _cutover_fence.breaches', [], db)).rows[0]!.n).toBe(0);

    // The reverse applier kept running as a service; the rollback stops it (its batch rolls back), and once
    // the old source takes writes again it refuses to go on instead of writing over them.
    const service = execa('node', [CLI, 'replicate', 'apply', '--reverse'], { reject: false, all: true,
      env: { ...process.env, CUTOVER_NO_TTY: '1', CUTOVER_SOURCE_URL: c15.url(db), CUTOVER_TARGET_URL: c17.url(db) } });
    for (let i = 0; i < 500 && !(await c15.query(`SELECT 1 FROM pg_stat_activity WHERE datname = $1 AND application_name LIKE 'cutover/apply%'`, [db])).rowCount; i++) await new Promise((r) => setTimeout(r, 20));
    // Unfencing the old source alone during the window is refused: the application would write to both.
    const un = await cutoverCli(['replicate', 'unfence', '--source', c15.url(db)]);
    expect(un.code, un.stdout + un.stderr).toBe(2);
    expect(un.stderr).toMatch(/a rollback window is open with this server as its old source/);
    expect(await tryWrite(appSrc)).toBe('25006');
    // A rollback that cannot prove the old source equal (a row written there past the fence, as only the
    // fence's owner can) stops with both servers fenced, says so, and is not taken for a finished one.
    const sneak = `SELECT set_config('cutover.fence_pass', pass, false) FROM _cutover_fence.state; INSERT INTO shop.history VALUES (-99, 'only on the old source', 0)`;
    await c15.query(sneak, [], db);
    const notes: string[] = [];
    const failed = await rollback({ source, target, fence: 'triggers', verify: 'checksums', onNote: (m) => notes.push(m) }).catch((e: unknown) => e);
    expect((failed as CutoverError).code).toBe('E_DIFFERENCE');
    expect((failed as CutoverError).message).toMatch(/both servers fenced/);
    expect((failed as CutoverError).hint).toMatch(/do not unfence the old source/);
    expect(notes.join('\n')).toMatch(/stopped the applier already running against this target \(backend pid \d+/);
    const both = await cutoverCli(['replicate', 'status', '--source', c15.url(db), '--target', c17.url(db)]);
    expect(both.stdout).toMatch(/target \(new server\): FENCED \(\d+ tables\): both servers refuse the application/);
    const again = await rollback({ source, target, fence: 'triggers', verify: 'checksums' }).catch((e: unknown) => e);
    expect((again as CutoverError).code).toBe('E_DIFFERENCE');
    expect(await tryWrite(appSrc)).toBe('25006');
    await c15.query(`SELECT set_config('cutover.fence_pass', pass, false) FROM _cutover_fence.state; DELETE FROM shop.history WHERE at = -99`, [], db);
    // The rollback: the application's writes on the new server (stopped by the failed rollback's fence) go back.
    const rb = await rollback({ source, target, fence: 'triggers', verify: 'checksums' });
    const ended = await service;
    expect(ended.exitCode, ended.all).toBe(4);
    expect(ended.all).toMatch(/the old source is not fenced/);
    const stats = await after.stop();
    expect(stats.fenced).toBe(true);
    expect(stats.commits).toBeGreaterThan(60);
    expect(Object.keys(stats.byKind).length).toBeGreaterThanOrEqual(8);
    expect(rb.verify?.ok).toBe(true);
    expect(rb.outageMs).toBeGreaterThan(0);
    expect(rb.unfenced.tables).toBeGreaterThan(0);
    // Nothing written on the new server is lost: the old source is exactly the frozen new server.
    expect(await rowFingerprint(c15.url(db), SCHEMAS)).toEqual(await rowFingerprint(c17.url(db), SCHEMAS));
    const seqs = async (c: Cluster) => (await c.query<{ s: string }>(`SELECT string_agg(schemaname || '.' || sequencename || '=' || coalesce(last_value, 0), ',' ORDER BY 1) s FROM pg_sequences`, [], db)).rows[0]!.s;
    expect(await seqs(c15)).toEqual(await seqs(c17));
    // The application goes back: the old source takes its writes, the new server refuses them.
    expect(await tryWrite(appSrc)).toBe('ok');
    expect(await tryWrite(appTgt)).toBe('25006');
    // A rollback run again says so and changes nothing.
    expect((await rollback({ source, target, fence: 'triggers', verify: 'checksums' })).already).toBe(true);

    const fin = await finish({ source, target });
    expect(fin.target.triggersDropped).toBeGreaterThan(0);
    expect(fin.oldSourceFenced).toBe(false);
    expect(await leftovers(c15, db)).toEqual([]);
    // The new server keeps only its fence (it must not take writes); unfence lifts it too.
    expect(await leftovers(c17, db)).toEqual(expect.arrayContaining(['schema _cutover_fence']));
    await unfence(target);
    expect(await leftovers(c17, db)).toEqual([]);
  }, 600_000);

  it('a reverse applier killed mid-batch resumes with nothing lost; DDL on the new server halts it (exit 7); a window finished normally leaves nothing', async () => {
    const db = 'window_kill';
    const { source, target, appTgt, load } = await movedOnline(c14, c15, db);
    // A transaction writing to the new server before the switch: its writes could not all go back, so the
    // window does not open (and the source stays fenced) until it is gone.
    const early = new pg.Client({ connectionString: c15.url(db) });
    early.on('error', () => undefined);
    await early.connect();
    try {
      await early.query(`BEGIN; INSERT INTO shop.history VALUES (777, 'before the switch', 1)`);
      const refused = await cutover({ source, target, fence: 'revoke', roles: ['shop_writer'], verify: 'incremental', window: true }).catch((e: unknown) => e);
      expect((refused as CutoverError).code).toBe('E_FENCE');
      expect((refused as CutoverError).message).toMatch(/the target is being written by someone other than cutover before the switch/);
      expect((await c15.query(`SELECT count(*)::int n FROM pg_trigger WHERE tgname LIKE 'cutover\\_capture%'`, [], db)).rows[0]!.n).toBe(0);
      // Refused before the fence: the source still takes the application's writes.
      expect((await c14.query<{ n: number }>(`SELECT count(*)::int n FROM pg_namespace WHERE nspname = '_cutover_fence'`, [], db)).rows[0]!.n).toBe(0);
      await early.query('ROLLBACK');
    } finally {
      await early.end().catch(() => undefined);
    }
    await cutover({ source, target, fence: 'revoke', roles: ['shop_writer'], verify: 'incremental', window: true });
    await load.stop();
    // The forward runbook's teardown step after such a cutover keeps the window.
    await teardown({ source, target });
    expect((await leftovers(c15, db)).some((x) => x.startsWith('trigger cutover_capture'))).toBe(true);
    // A rewrite no trigger sees (the same type, new values) on the new server before the reverse applier
    // first connects: the storage record the window took as it opened makes the applier read it again.
    await c15.query(`ALTER TABLE shop.history ALTER COLUMN msg TYPE text USING upper(msg)`, [], db);
    expect((await c15.query<{ n: number }>(`SELECT count(*)::int n FROM shop.history WHERE msg <> upper(msg)`, [], db)).rows[0]!.n).toBe(0);

    const after = startAppWorkload({ url: appTgt, clients: 2, pauseMs: 5, only: ['swap unique emails', 'cycle of key changes', 'delete and re-insert a key', 'duplicate rows without a key', 'insert accounts and children', 'cascading delete'] });
    await after.waitForCommits(40);
    // A large batch, so that the kill lands inside it.
    await c15.query(`INSERT INTO shop.history SELECT g, 'bulk', g FROM generate_series(1, 60000) g; UPDATE shop.history SET amount = amount + 1 WHERE msg = 'bulk'`, [], db);
    const env = { ...process.env, CUTOVER_NO_TTY: '1', CUTOVER_SOURCE_URL: c14.url(db), CUTOVER_TARGET_URL: c15.url(db) };
    const child = execa('node', [CLI, 'replicate', 'apply', '--reverse'], { reject: false, env });
    // Killed while its batch runs on the old source (its session there is inside a transaction).
    let busy = 0;
    for (let i = 0; i < 1500 && !busy; i++) {
      busy = (await c14.query(`SELECT 1 FROM pg_stat_activity WHERE application_name LIKE 'cutover/%' AND datname = $1 AND state = 'active' AND query ~* 'insert|delete|copy'`, [db])).rowCount ?? 0;
      if (!busy) await new Promise((r) => setTimeout(r, 10));
    }
    child.kill('SIGKILL');
    expect(busy).toBe(1);
    expect((await child).signal).toBe('SIGKILL');
    const stats = await after.stop();
    expect(stats.commits).toBeGreaterThan(40);
    const resumed = await cutoverCli(['replicate', 'apply', '--reverse', '--until-caught-up'], { CUTOVER_SOURCE_URL: c14.url(db), CUTOVER_TARGET_URL: c15.url(db) });
    expect(resumed.code, resumed.stderr).toBe(0);
    // Applied up to everything committed on the new server: the old source holds exactly its rows.
    expect(await rowsOnly(c14.url(db))).toEqual(await rowsOnly(c15.url(db)));
    expect((await c14.query<{ n: number }>(`SELECT count(*)::int n FROM shop.history WHERE msg = 'bulk'`, [], db)).rows[0]!.n).toBe(60000);

    // DDL on the new server during the window halts reverse replication, naming the table.
    await c15.query('ALTER TABLE shop.parents ADD COLUMN extra int', [], db);
    await c15.query(`UPDATE shop.parents SET extra = 1 WHERE id = (SELECT min(id) FROM shop.parents)`, [], db);
    const halted = await cutoverCli(['replicate', 'apply', '--reverse', '--until-caught-up'], { CUTOVER_SOURCE_URL: c14.url(db), CUTOVER_TARGET_URL: c15.url(db) });
    expect(halted.code).toBe(7);
    expect(halted.stderr).toMatch(/parents/);
    const st = await cutoverCli(['replicate', 'status'], { CUTOVER_SOURCE_URL: c14.url(db), CUTOVER_TARGET_URL: c15.url(db) });
    expect(st.code).toBe(7);
    expect(st.stdout).toMatch(/ROLLBACK WINDOW[\s\S]*HALTED/);

    // Finished normally: the capture leaves the new server, the bookkeeping the old source; only the old source's fence stays.
    const fin = await cutoverCli(['replicate', 'finish'], { CUTOVER_SOURCE_URL: c14.url(db), CUTOVER_TARGET_URL: c15.url(db) });
    expect(fin.code, fin.stderr).toBe(0);
    expect(await leftovers(c15, db)).toEqual([]);
    const kept = await leftovers(c14, db);
    expect(kept).toContain('schema _cutover_fence');
    expect(kept.filter((x) => !/^(schema _cutover_fence|trigger cutover_fence(_watch)? on )/.test(x))).toEqual([]);
    await unfence(source);
    expect(await leftovers(c14, db)).toEqual([]);
    // The old source's user triggers and foreign keys are as they were before the window.
    const fks = async (c: Cluster) => (await c.query<{ k: string }>(`SELECT conrelid::regclass || ' ' || conname || ' ' || pg_get_constraintdef(oid) || ' ' || convalidated AS k
      FROM pg_constraint WHERE contype = 'f' AND conparentid = 0 ORDER BY 1`, [], db)).rows.map((r) => r.k);
    const trig = async (c: Cluster) => (await c.query<{ k: string }>(`SELECT tgrelid::regclass || ' ' || tgname || ' ' || tgenabled::text AS k FROM pg_trigger WHERE NOT tgisinternal ORDER BY 1`, [], db)).rows.map((r) => r.k);
    expect(await fks(c14)).toEqual(await fks(c15));
    expect(await trig(c14)).toEqual(await trig(c15));
  }, 600_000);
});

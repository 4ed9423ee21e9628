import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import pg from 'pg';
import { join } from 'node:path';
import { availableMajors, startClusters, startWorkload, stopAllClusters, type Cluster } from '../src/testing/index.js';
import { copy } from '../src/dump/copy/copy.js';
import { verify } from '../src/verify/verify.js';
import { IncrementalVerify } from '../src/verify/incremental.js';
import { installCapture } from '../src/replicate/capture.js';
import { Applier } from '../src/replicate/apply.js';
import { cutover } from '../src/replicate/cutover.js';
import { teardown } from '../src/replicate/teardown.js';
import { installFence, planFence } from '../src/replicate/fence.js';
import { sampleSource } from './helpers/source.js';
import { changeSource } from '../src/replicate/changes/index.js';
import { withClient } from '../src/pg/connect.js';
import { resolveEndpoint } from '../src/pg/endpoint.js';
import type { ConnParams } from '../src/pg/conninfo.js';

/** What the cutover gives incremental verify: the change source's captured tables. */
const capturedTables = async (source: ConnParams) => withClient(await resolveEndpoint(source), 'test', (c) => changeSource.tables(c));

let c15: Cluster, cNew: Cluster;
const work = () => mkdtemp(join(tmpdir(), 'cutover-inctest-'));

beforeAll(async () => {
  const majors = await availableMajors();
  [c15, cNew] = (await startClusters([{ version: 15 }, { version: majors.at(-1) }])) as [Cluster, Cluster];
}, 60_000);
afterAll(() => stopAllClusters());

async function counts(c: Cluster, db: string): Promise<Map<string, number>> {
  const tables = (await c.query<{ s: string; n: string }>(
    `SELECT n.nspname AS s, c.relname AS n FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema', '_cutover', '_cutover_fence') AND n.nspname !~ '^pg_'`, [], db)).rows;
  const out = new Map<string, number>();
  for (const t of tables) {
    const q = `"${t.s.replace(/"/g, '""')}"."${t.n.replace(/"/g, '""')}"`;
    out.set(`${t.s}.${t.n}`, Number((await c.query<{ n: string }>(`SELECT count(*) AS n FROM ${q}`, [], db)).rows[0]!.n));
  }
  return out;
}

describe('incremental verify (full comparison before the fence, changed chunks in it)', () => {
  it('finds every difference in what changed after the pre-verify, and counts rows exactly', async () => {
    const db = 'inc_detect';
    await c15.createDatabase(db);
    await cNew.createDatabase(db);
    // Hostile names: the chunk and range queries quote every identifier.
    await c15.query(`CREATE SCHEMA "we""ird; --";
      CREATE TABLE "we""ird; --"."ta ble" ("i d" bigint PRIMARY KEY, v text NOT NULL);
      INSERT INTO "we""ird; --"."ta ble" SELECT g, 'row ' || g FROM generate_series(1, 10000) g;
      CREATE TABLE "we""ird; --".small (id int PRIMARY KEY, v text);
      INSERT INTO "we""ird; --".small SELECT g, 's' || g FROM generate_series(1, 100) g;
      ANALYZE`, [], db);
    const T = `"we""ird; --"."ta ble"`;
    const source = c15.params(db), target = cNew.params(db);
    await installCapture({ source });
    await copy({ source, target, dir: join(await work(), 'copy'), jobs: 2 });
    const a = await Applier.open({ source, target });
    try {
      await a.run({ until: (b) => b.events === 0 });
      // A change the applier has not applied yet when the pre-verify reads: it differs there.
      await c15.query(`UPDATE ${T} SET v = 'lagging' WHERE "i d" = 500`, [], db);

      const inc = await IncrementalVerify.plan({ source, target, jobs: 2, chunkRows: 500, tracked: await capturedTables(source) });
      expect(inc.tracked().map((t) => [t.name, t.lo, t.hi, t.width]).sort()).toEqual([['small', 1n, 101n, 100n], ['ta ble', 1n, 10001n, 500n]]);
      expect(await inc.guardTarget()).toEqual({ guarded: 2 });
      a.track(inc.tracked(), inc.sink);
      const pre = await inc.preverify();
      expect(pre).toMatchObject({ tables: 2, chunks: 21, differing: 1 });

      // A refining round: chunk 0 (applied since) matches now and is cleared; chunk 6 changed again after
      // its change was applied, so it still differs and stays marked.
      await a.run({ until: (b) => b.events === 0 });
      await c15.query(`UPDATE ${T} SET v = 'applied' WHERE "i d" = 3100`, [], db);
      await a.run({ until: (b) => b.events === 0 });
      await c15.query(`UPDATE ${T} SET v = 'not applied yet' WHERE "i d" = 3101`, [], db);
      expect(await inc.refine()).toMatchObject({ compared: 2, stillChanged: 1 });
      expect(inc.changedChunks()).toBe(1);

      // After the pre-verify: an update (chunk 2), a delete (chunk 13), a row past the planned range,
      // a TRUNCATE of the small table. The applier applies (and tracks) them.
      await c15.query(`UPDATE ${T} SET v = 'changed' WHERE "i d" = 1234;
        DELETE FROM ${T} WHERE "i d" = 7000;
        INSERT INTO ${T} VALUES (20005, 'new');
        TRUNCATE "we""ird; --".small; INSERT INTO "we""ird; --".small VALUES (1, 'after truncate')`, [], db);
      const now = await a.sourceSnapshot();
      await a.run({ until: () => a.covers(now) });

      const clean = await inc.recheck();
      expect(clean.ok).toBe(true);
      // Chunks 6 (still differing in the refine), 2 and 13 of the big table; the truncated table in full.
      expect(clean.incremental).toMatchObject({ chunks: 20, changedChunks: 3, trustedRows: 10000 - 3 * 500, fullTables: 1, foreignWrites: [] });
      const real = await counts(c15, db);
      for (const t of clean.tables) expect([t.name, t.sourceRows, t.targetRows]).toEqual([t.name, real.get(`${t.schema}.${t.name}`), real.get(`${t.schema}.${t.name}`)]);

      // Damage on the target by someone other than the applier, inside a changed chunk, past the planned
      // range, and in a chunk nothing changed (9000): the guard saw the writes, so the table is compared
      // in full and all of it is found.
      await cNew.query(`UPDATE ${T} SET v = 'damaged' WHERE "i d" IN (1240, 20005, 9000);
        INSERT INTO ${T} VALUES (7000, 'resurrected')`, [], db);
      const bad = await inc.recheck();
      expect(bad.ok).toBe(false);
      expect(bad.incremental.foreignWrites).toEqual([`${T} (2 statement(s) by postgres)`]);
      const t = bad.tables.find((x) => x.name === 'ta ble')!;
      expect(t.differences.map((d) => [d.kind, d.key!['i d']]).sort()).toEqual([['changed', '1240'], ['changed', '20005'], ['changed', '9000'], ['extra on target', '7000']]);
      // A full verify agrees.
      const full = await verify({ source, target, level: 'full' });
      expect(full.tables.find((x) => x.name === 'ta ble')!.differenceCount).toBe(4);
      // The guard comes off after the fence's comparison.
      expect(await inc.unguardTarget()).toBe(2);
      expect((await cNew.query(`SELECT 1 FROM pg_trigger WHERE tgname = 'cutover_guard'`, [], db)).rowCount).toBe(0);
    } finally {
      await a.close();
    }
  }, 120_000);

  it('the fence compares privileges, large objects and materialized views in full', async () => {
    const db = 'inc_parts';
    await c15.createDatabase(db);
    await cNew.createDatabase(db);
    const setup = `DO $$ BEGIN CREATE ROLE inc_reader; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
      DO $$ BEGIN CREATE ROLE inc_writer; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
      CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT g, 'v' || g FROM generate_series(1, 2000) g;
      GRANT SELECT ON t TO inc_reader; GRANT SELECT, INSERT, UPDATE ON t TO inc_writer;
      CREATE MATERIALIZED VIEW mv AS SELECT id, v FROM t WHERE id % 10 = 0;
      SELECT lo_from_bytea(777001, 'abc'); ANALYZE`;
    await c15.query(setup, [], db);
    await cNew.query(setup, [], db);
    const source = c15.params(db), target = cNew.params(db);
    await installCapture({ source });
    const inc = await IncrementalVerify.plan({ source, target, jobs: 2, chunkRows: 500, tracked: await capturedTables(source) });
    expect(await inc.preverify()).toMatchObject({ tables: 1, differing: 0 });
    // In the write fence the source lacks what the fence revoked: compared as the source is outside it.
    const fc = new pg.Client({ connectionString: c15.url(db) });
    await fc.connect();
    try {
      const fenced = await installFence(fc, await planFence(fc, 'revoke', ['inc_writer']), { waitMs: 10_000, note: () => {} });
      expect(fenced.revoked).toBe(2);
    } finally { await fc.end(); }
    expect((await c15.query(`SELECT has_table_privilege('inc_writer', 't', 'INSERT') AS w`, [], db)).rows[0]!.w).toBe(false);
    const clean = await inc.recheck();
    expect(clean.ok).toBe(true);
    expect(clean.tables.find((x) => x.name === 'mv')).toMatchObject({ kind: 'materialized view', sourceRows: 200, status: 'same' });
    expect(clean.summary).toMatchObject({ matviews: 1, largeObjects: 1 });
    expect(clean.summary.privileges).toBeGreaterThan(0);

    await cNew.query(`REVOKE SELECT ON t FROM inc_reader; SELECT lo_unlink(777001); REFRESH MATERIALIZED VIEW mv WITH NO DATA`, [], db);
    const bad = await inc.recheck();
    expect(bad.ok).toBe(false);
    expect(bad.privileges!.differences).toEqual([{ object: 'table public.t', entry: 'inc_reader SELECT', change: 'missing on target' }]);
    expect(bad.largeObjects.differences).toEqual([{ oid: '777001', change: 'missing on target' }]);
    expect(bad.matviews).toEqual([expect.objectContaining({ name: 'mv', status: 'not populated on target' })]);
    expect(bad.tables.filter((x) => x.status !== 'same')).toEqual([]);
    // The table's rows were trusted from the pre-verify, not read again.
    expect(bad.incremental.trustedRows).toBe(2000);
  }, 120_000);

  it('replicate-cutover with verify: incremental under writers: identical, and most rows not read in the fence', async () => {
    const db = 'inc_cutover';
    const appUrl = await sampleSource(c15, db, 8000, 'inc-pw');
    await cNew.createDatabase(db);
    const source = c15.params(db), target = cNew.params(db);
    await installCapture({ source, excludeTables: ['billing.audit_log'] });
    const load = startWorkload({ url: appUrl, clients: 2 });
    await load.waitForCommits(20);
    await copy({ source, target, dir: join(await work(), 'copy'), jobs: 2 });
    const notes: string[] = [];
    const r = await cutover({ source, target, fence: 'revoke', roles: ['app_writer'], verify: 'incremental', onNote: (m) => notes.push(m) });
    const st = await load.stop();
    expect(st.fenced).toBe(true);
    expect(r.verify).toMatchObject({ ok: true, level: 'incremental' });
    expect(r.phases.map((p) => p.phase)).toEqual(['catch up', 'pre-verify', 'catch up', 'fence', 'drain', 'large objects', 'sequences',
      'restore target triggers', 'deferred foreign keys', 'verify (changed since pre-verify)']);
    // The guard was on every planned table and partition (the application never wrote to the target), and is off.
    expect(notes.filter((n) => /cannot guard|written by someone other than cutover/.test(n))).toEqual([]);
    expect((await cNew.query(`SELECT 1 FROM pg_trigger WHERE tgname = 'cutover_guard'`, [], db)).rowCount).toBe(0);
    const pre = notes.find((n) => n.startsWith('pre-verify:'))!;
    expect(pre).toMatch(/^pre-verify: \d+ key chunks of \d+ table\(s\) compared/);
    const m = /verify in the fence: (\d+) of (\d+) chunks changed.*; (\d+) rows were verified before the fence/.exec(notes.join('\n'))!;
    expect(m).not.toBeNull();
    expect(Number(m[1])).toBeLessThan(Number(m[2]));
    expect(Number(m[3])).toBeGreaterThan(0);
    // The rows reported are the source's exact rows (trusted chunks plus rechecked ranges).
    const real = await counts(c15, db);
    expect(r.verify!.rows).toBe([...real.values()].reduce((x, y) => x + y, 0));
    // An independent full verify agrees.
    const v = await verify({ source, target, level: 'full' });
    expect(v.ok).toBe(true);
    await teardown({ source, target });
  }, 180_000);
});

describe('the applier behind a lock queue', () => {
  it('retries a batch whose table is locked past lock_timeout (a TRUNCATE queued behind a long reader), and loses nothing', async () => {
    const db = 'lockq';
    await c15.createDatabase(db);
    await cNew.createDatabase(db);
    await c15.query(`CREATE TABLE "q t" (id int PRIMARY KEY, v text); INSERT INTO "q t" SELECT g, 'v' FROM generate_series(1, 100) g`, [], db);
    const source = c15.params(db), target = cNew.params(db);
    await installCapture({ source });
    await copy({ source, target, dir: join(await work(), 'copy'), jobs: 1 });
    const notes: string[] = [];
    const a = await Applier.open({ source, target, onNote: (m) => notes.push(m) });
    const reader = new pg.Client({ connectionString: c15.url(db) });
    const app = new pg.Client({ connectionString: c15.url(db) });
    await Promise.all([reader.connect(), app.connect()]);
    try {
      await c15.query(`UPDATE "q t" SET v = 'changed' WHERE id = 7`, [], db);
      // A long reader (as a pre-verify or a copy is), then the application's TRUNCATE queued behind it:
      // the applier's read of the table queues behind the TRUNCATE for over its 5 s lock_timeout.
      await reader.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
      await reader.query('SELECT count(*) FROM "q t"');
      const truncating = app.query(`BEGIN; TRUNCATE "q t"; INSERT INTO "q t" VALUES (1, 'after truncate'); COMMIT`);
      const snap = await c15.query<{ s: string }>('SELECT pg_current_snapshot()::text AS s', [], db).then((r) => r.rows[0]!.s);
      const applying = a.run({ until: () => a.covers(snap) });
      await new Promise((r) => setTimeout(r, 6500));
      await reader.query('COMMIT');
      await truncating;
      await applying;
      const now = await a.sourceSnapshot();
      await a.run({ until: () => a.covers(now) });
      expect(notes.some((n) => /applier: a table was locked for over 5 s \(SQLSTATE 55P03\); retrying the batch/.test(n))).toBe(true);
      expect((await cNew.query<{ id: number; v: string }>('SELECT id, v FROM "q t"', [], db)).rows).toEqual([{ id: 1, v: 'after truncate' }]);
    } finally {
      await Promise.all([reader.end(), app.end(), a.close()]);
    }
  }, 60_000);
});

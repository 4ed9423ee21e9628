import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import {
  APP_OPS, availableMajors, createAppDatabase, createAppWriter, rowFingerprint, runAppOp, startAppWorkload, startClusters, stopAllClusters, type Cluster,
} from '../src/testing/index.js';
import { copy } from '../src/dump/copy/copy.js';
import { installCapture, type CaptureMode } from '../src/replicate/capture.js';
import { Applier } from '../src/replicate/apply.js';
import { cutover } from '../src/replicate/cutover.js';
import { teardown } from '../src/replicate/teardown.js';
import { CutoverError } from '../src/errors.js';
import { cutover as cutoverCli } from './helpers/cli.js';
import { shippedRunbook, tempRunbook } from './helpers/runbook.js';

let c14: Cluster, c15: Cluster, c17: Cluster;
const work = () => mkdtemp(join(tmpdir(), 'cutover-apps-'));

beforeAll(async () => {
  const majors = await availableMajors();
  [c14, c15, c17] = (await startClusters([{ version: majors[0] }, { version: 15 }, { version: majors.at(-1) }])) as [Cluster, Cluster, Cluster];
}, 180_000);
afterAll(() => stopAllClusters());

const SCHEMAS = ['shop', 'public'];

/** Rows only: large objects reach the target in the cutover's fence, not while replicating. */
async function rowsOnly(url: string): Promise<Record<string, string>> {
  const f = await rowFingerprint(url, SCHEMAS);
  delete f['(large objects)'];
  return f;
}

/** Applies until the applied tick shows everything committed on the source so far. */
async function catchUp(a: Applier): Promise<void> {
  const now = await a.sourceSnapshot();
  await a.run({ until: () => a.covers(now) });
}

/** The target's foreign keys, as the test reads them (definition and deferrability). */
async function foreignKeys(c: Cluster, db: string): Promise<string[]> {
  return (await c.query<{ k: string }>(`SELECT conrelid::regclass::text || ' ' || conname || ' ' || pg_get_constraintdef(oid) || ' ' || condeferrable || convalidated AS k
    FROM pg_constraint WHERE contype = 'f' AND conparentid = 0 ORDER BY 1`, [], db)).rows.map((r) => r.k);
}

describe('replication of an ordinary application schema', () => {
  it('no false halt: types in public, capture started under another search_path and quote_all_identifiers; an added enum label halts naming the type; status exits 7', async () => {
    const db = 'paths';
    await c15.createDatabase(db);
    await c17.createDatabase(db);
    await createAppDatabase(c15.url(db));
    // Extension types in public where the server has contrib (Debian's 15 does; the npm 14/17 do not).
    const contrib = (await c15.query(`SELECT 1 FROM pg_available_extensions WHERE name IN ('citext', 'hstore')`, [], db)).rowCount === 2
      && (await c17.query(`SELECT 1 FROM pg_available_extensions WHERE name IN ('citext', 'hstore')`, [], db)).rowCount === 2;
    if (contrib) {
      await c15.query(`CREATE EXTENSION citext SCHEMA public; CREATE EXTENSION hstore SCHEMA public;
        CREATE TABLE shop.tagged (id int PRIMARY KEY, name public.citext, attrs public.hstore); INSERT INTO shop.tagged VALUES (1, 'A', 'a=>1')`, [], db);
    }
    // Every session on the source now has other settings: the types print differently there.
    await c15.query(`ALTER DATABASE ${db} SET search_path = shop, public; ALTER DATABASE ${db} SET quote_all_identifiers = on`);
    const source = c15.params(db), target = c17.params(db);
    await installCapture({ source });
    await copy({ source, target, dir: join(await work(), 'copy'), jobs: 1 });
    const app = new pg.Client({ connectionString: c15.url(db) });
    app.on('error', () => undefined);
    await app.connect();
    await app.query(`SET search_path = public, pg_catalog`);
    for (const op of Object.keys(APP_OPS)) await runAppOp(app, op);
    await app.query(`INSERT INTO shop.moods VALUES ('ok', 5) ON CONFLICT (m) DO UPDATE SET n = 9`);
    if (contrib) await app.query(`UPDATE shop.tagged SET name = 'b', attrs = 'b=>2'`);
    const a = await Applier.open({ source, target });
    await catchUp(a);
    // Run the applier again from scratch (fresh sessions): the recorded shapes still match.
    await a.close();
    const b = await Applier.open({ source, target });
    await catchUp(b);
    expect(await rowsOnly(c17.url(db))).toEqual(await rowsOnly(c15.url(db)));

    // A new enum label on the source, used at once: the applier halts naming the type (not a crash).
    await app.query(`ALTER TYPE public.mood ADD VALUE 'ecstatic'`);
    await app.query(`UPDATE shop.accounts SET mood = 'ecstatic' WHERE id = (SELECT min(id) FROM shop.accounts)`);
    const e = await catchUp(b).catch((x: unknown) => x);
    await b.close();
    expect(e).toBeInstanceOf(CutoverError);
    expect((e as CutoverError).code).toBe('E_HALTED');
    expect((e as CutoverError).message).toMatch(/DDL on the source: .*type public\.mood changed/);
    // A domain's constraint too (checked at start).
    const env = { SRC: c15.url(db), TGT: c17.url(db) };
    let r = await cutoverCli(['replicate', 'status', '--source', 'env:SRC', '--target', 'env:TGT'], env);
    expect(r.code).toBe(7);
    expect(r.stdout).toMatch(/HALTED: DDL on the source/);
    // The same change on the target, accepted: replication goes on and the row arrives.
    await c17.query(`ALTER TYPE public.mood ADD VALUE 'ecstatic'`, [], db);
    r = await cutoverCli(['replicate', 'apply', '--source', 'env:SRC', '--target', 'env:TGT', '--accept-ddl', '--until-caught-up'], env);
    expect(r.code, r.stderr).toBe(0);
    r = await cutoverCli(['replicate', 'status', '--source', 'env:SRC', '--target', 'env:TGT'], env);
    expect(r.code, r.stdout).toBe(0);
    await app.query(`ALTER DOMAIN public.posint ADD CONSTRAINT small CHECK (VALUE < 1000000)`);
    r = await cutoverCli(['replicate', 'apply', '--source', 'env:SRC', '--target', 'env:TGT', '--until-caught-up'], env);
    expect(r.code).toBe(7);
    expect(r.stderr).toMatch(/type public\.posint changed/);
    await app.end();
    await teardown({ source, target });
  }, 180_000);

  for (const [mode, from, to] of [['row', 'oldest', 15], ['statement', 15, 'newest']] as const) {
    it(`batches legal on the source apply (swaps, EXCLUDE, key cycles, partition moves, cascades, keyless duplicates), ${mode} capture, ${from} -> ${to}`, async () => {
      const src = from === 'oldest' ? c14 : c15;
      const tgt = to === 15 ? c15 : c17;
      const db = `legal_${mode}_${src.version}_${tgt.version}`;
      await src.createDatabase(db);
      await tgt.createDatabase(db);
      await createAppDatabase(src.url(db));
      const source = src.params(db), target = tgt.params(db);
      const cap = await installCapture({ source, mode: mode as CaptureMode });
      expect(cap.tables.find((t) => t.name === 'history')).toMatchObject({ key: [], keySource: 'full row (no key)' });
      await copy({ source, target, dir: join(await work(), 'copy'), jobs: 1 });
      const fksBefore = await foreignKeys(tgt, db);
      const app = new pg.Client({ connectionString: src.url(db) });
      app.on('error', () => undefined);
      await app.connect();
      const notes: string[] = [];
      const a = await Applier.open({ source, target, onNote: (m) => notes.push(m) });
      expect(notes.join('\n')).toMatch(/moved \d+ foreign key\(s\) on the target/);
      // Every operation several times, all in one batch (swaps and cycles meet inside it) ...
      let seed = 7;
      const rnd = () => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed / 2147483648; };
      for (let i = 0; i < 3; i++) for (const op of Object.keys(APP_OPS)) await runAppOp(app, op, rnd);
      await catchUp(a);
      expect(await rowsOnly(tgt.url(db))).toEqual(await rowsOnly(src.url(db)));
      // ... and each in a batch of its own.
      for (const op of Object.keys(APP_OPS)) { await runAppOp(app, op, rnd); await catchUp(a); }
      expect(await rowsOnly(tgt.url(db))).toEqual(await rowsOnly(src.url(db)));
      // The children of a renamed parent are all still there (no target cascade fired).
      expect((await tgt.query<{ n: number }>('SELECT count(*)::int n FROM shop.children', [], db)).rows[0]!.n)
        .toBe((await src.query<{ n: number }>('SELECT count(*)::int n FROM shop.children', [], db)).rows[0]!.n);

      // A batch that genuinely cannot apply (a row written on the target by someone else): it halts naming
      // the table, the constraint and the source transaction, and goes on once the target is corrected.
      await tgt.query(`INSERT INTO shop.accounts (id, email) VALUES (-999999, 'rogue@example.com')`, [], db);
      await app.query('BEGIN');
      const txid = (await app.query<{ x: string }>('SELECT txid_current()::text x')).rows[0]!.x;
      await app.query(`INSERT INTO shop.accounts (id, email) VALUES (999999, 'rogue@example.com')`);
      await app.query('COMMIT');
      const e = await catchUp(a).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(CutoverError);
      expect((e as CutoverError).code).toBe('E_HALTED');
      expect((e as CutoverError).message).toMatch(/table "shop"\."accounts", constraint "accounts_email_key": duplicate key .*\(Key \(email\)=\(rogue@example\.com\) already exists\.\)/);
      expect((e as CutoverError).message).toContain(txid);
      expect((e as CutoverError).hint).toMatch(/correct the target, then run `cutover replicate apply --accept-ddl`/);
      await a.close();
      const halted = await Applier.open({ source, target }).catch((x: unknown) => x);
      expect((halted as CutoverError).code).toBe('E_HALTED');
      await tgt.query(`DELETE FROM shop.accounts WHERE id = -999999`, [], db);
      const b = await Applier.open({ source, target, acceptDdl: true });
      await catchUp(b);
      await b.close();

      // Cut over: the moved foreign keys are back exactly as they were, and the target equals the source.
      const res = await cutover({ source, target, fence: 'manual', confirm: async () => undefined, verify: 'full' });
      expect(res.verify?.ok).toBe(true);
      expect(res.phases.map((p) => p.phase)).toContain('deferred foreign keys');
      expect(await foreignKeys(tgt, db)).toEqual(fksBefore);
      expect(await rowFingerprint(tgt.url(db), SCHEMAS)).toEqual(await rowFingerprint(src.url(db), SCHEMAS));
      await app.end();
      await teardown({ source, target });
    }, 240_000);
  }

  for (const [from, to] of [['oldest', 15], [15, 'newest']] as const) {
    it(`the application workload through the online cutover: the target equals the frozen source, ${from} -> ${to}`, async () => {
      const src = from === 'oldest' ? c14 : c15;
      const tgt = to === 15 ? c15 : c17;
      const db = `appload_${src.version}_${tgt.version}`;
      await src.createDatabase(db);
      await tgt.createDatabase(db);
      await createAppDatabase(src.url(db));
      const appUrl = await createAppWriter(src, db, 'shop_writer', 'shop-pw-1');
      // The application's role exists on the new server too (it owns large objects there after the move).
      await tgt.query(`DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'shop_writer') THEN CREATE ROLE shop_writer; END IF; END $$`);
      const source = src.params(db), target = tgt.params(db);
      await installCapture({ source });
      const load = startAppWorkload({ url: appUrl, clients: 3, pauseMs: 5 });
      await load.waitForCommits(30);
      // A transaction open across the copy's snapshot.
      const open = new pg.Client({ connectionString: appUrl });
      await open.connect();
      await open.query('BEGIN');
      await open.query(`UPDATE shop.parents SET name = 'open across the copy' WHERE id = (SELECT min(id) FROM shop.parents)`);
      const copying = copy({ source, target, dir: join(await work(), 'copy'), jobs: 2 });
      for (let i = 0; i < 200 && !(await src.query(`SELECT 1 FROM _cutover.state WHERE start_snapshot IS NOT NULL`, [], db)).rowCount; i++) await new Promise((r) => setTimeout(r, 25));
      await open.query(`INSERT INTO shop.history VALUES (-1, 'open across the copy', 1), (-1, 'open across the copy', 1)`);
      await open.query('COMMIT');
      await open.end();
      await copying;
      const a = await Applier.open({ source, target });
      let n = 0;
      await a.run({ until: () => ++n >= 5 });
      await a.close();
      const res = await cutover({ source, target, fence: 'revoke', roles: ['shop_writer'], verify: 'checksums' });
      const stats = await load.stop();
      expect(stats.fenced).toBe(true);
      expect(stats.commits).toBeGreaterThan(60);
      // Most kinds of operation committed at least once during the run.
      expect(Object.keys(stats.byKind).length).toBeGreaterThanOrEqual(9);
      expect(res.verify?.ok).toBe(true);
      expect(await rowFingerprint(tgt.url(db), SCHEMAS)).toEqual(await rowFingerprint(src.url(db), SCHEMAS));
      expect((await tgt.query(`SELECT count(*)::int n FROM shop.history WHERE at = -1`, [], db)).rows[0]!.n).toBe(2);
      await teardown({ source, target });
    }, 420_000);
  }
  it('runbooks/online-cutover.md runs unchanged on a database with keyless tables, types in public and large objects', async () => {
    const db = 'apprunbook';
    await c15.createDatabase(db);
    await c17.createDatabase(db);
    await createAppDatabase(c15.url(db));
    // The runbook fences the role app_writer; it exists on the new server too.
    const appUrl = await createAppWriter(c15, db, 'app_writer', 'app-pw-2');
    await c17.query(`DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'app_writer') THEN CREATE ROLE app_writer; END IF; END $$`);
    const rb = await tempRunbook(shippedRunbook('online-cutover.md'));
    // An ordinary application's pace (the runbook catches up to 1 s of lag before it fences).
    const load = startAppWorkload({ url: appUrl, clients: 1, pauseMs: 50 });
    await load.waitForCommits(20);
    const r = await cutoverCli(['run', rb.file, '--state-dir', rb.stateDir, '--yes'], { SOURCE_URL: c15.url(db), TARGET_URL: c17.url(db) });
    const stats = await load.stop();
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(stats.fenced).toBe(true);
    expect(stats.byKind['large objects'] ?? 0).toBeGreaterThan(0);
    expect(await rowFingerprint(c17.url(db), SCHEMAS)).toEqual(await rowFingerprint(c15.url(db), SCHEMAS));
  }, 420_000);
  it('ddl: follow applies new enum labels, new types and nullable or defaulted columns; anything else halts with the statements to run', async () => {
    const db = 'follow';
    await c15.createDatabase(db);
    await c17.createDatabase(db);
    await createAppDatabase(c15.url(db));
    const source = c15.params(db), target = c17.params(db);
    await installCapture({ source });
    await copy({ source, target, dir: join(await work(), 'copy'), jobs: 1 });
    const notes: string[] = [];
    const a = await Applier.open({ source, target, followDdl: true, onNote: (m) => notes.push(m) });
    await catchUp(a);
    await c15.query(`ALTER TYPE public.mood ADD VALUE 'meh' BEFORE 'ok'`, [], db);
    await c15.query(`ALTER TYPE public.mood ADD VALUE 'elated'`, [], db);
    await c15.query(`ALTER TABLE shop.accounts ADD COLUMN nickname text, ADD COLUMN score int NOT NULL DEFAULT 7`, [], db);
    await c15.query(`UPDATE shop.accounts SET mood = 'meh', nickname = 'nick', score = 9 WHERE id <= 5; UPDATE shop.accounts SET mood = 'elated' WHERE id = 6`, [], db);
    await catchUp(a);
    expect(notes.join('\n')).toMatch(/followed DDL on the source: .*ALTER TYPE public\.mood ADD VALUE IF NOT EXISTS 'meh' AFTER 'sad'/);
    const labels = async (c: Cluster) => (await c.query<{ l: string }>(`SELECT string_agg(enumlabel, ',' ORDER BY enumsortorder) l FROM pg_enum WHERE enumtypid = 'public.mood'::regtype`, [], db)).rows[0]!.l;
    expect(await labels(c17)).toBe(await labels(c15));
    expect(await labels(c17)).toBe('sad,meh,ok,happy,elated');
    expect(await rowsOnly(c17.url(db))).toEqual(await rowsOnly(c15.url(db)));
    // Without ddl: follow this would have halted; a later applier (cutover's) keeps following, as recorded.
    await a.close();
    const b = await Applier.open({ source, target });
    await c15.query(`ALTER TABLE shop.parents ADD COLUMN born date`, [], db);
    await c15.query(`UPDATE shop.parents SET born = DATE '2020-01-01' WHERE id < 4`, [], db);
    await catchUp(b);
    expect(await rowsOnly(c17.url(db))).toEqual(await rowsOnly(c15.url(db)));
    // A type change is not followed: exit 7, the object, and the statement to run.
    await c15.query(`ALTER TABLE shop.parents ALTER COLUMN name TYPE varchar(200)`, [], db);
    await c15.query(`UPDATE shop.parents SET name = name || '!' WHERE id = 1`, [], db);
    const e = await catchUp(b).catch((x: unknown) => x);
    await b.close();
    expect((e as CutoverError).code).toBe('E_HALTED');
    expect((e as CutoverError).message).toMatch(/DDL on the source that ddl: follow does not apply: "shop"\."parents": column "name" changed type \(text on the target, character varying\(200\) on the source\)/);
    expect((e as CutoverError).hint).toMatch(/ALTER TABLE "shop"\."parents" ALTER COLUMN "name" TYPE character varying\(200\)/);
    const env = { SRC: c15.url(db), TGT: c17.url(db) };
    const r = await cutoverCli(['replicate', 'apply', '--source', 'env:SRC', '--target', 'env:TGT', '--follow-ddl', '--until-caught-up'], env);
    expect(r.code).toBe(7);
    await teardown({ source, target });
  }, 180_000);
});

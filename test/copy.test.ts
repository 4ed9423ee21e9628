import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import pg from 'pg';
import { availableMajors, createSampleDatabase, startClusters, stopAllClusters, type Cluster } from '../src/testing/index.js';
import { copy } from '../src/dump/copy/copy.js';
import { dump } from '../src/dump/dump.js';
import { restore } from '../src/dump/restore.js';
import { verify } from '../src/verify/verify.js';
import { CLI, cutover } from './helpers/cli.js';

let c14: Cluster, c15: Cluster, c17: Cluster;
const work = () => mkdtemp(join(tmpdir(), 'cutover-copytest-'));

beforeAll(async () => {
  const majors = await availableMajors();
  [c14, c15, c17] = (await startClusters([{ version: majors[0] }, { version: 15 }, { version: majors.at(-1) }])) as [Cluster, Cluster, Cluster];
  await c14.createDatabase('shop');
  await c15.createDatabase('shop');
  await Promise.all([createSampleDatabase(c14.url('shop'), { rows: 4000 }), createSampleDatabase(c15.url('shop'), { rows: 4000 })]);
  for (const c of [c14, c15]) await c.query(`SELECT lo_from_bytea(0, '\\x00010203'::bytea)`, [], 'shop');
});
afterAll(() => stopAllClusters());

async function expectIdentical(src: Cluster, dst: Cluster, db: string) {
  const r = await verify({ source: src.params('shop'), target: dst.params(db), level: 'full', jobs: 2 });
  expect(r.schema).toEqual([]);
  expect(r.sequences!.filter((s) => s.status !== 'same')).toEqual([]);
  expect(r.tables.filter((t) => t.status !== 'same')).toEqual([]);
  expect(r.missingTables).toEqual([]);
  expect(r.ok, JSON.stringify({ privileges: r.privileges, matviews: r.matviews, largeObjects: r.largeObjects, notes: r.notes })).toBe(true);
  // Every large object (the sample's two and the test's own) with the same OID and contents.
  const los = (c: Cluster, d: string) => c.query<{ d: string }>(`SELECT oid::text || ':' || encode(lo_get(oid), 'hex') d FROM pg_largeobject_metadata ORDER BY oid`, [], d);
  const [lo, srcLo] = await Promise.all([los(dst, db), los(src, 'shop')]);
  expect(lo.rows.map((x) => x.d)).toEqual(srcLo.rows.map((x) => x.d));
  expect(lo.rows).toHaveLength(3);
  expect(lo.rows.some((x) => x.d.endsWith(':00010203'))).toBe(true);
}

describe('streaming copy', () => {
  it(`copies the sample database from the oldest version to 15 identically (split tables, FREEZE, indexes, constraints)`, async () => {
    await c15.createDatabase('from14');
    const dir = await work();
    const s = await copy({ source: c14.params('shop'), target: c15.params('from14'), dir, jobs: 2, splitTablesLargerThan: 100_000 });
    expect(s.ok).toBe(true);
    expect(s.tables.find((t) => t.table === 'app.orders')!.parts).toBeGreaterThan(1);
    expect(s.tables.find((t) => t.table === 'app.orders')!.rows).toBe(8000);
    expect(s.largeObjects).toBe(3);
    expect(JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8')).ok).toBe(true);
    await expectIdentical(c14, c15, 'from14');
    // Unsplit tables (audit_log has no key, so it is never split) were loaded with COPY FREEZE.
    // (HEAP_XMIN_FROZEN = 0x0300; pageinspect ships with the PostgreSQL 15 server package.)
    await c15.query('CREATE EXTENSION pageinspect', [], 'from14');
    const frozen = await c15.query<{ f: boolean; n: number }>(
      `SELECT bool_and((t_infomask & 768) = 768) f, count(*)::int n FROM heap_page_items(get_raw_page('billing.audit_log', 0))`, [], 'from14');
    expect(frozen.rows[0]!.n).toBeGreaterThan(0);
    expect(frozen.rows[0]!.f).toBe(true);
    await c15.query('DROP EXTENSION pageinspect', [], 'from14');
  });

  it('uses binary COPY only for tables whose columns allow it', async () => {
    const { readTables } = await import('../src/dump/copy/plan.js');
    const c = new pg.Client({ connectionString: c14.url('shop') });
    await c.connect();
    try {
      const safe = new Map((await readTables(c)).map((t) => [`${t.schema}.${t.name}`, t.binarySafe]));
      expect(safe.get('app.orders')).toBe(true); // built-in types only (uuid, numeric, interval, timestamptz...)
      expect(safe.get('app.products')).toBe(true); // a domain over text, text[], json(b), bytea
      expect(safe.get('app.customers')).toBe(false); // a composite column carries type OIDs in binary
    } finally {
      await c.end();
    }
  });

  it('copies 15 to the newest version identically', async () => {
    await c17.createDatabase('from15');
    const dir = await work();
    const s = await copy({ source: c15.params('shop'), target: c17.params('from15'), dir, jobs: 2 });
    expect(s.ok).toBe(true);
    await expectIdentical(c15, c17, 'from15');
    // The same command again: the copy finished, so it is not offered a --resume; nothing is touched.
    await expect(copy({ source: c15.params('shop'), target: c17.params('from15'), dir, jobs: 2 })).rejects.toMatchObject({
      code: 'E_USAGE', message: expect.stringMatching(/holds the journal of a copy that finished at \d{4}-/),
      hint: expect.not.stringMatching(/--resume/),
    });
    await expectIdentical(c15, c17, 'from15');
  });

  it('refuses a non-empty target and a source newer than pg_dump, touching nothing', async () => {
    const dir = await work();
    await expect(copy({ source: c14.params('shop'), target: c15.params('shop'), dir })).rejects.toThrow(/already holds \d+ table/);
    if (c17.version > 15) {
      await c17.createDatabase('newsrc');
      await c17.query('CREATE TABLE t (id int primary key)', [], 'newsrc');
      await c15.createDatabase('empty');
      await expect(copy({ source: c17.params('newsrc'), target: c15.params('empty'), dir: await work() }))
        .rejects.toThrow(/pg_dump 15\.\d+ .* older than the PostgreSQL \d+ server/);
      expect((await c15.query(`SELECT count(*)::int n FROM pg_class WHERE relnamespace = 'public'::regnamespace`, [], 'empty')).rows[0]!.n).toBe(0);
    }
  });

  it('copies only the selected schemas, minus excluded tables (exact names)', async () => {
    await c15.createDatabase('selected');
    const s = await copy({ source: c14.params('shop'), target: c15.params('selected'), dir: await work(), schemas: ['app', 'billing'], excludeTables: ['billing.audit_log'] });
    const tables = s.tables.map((t) => t.table).sort();
    expect(tables).toContain('app.Table With Spaces & "Quotes"');
    expect(tables).toContain('billing.invoices_2024');
    expect(tables).not.toContain('billing.audit_log');
    expect(tables.some((t) => t.startsWith('Ünïcode'))).toBe(false);
    const r = await verify({ source: c14.params('shop'), target: c15.params('selected'), level: 'checksums', tables: tables });
    expect(r.tables.filter((t) => t.status !== 'same')).toEqual([]);
    expect(r.tables.length).toBe(tables.length);
  });

  it('resumes a copy killed with SIGKILL, re-copying only unfinished work', async () => {
    await c15.createDatabase('killed');
    const dir = await work();
    const env = { S: c14.url('shop'), T: c15.url('killed') };
    const child = execa('node', [CLI, 'copy', '--source', 'env:S', '--target', 'env:T', '--dir', dir, '-j', '1', '--split-tables-larger-than', '0.05'], { env, reject: false });
    const journal = join(dir, 'journal.jsonl');
    const lines = () => (existsSync(journal) ? readFileSync(journal, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as { kind: string; key: string }) : []);
    for (let i = 0; i < 3000 && lines().filter((e) => e.kind === 'part').length < 2; i++) await new Promise((r) => setTimeout(r, 10));
    child.kill('SIGKILL');
    await child;
    // The killed process's sessions end as soon as the server notices; make sure they have.
    await c14.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name LIKE 'cutover/%'`);
    const before = lines();
    expect(before.some((e) => e.kind === 'part')).toBe(true);
    expect(before.some((e) => e.kind === 'post-data')).toBe(false);
    // Without --resume the journal is refused.
    const refused = await cutover(['copy', '--source', 'env:S', '--target', 'env:T', '--dir', dir], env);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('--resume');
    const r = await cutover(['copy', '--source', 'env:S', '--target', 'env:T', '--dir', dir, '-j', '2', '--resume', '--json', '--split-tables-larger-than', '0.05'], env);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('the original snapshot is gone');
    const after = lines();
    // Every unit finished before the kill was not done again.
    const count = (kind: string, key: string) => after.filter((e) => e.kind === kind && e.key === key).length;
    for (const e of before.filter((x) => x.kind === 'part' || x.kind === 'table' || x.kind === 'pre-data')) expect(count(e.kind, e.key)).toBe(1);
    expect(after.some((e) => e.kind === 'done')).toBe(true);
    await expectIdentical(c14, c15, 'killed');
  });

  it('holds only ACCESS SHARE locks on the source while the application keeps writing', async () => {
    await c15.createDatabase('live');
    const dir = await work();
    const app = new pg.Client({ connectionString: c14.url('shop'), application_name: 'the-app' });
    const watcher = new pg.Client({ connectionString: c14.url('shop'), application_name: 'lock-watcher' });
    await Promise.all([app.connect(), watcher.connect()]);
    const modes = new Set<string>();
    let writes = 0, stop = false, sawCutover = false;
    const writer = (async () => {
      while (!stop) {
        await app.query(`INSERT INTO billing.audit_log (at, message) VALUES (now(), 'during copy')`);
        await app.query(`UPDATE app.customers SET birthday = birthday WHERE id = $1`, [1 + (writes % 100)]);
        writes++;
      }
    })();
    const sampler = (async () => {
      while (!stop) {
        const { rows } = await watcher.query<{ mode: string }>(`SELECT DISTINCT l.mode FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
          WHERE a.application_name LIKE 'cutover/%' AND l.locktype = 'relation'
            AND l.relation >= 16384`); // user relations (lo_get locks a catalog index RowExclusive internally)
        if (rows.length) sawCutover = true;
        for (const r of rows) modes.add(r.mode);
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
    try {
      const writesBefore = writes;
      await copy({ source: c14.params('shop'), target: c15.params('live'), dir, jobs: 2, splitTablesLargerThan: 50_000 });
      expect(writes).toBeGreaterThan(writesBefore);
    } finally {
      stop = true;
      await Promise.all([writer, sampler]);
      await Promise.all([app.end(), watcher.end()]);
    }
    expect(sawCutover).toBe(true);
    expect([...modes]).toEqual(['AccessShareLock']);
    // The copy is of its snapshot: rows written after it started are not in the target (change capture's job).
    const srcRows = Number((await c14.query(`SELECT count(*) n FROM billing.audit_log`, [], 'shop')).rows[0]!.n);
    const dstRows = Number((await c15.query(`SELECT count(*) n FROM billing.audit_log`, [], 'live')).rows[0]!.n);
    expect(dstRows).toBeLessThan(srcRows);
    await c14.query(`DELETE FROM billing.audit_log WHERE message = 'during copy'`, [], 'shop');
  });
});

describe('dump and restore', () => {
  it('dump -Fd -j2 + restore -j2 arrive identical (14 to 15), and a second dump with the same options is skipped', async () => {
    const dir = join(await work(), 'dump');
    const d = await dump({ source: c14.params('shop'), dir, jobs: 2 });
    expect(d.skipped).toBe(false);
    expect(d.tables).toBeGreaterThanOrEqual(9);
    const reused = await dump({ source: c14.params('shop'), dir, jobs: 2 });
    expect(reused.skipped).toBe(true);
    // How old the reused dump's data is: the first dump's finish, not now.
    expect(reused.finishedAt).toBe(d.finishedAt);
    expect(Date.parse(d.finishedAt)).toBeLessThanOrEqual(Date.now());
    await c15.createDatabase('restored');
    const r = await restore({ target: c15.params('restored'), dir, jobs: 2 });
    expect(r.sections.map((s) => s.section)).toEqual(['pre-data', 'data', 'post-data']);
    await expectIdentical(c14, c15, 'restored');
    // Resume: everything is recorded as done, a rerun skips it all.
    const again = await restore({ target: c15.params('restored'), dir, jobs: 2 });
    expect(again.sections.every((s) => s.skipped)).toBe(true);
    // A fresh restore into a database that already holds tables is refused up front, nothing touched.
    await c15.createDatabase('restored_busy');
    await c15.query('CREATE TABLE already_here (id int)', [], 'restored_busy');
    const busy = await restore({ target: c15.params('restored_busy'), dir, jobs: 2 }).catch((e: unknown) => e as { code?: string; message: string; hint?: string });
    expect(busy.code).toBe('E_PREFLIGHT');
    expect(busy.message).toMatch(/the target database "restored_busy" already holds 1 table\(s\)/);
    expect(busy.hint).toMatch(/nothing was changed/);
    expect((await c15.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_class WHERE relkind = 'r' AND relnamespace::regnamespace::text NOT IN ('pg_catalog', 'information_schema')`, [], 'restored_busy')).rows[0]!.n).toBe(1);
  });

  it('dump + restore from 15 to the newest version arrive identical', async () => {
    const dir = join(await work(), 'dump');
    await dump({ source: c15.params('shop'), dir, jobs: 2 });
    await c17.createDatabase('restored15');
    await restore({ target: c17.params('restored15'), dir, jobs: 2 });
    await expectIdentical(c15, c17, 'restored15');
  });

  it('a restore interrupted while pg_restore copies a table (serial, -j 1) copies that table again on resume', async () => {
    const dir = join(await work(), 'dump');
    await dump({ source: c14.params('shop'), dir, jobs: 1 });
    await c15.createDatabase('restore_cut');
    await restore({ target: c15.params('restore_cut'), dir, jobs: 1, sections: ['pre-data'] });
    // A slow table on the target (a trigger that sleeps a little per row), so that the interruption lands
    // inside its COPY: pg_restore printed "processing item" for it when it started.
    await c15.query(`CREATE FUNCTION public.slow_row() RETURNS trigger LANGUAGE plpgsql AS $f$ BEGIN PERFORM pg_sleep(0.002); RETURN NEW; END $f$;
      CREATE TRIGGER slow_row BEFORE INSERT ON app.orders FOR EACH ROW EXECUTE FUNCTION public.slow_row()`, [], 'restore_cut');
    const env = { T: c15.url('restore_cut') };
    const child = execa('node', [CLI, 'restore', '--target', 'env:T', '--dir', dir, '-j', '1', '--section', 'data'], { env, reject: false });
    let copying = 0;
    for (let i = 0; i < 3000 && !copying; i++) {
      copying = (await c15.query(`SELECT 1 FROM pg_stat_activity WHERE datname = 'restore_cut' AND state = 'active' AND query ILIKE 'COPY app.orders%'`)).rowCount ?? 0;
      if (!copying) await new Promise((r) => setTimeout(r, 20));
    }
    expect(copying).toBe(1);
    child.kill('SIGINT');
    expect((await child).exitCode).toBe(130);
    expect((await c15.query<{ n: number }>('SELECT count(*)::int AS n FROM app.orders', [], 'restore_cut')).rows[0]!.n).toBe(0);
    await c15.query('DROP TRIGGER slow_row ON app.orders', [], 'restore_cut');
    const resumed = await cutover(['restore', '--target', 'env:T', '--dir', dir, '-j', '1', '--section', 'data', 'post-data'], env);
    expect(resumed.code, resumed.stderr).toBe(0);
    const n = async (c: Cluster, db: string) => (await c.query<{ n: number }>('SELECT count(*)::int AS n FROM app.orders', [], db)).rows[0]!.n;
    expect(await n(c15, 'restore_cut')).toBe(await n(c14, 'shop'));
    expect(await n(c14, 'shop')).toBeGreaterThan(0);
  });

  it('a dump killed mid-way is detected as incomplete by restore', async () => {
    const dir = join(await work(), 'dump');
    const child = execa('node', [CLI, 'dump', '--source', 'env:S', '--dir', dir, '-j', '1', '-Z', '9'], { env: { S: c14.url('shop') }, reject: false });
    for (let i = 0; i < 3000 && !existsSync(join(`${dir}.partial`, 'toc.dat')) && !existsSync(`${dir}.partial`); i++) await new Promise((r) => setTimeout(r, 5));
    child.kill('SIGKILL');
    await child;
    expect(existsSync(join(dir, 'cutover-complete.json'))).toBe(false);
    const r = await cutover(['restore', '--target', 'env:T', '--dir', dir], { T: c15.url('shop') });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/is not a dump directory \(a partial dump is at .*\.partial: pg_dump did not finish\)/);
  });
});

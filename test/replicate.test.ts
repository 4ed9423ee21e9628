import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { availableMajors, createSampleDatabase, startClusters, startWorkload, stopAllClusters, type Cluster } from '../src/testing/index.js';
import { copy } from '../src/dump/copy/copy.js';
import { verify } from '../src/verify/verify.js';
import { installCapture } from '../src/replicate/capture.js';
import { Applier } from '../src/replicate/apply.js';
import { cutover } from '../src/replicate/cutover.js';
import { teardown } from '../src/replicate/teardown.js';
import { replicationStatus } from '../src/replicate/status.js';
import { CutoverError } from '../src/errors.js';

let c14: Cluster, c15: Cluster, c17: Cluster;
const work = () => mkdtemp(join(tmpdir(), 'cutover-repltest-'));
const APP_PASSWORD = 'app-secret-9';

beforeAll(async () => {
  const majors = await availableMajors();
  [c14, c15, c17] = (await startClusters([{ version: majors[0] }, { version: 15 }, { version: majors.at(-1) }])) as [Cluster, Cluster, Cluster];
}, 60_000);
afterAll(() => stopAllClusters());

/** A source database with the sample schema and an application role that writes (and can be fenced). */
async function prepareSource(src: Cluster, db: string, rows = 2000): Promise<string> {
  await src.createDatabase(db);
  await createSampleDatabase(src.url(db), { rows });
  await src.query(`DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'app_writer') THEN CREATE ROLE app_writer LOGIN PASSWORD '${APP_PASSWORD}'; END IF; END $$`);
  await src.query(`GRANT USAGE ON SCHEMA app, billing, "Ünïcode ""Schema""" TO app_writer;
    GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON ALL TABLES IN SCHEMA app, billing, "Ünïcode ""Schema""" TO app_writer;
    GRANT USAGE ON ALL SEQUENCES IN SCHEMA app, billing TO app_writer;`, [], db);
  return `postgres://app_writer:${APP_PASSWORD}@${src.host}:${src.port}/${db}?sslmode=disable`;
}

async function cutoverObjects(c: Cluster, db: string): Promise<string[]> {
  const { rows } = await c.query<{ what: string }>(`
    SELECT 'schema ' || nspname AS what FROM pg_namespace WHERE nspname LIKE '%cutover%'
    UNION ALL SELECT 'trigger ' || tgname FROM pg_trigger WHERE tgname LIKE 'cutover%'
    UNION ALL SELECT 'function ' || proname FROM pg_proc WHERE proname LIKE '%cutover%' OR proname LIKE 'capture\\_%'
    UNION ALL SELECT 'table ' || relname FROM pg_class WHERE relname LIKE 'cutover%' AND relpersistence <> 't'`, [], db);
  return rows.map((r) => r.what);
}

describe('change capture with triggers', () => {
  it('refuses a table without a primary key by name, and changes nothing', async () => {
    await prepareSource(c15, 'nokey', 200);
    const e = await installCapture({ source: c15.params('nokey') }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(CutoverError);
    expect((e as CutoverError).code).toBe('E_NO_KEY');
    expect((e as CutoverError).message).toMatch(/"billing"\."audit_log" has no primary key/);
    expect((e as CutoverError).hint).toMatch(/add a primary key.*declare a unique key.*exclude the table/);
    expect(await cutoverObjects(c15, 'nokey')).toEqual([]);
  });

  for (const [from, to] of [['oldest', 15], [15, 'newest']] as const) {
    it(`replicates under concurrent writers and cuts over with nothing lost: ${from} -> ${to}`, async () => {
      const src = from === 'oldest' ? c14 : c15;
      const tgt = to === 15 ? c15 : c17;
      const db = `live_${src.version}_${tgt.version}`;
      const appUrl = await prepareSource(src, db);
      await tgt.createDatabase(db);
      const source = src.params(db), target = tgt.params(db);

      const cap = await installCapture({ source, excludeTables: ['billing.audit_log'] });
      expect(cap.tables.map((t) => `${t.schema}.${t.name}`)).toContain('billing.invoices');
      const load = startWorkload({ url: appUrl, clients: 3 });
      await load.waitForCommits(20);
      // A transaction that straddles the copy's snapshot: begun and written before, committed after.
      const straddle = new pg.Client({ connectionString: appUrl });
      await straddle.connect();
      await straddle.query('BEGIN');
      await straddle.query(`UPDATE app.customers SET name = 'straddler' WHERE id = (SELECT min(id) FROM app.customers)`);
      await straddle.query(`INSERT INTO app.products (sku, title, price) VALUES ('STR-1', 'straddler', 1)`);
      const copying = copy({ source, target, dir: join(await work(), 'copy'), jobs: 2 });
      // The copy records its snapshot; commit the straddler after that.
      for (let i = 0; i < 200 && !(await src.query(`SELECT 1 FROM _cutover.state WHERE start_snapshot IS NOT NULL`, [], db)).rowCount; i++) await new Promise((r) => setTimeout(r, 25));
      await straddle.query('COMMIT');
      // And a long one, open across the copy and several batches.
      const long = new pg.Client({ connectionString: appUrl });
      await long.connect();
      await long.query('BEGIN');
      // (Not on the table the writers TRUNCATE: its lock queue would stall them behind this transaction.)
      await long.query(`INSERT INTO app.products (sku, title, price) VALUES ('LNG-1', 'long one', 2)`);
      await copying;

      const a = await Applier.open({ source, target });
      let n = 0;
      await a.run({ until: () => ++n >= 3 });
      await long.query(`UPDATE app.customers SET name = 'long one' WHERE id = (SELECT max(id) FROM app.customers)`);
      await long.query('COMMIT');
      await long.end();
      await straddle.end();
      // Until the applied tick shows everything committed so far (the writers never pause).
      const now = await a.sourceSnapshot();
      await a.run({ until: () => a.covers(now) });
      await a.close();
      const st = await replicationStatus({ source, target });
      expect(st.applied!.batches).toBeGreaterThanOrEqual(3);

      // Cut over while the writers still write: the fence stops them.
      const r = await cutover({ source, target, fence: 'revoke', roles: ['app_writer'], verify: 'full' });
      const stats = await load.stop();
      expect(stats.fenced).toBe(true);
      expect(stats.commits).toBeGreaterThan(50);
      expect(r.verify).toMatchObject({ ok: true, level: 'full' });
      expect(r.revoked).toBeGreaterThan(0);
      expect(r.outageMs).toBeGreaterThan(0);
      // Verify independently, sequences included.
      const v = await verify({ source, target, level: 'full', jobs: 2 });
      expect(v.tables.filter((t) => t.status !== 'same')).toEqual([]);
      expect(v.sequences!.filter((s) => s.status !== 'same')).toEqual([]);
      expect(v.schema).toEqual([]);
      expect((await tgt.query(`SELECT 1 FROM app.products WHERE title IN ('long one', 'straddler')`, [], db)).rowCount).toBe(2);
      expect((await tgt.query(`SELECT 1 FROM app.customers WHERE name = 'straddler'`, [], db)).rowCount).toBe(1);

      const td = await teardown({ source, target });
      expect(td.sourceSchema).toBe(true);
      expect(td.fenceStatements.length).toBeGreaterThan(0);
      expect(await cutoverObjects(src, db)).toEqual([]);
      expect(await cutoverObjects(tgt, db)).toEqual([]);
      // Idempotent.
      expect(await teardown({ source, target })).toMatchObject({ triggersDropped: 0, sourceSchema: false, targetSchema: false });
    }, 180_000);
  }
});

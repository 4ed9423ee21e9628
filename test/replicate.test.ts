import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { availableMajors, startClusters, startWorkload, stopAllClusters, type Cluster } from '../src/testing/index.js';
import { copy } from '../src/dump/copy/copy.js';
import { verify } from '../src/verify/verify.js';
import { installCapture } from '../src/replicate/capture.js';
import { Applier } from '../src/replicate/apply.js';
import { cutover, unfence } from '../src/replicate/cutover.js';
import { teardown } from '../src/replicate/teardown.js';
import { replicationStatus } from '../src/replicate/status.js';
import { CutoverError } from '../src/errors.js';
import { execa } from 'execa';
import { CLI, cutover as cutoverCli } from './helpers/cli.js';
import { readFileSync } from 'node:fs';
import { shippedRunbook, tempRunbook } from './helpers/runbook.js';
import { sampleSource } from './helpers/source.js';
import { unexplainedDifferences } from './helpers/evidence.js';

let c14: Cluster, c15: Cluster, c17: Cluster;
const work = () => mkdtemp(join(tmpdir(), 'cutover-repltest-'));
const APP_PASSWORD = 'app-secret-9';

beforeAll(async () => {
  const majors = await availableMajors();
  [c14, c15, c17] = (await startClusters([{ version: majors[0] }, { version: 15 }, { version: majors.at(-1) }])) as [Cluster, Cluster, Cluster];
}, 60_000);
afterAll(() => stopAllClusters());

const prepareSource = (src: Cluster, db: string, rows = 2000) => sampleSource(src, db, rows, APP_PASSWORD);

async function cutoverObjects(c: Cluster, db: string): Promise<string[]> {
  const { rows } = await c.query<{ what: string }>(`
    SELECT 'schema ' || nspname AS what FROM pg_namespace WHERE nspname LIKE '%cutover%'
    UNION ALL SELECT 'trigger ' || tgname FROM pg_trigger WHERE tgname LIKE 'cutover%'
    UNION ALL SELECT 'function ' || proname FROM pg_proc WHERE proname LIKE '%cutover%' OR proname LIKE 'capture\\_%'
    UNION ALL SELECT 'table ' || relname FROM pg_class WHERE relname LIKE 'cutover%' AND relpersistence <> 't'`, [], db);
  return rows.map((r) => r.what);
}

describe('change capture with triggers', () => {
  it('refuses by name only a table without a key whose columns cannot be compared, and changes nothing', async () => {
    await prepareSource(c15, 'nokey', 200);
    // billing.audit_log has no key either, but its columns compare: it is not named.
    await c15.query(`CREATE TABLE app."only points" (p point, j json); CREATE TABLE app.mixed (p point, n int)`, [], 'nokey');
    const e = await installCapture({ source: c15.params('nokey') }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(CutoverError);
    expect((e as CutoverError).code).toBe('E_NO_KEY');
    expect((e as CutoverError).message).toMatch(/whose columns have no equality operator: "app"\."only points"$/);
    expect((e as CutoverError).hint).toMatch(/add a primary key.*declare a unique key.*exclude the table/);
    expect(await cutoverObjects(c15, 'nokey')).toEqual([]);
  });

  it('empties applied log tables with TRUNCATE (rotation by transaction-id range)', async () => {
    const db = 'rotate';
    await c15.createDatabase(db);
    await c17.createDatabase(db);
    await c15.query('CREATE TABLE t (id int PRIMARY KEY, v int)', [], db);
    const source = c15.params(db), target = c17.params(db);
    // Ranges of 4 transaction ids: the log moves to the next table every 4 transactions.
    await installCapture({ source, rangeBits: 2 });
    await copy({ source, target, dir: join(await work(), 'copy'), jobs: 1 });
    const a = await Applier.open({ source, target });
    for (let i = 0; i < 30; i++) await c15.query('INSERT INTO t VALUES ($1, $1)', [i], db);
    const logged = async () => (await c15.query<{ n: number }>('SELECT count(*)::int n FROM _cutover.log', [], db)).rows[0]!.n;
    expect(await logged()).toBe(30);
    // Not applied yet: nothing may go.
    expect(await a.rotate(true)).toBe(0);
    const now = await a.sourceSnapshot();
    await a.run({ until: () => a.covers(now) });
    const removed = await a.rotate(true);
    expect(removed).toBeGreaterThan(0);
    expect(await logged()).toBe(30 - removed);
    await c15.query('UPDATE t SET v = -v', [], db);
    const later = await a.sourceSnapshot();
    await a.run({ until: () => a.covers(later) });
    await a.close();
    expect((await verify({ source, target, level: 'full', jobs: 1 })).tables.every((t) => t.status === 'same')).toBe(true);

    // A revoke fence, then its rollback: exactly the privileges that were there come back.
    await c15.query(`DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'rot_app') THEN CREATE ROLE rot_app; END IF; END $$`);
    await c15.query('GRANT SELECT, INSERT, UPDATE ON t TO rot_app', [], db);
    const acl = async () => (await c15.query<{ a: string }>(`SELECT relacl::text a FROM pg_class WHERE oid = 't'::regclass`, [], db)).rows[0]!.a;
    const before = await acl();
    const r = await cutover({ source, target, fence: 'revoke', roles: ['rot_app'], verify: 'counts' });
    expect(r.revoked).toBe(2);
    expect((await c15.query(`SELECT has_table_privilege('rot_app', 't', 'INSERT') i, has_table_privilege('rot_app', 't', 'SELECT') s`, [], db)).rows[0]).toEqual({ i: false, s: true });
    const lifted = await unfence(source);
    expect(lifted).toMatchObject({ privileges: 2, tables: 1 });
    expect(await acl()).toBe(before);
    expect((await unfence(source)).statements).toEqual([]);
    expect((await c15.query(`SELECT tgname FROM pg_trigger WHERE tgname LIKE 'cutover_fence%'`, [], db)).rows).toEqual([]);
    await teardown({ source, target });
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
      // The target's own triggers (app.products_touch) are off while changes are applied.
      expect((await tgt.query(`SELECT tgenabled FROM pg_trigger WHERE tgname = 'products_touch'`, [], db)).rows[0]!.tgenabled).toBe('D');
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

      // What a revoke fence takes: every write privilege app_writer holds directly, on every table (excluded ones too).
      const held = Number((await src.query<{ n: string }>(`SELECT count(*) n FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace,
          aclexplode(coalesce(c.relacl, acldefault('r', c.relowner))) a
        WHERE c.relkind IN ('r', 'p') AND n.nspname IN ('app', 'billing', 'Ünïcode "Schema"') AND a.grantee = 'app_writer'::regrole
          AND a.privilege_type IN ('INSERT', 'UPDATE', 'DELETE', 'TRUNCATE')`, [], db)).rows[0]!.n);
      expect(held).toBeGreaterThanOrEqual(9 * 4);
      // Cut over while the writers still write: the fence stops them.
      const r = await cutover({ source, target, fence: 'revoke', roles: ['app_writer'], verify: 'full' });
      const stats = await load.stop();
      expect(stats.fenced).toBe(true);
      expect(stats.commits).toBeGreaterThan(50);
      expect(r.verify).toMatchObject({ ok: true, level: 'full' });
      // Every captured table and partition: no write privilege left for the fenced role.
      const writable = await src.query(`SELECT c.oid::regclass::text t FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'p') AND n.nspname IN ('app', 'billing', 'Ünïcode "Schema"')
          AND (has_table_privilege('app_writer', c.oid, 'INSERT') OR has_table_privilege('app_writer', c.oid, 'UPDATE') OR has_table_privilege('app_writer', c.oid, 'DELETE'))`, [], db);
      expect(writable.rows).toEqual([]);
      expect(r.revoked).toBe(held);
      // The sample's tables and partitions (parents included, 19 today), 4 privileges each.
      const tableCount = Number((await src.query<{ n: string }>(`SELECT count(*) n FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'p') AND n.nspname IN ('app', 'billing', 'Ünïcode "Schema"')`, [], db)).rows[0]!.n);
      expect(tableCount).toBeGreaterThanOrEqual(19);
      expect(held).toBe(tableCount * 4);
      // And the fence's triggers on every table of those schemas, the excluded billing.audit_log included.
      const unfenced = await src.query(`SELECT c.oid::regclass::text t FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'p') AND n.nspname IN ('app', 'billing', 'Ünïcode "Schema"')
          AND NOT EXISTS (SELECT 1 FROM pg_trigger g WHERE g.tgrelid = c.oid AND g.tgname = 'cutover_fence')`, [], db);
      expect(unfenced.rows).toEqual([]);
      expect(r.fencedTables).toBeGreaterThanOrEqual(tableCount);
      expect((await tgt.query(`SELECT tgenabled FROM pg_trigger WHERE tgname = 'products_touch'`, [], db)).rows[0]!.tgenabled).toBe('O');
      expect(r.outageMs).toBeGreaterThan(0);
      // Verify independently, sequences included.
      const v = await verify({ source, target, level: 'full', jobs: 2 });
      expect(await unexplainedDifferences(v, src, tgt, db)).toEqual([]);
      expect(v.sequences!.filter((s) => s.status !== 'same')).toEqual([]);
      expect(v.schema).toEqual([]);
      expect((await tgt.query(`SELECT 1 FROM app.products WHERE title IN ('long one', 'straddler')`, [], db)).rowCount).toBe(2);
      expect((await tgt.query(`SELECT 1 FROM app.customers WHERE name LIKE 'straddler%'`, [], db)).rowCount).toBe(1);

      const td = await teardown({ source, target });
      expect(td.sourceSchema).toBe(true);
      // The fence outlives teardown; the statements it prints lift it: its triggers, one GRANT per role and
      // set of privileges, and its schema.
      expect(td.fenceStatements.filter((x) => x.startsWith('GRANT'))).toHaveLength(1);
      expect(td.fenceStatements.filter((x) => x.startsWith('DROP TRIGGER'))).toHaveLength(2 * r.fencedTables);
      expect(td.fenceStatements.at(-1)).toBe('DROP SCHEMA IF EXISTS _cutover_fence CASCADE');
      expect((await src.query(`SELECT 1 FROM _cutover_fence.tables`, [], db)).rowCount).toBe(r.fencedTables);
      for (const st of td.fenceStatements) await src.query(st, [], db);
      expect((await src.query(`SELECT has_table_privilege('app_writer', 'billing.invoices_2025', 'DELETE') AND has_table_privilege('app_writer', 'app."Table With Spaces & ""Quotes"""', 'INSERT') ok`, [], db)).rows[0]!.ok).toBe(true);
      expect(await cutoverObjects(src, db)).toEqual([]);
      expect(await cutoverObjects(tgt, db)).toEqual([]);
      // Idempotent.
      expect(await teardown({ source, target })).toMatchObject({ triggersDropped: 0, sourceSchema: false, targetSchema: false });
    }, 180_000);
  }
});

describe('replication survives and stops safely', () => {
  it('an applier SIGKILLed mid-batch resumes with nothing lost; a terminated backend is survived; DDL halts it with the message', async () => {
    const db = 'survive';
    const appUrl = await prepareSource(c15, db, 3000);
    await c17.createDatabase(db);
    const source = c15.params(db), target = c17.params(db);
    const env = { SRC: c15.url(db), TGT: c17.url(db) };
    let r = await cutoverCli(['replicate', 'start', '--source', 'env:SRC', '--exclude-table', 'billing.audit_log', '--mode', 'statement'], env);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/capture on: 11 table\(s\), statement triggers/);
    r = await cutoverCli(['copy', '--source', 'env:SRC', '--target', 'env:TGT', '--dir', join(await work(), 'copy')], env);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/change capture is on: replication will start from this copy's snapshot/);

    // The capture schema is private: another role can neither read nor write it.
    await c15.query(`DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'snoop') THEN CREATE ROLE snoop LOGIN PASSWORD 'snoop'; END IF; END $$`);
    const snoop = new pg.Client({ connectionString: `postgres://snoop:snoop@${c15.host}:${c15.port}/${db}?sslmode=disable` });
    await snoop.connect();
    for (const sql of ['SELECT * FROM _cutover.log_0', `INSERT INTO _cutover.log_0 VALUES (1, 1, 'I', '[1]')`, 'SELECT _cutover.truncate_applied(0, NULL)']) {
      expect(await snoop.query(sql).then(() => 'allowed', (e: { code?: string }) => e.code)).toBe('42501');
    }
    await snoop.end();

    // One big transaction: its batch takes a while to apply. Kill the applier in the middle of it.
    await c15.query(`UPDATE app.orders SET note = 'big ' || id; UPDATE app.customers SET name = name || '!'`, [], db);
    const child = execa('node', [CLI, 'replicate', 'apply', '--source', 'env:SRC', '--target', 'env:TGT'], { env: { ...env }, reject: false });
    let busy = false;
    for (let i = 0; i < 1000 && !busy; i++) {
      // In the batch's target transaction (COPY into the temporary tables, or the upserts).
      busy = !!(await c17.query(`SELECT 1 FROM pg_stat_activity WHERE application_name LIKE 'cutover/apply-target#%' AND state = 'active' AND (query LIKE 'COPY pg_temp.%' OR query LIKE 'INSERT INTO % OVERRIDING SYSTEM VALUE %')`, [], db)).rowCount;
      if (!busy) await new Promise((res) => setTimeout(res, 5));
    }
    child.kill('SIGKILL');
    expect(busy).toBe(true);
    await child;
    const before = (await c17.query<{ batches: string }>('SELECT batches FROM _cutover.apply_state', [], db)).rows[0]!.batches;
    expect(before).toBe('0'); // killed inside the batch's transaction: nothing committed, tick unchanged

    // Resume in-process, with writers running, and end the applier's backends under it.
    const load = startWorkload({ url: appUrl, clients: 2, truncates: false });
    const a = await Applier.open({ source, target });
    const notes: string[] = [];
    (a as unknown as { o: { onNote: (m: string) => void } }).o.onNote = (m) => notes.push(m);
    let killed = false;
    await a.run({
      until: (b) => {
        if (!killed && b.events > 0) {
          killed = true;
          void c15.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'cutover/apply-source'`);
          void c17.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'cutover/apply-target'`);
        }
        return killed && a.totals.batches > 8;
      },
    });
    expect(notes.some((n) => /reconnecting/.test(n))).toBe(true);
    await load.stop();
    const now = await a.sourceSnapshot();
    await a.run({ until: () => a.covers(now) });
    await a.restoreTargetTriggers();
    const v = await verify({ source, target, level: 'full', jobs: 2 });
    expect(await unexplainedDifferences(v, c15, c17, db)).toEqual([]);

    // A capture trigger disabled behind cutover's back (here on a plain table): changes could be lost, so it halts for good.
    await c15.query(`ALTER TABLE app.orders DISABLE TRIGGER cutover_capture_u`, [], db);
    const lost = await a.run().catch((e: unknown) => e);
    expect((lost as CutoverError).code).toBe('E_HALTED');
    expect((lost as CutoverError).message).toMatch(/capture triggers on app\.orders were dropped or disabled/);
    // Put back as cutover set it (capture fires ALWAYS: a plain ENABLE would still be a change it halts on).
    await c15.query(`ALTER TABLE app.orders ENABLE ALWAYS TRIGGER cutover_capture_u`, [], db);
    await c17.query('UPDATE _cutover.apply_state SET halted = NULL', [], db);

    // DDL on the source: the applier halts and says what to do; status shows it.
    await c15.query('ALTER TABLE app.customers ADD COLUMN nickname text', [], db);
    const halted = await a.run().catch((e: unknown) => e);
    await a.close();
    expect(halted).toBeInstanceOf(CutoverError);
    expect((halted as CutoverError).code).toBe('E_HALTED');
    expect((halted as CutoverError).message).toMatch(/DDL on the source: app\.customers changed \(columns, key or partitions\)/);
    r = await cutoverCli(['replicate', 'apply', '--source', 'env:SRC', '--target', 'env:TGT'], env);
    expect(r.code).toBe(7);
    expect(r.stderr).toMatch(/replication is halted: DDL on the source/);
    expect(r.stderr).toMatch(/apply the same change on the target, then run `cutover replicate apply --accept-ddl`/);
    r = await cutoverCli(['replicate', 'status', '--source', 'env:SRC', '--target', 'env:TGT'], env);
    expect(r.stdout).toMatch(/HALTED: DDL on the source/);
    // Same DDL on the target, accept, and go on.
    await c17.query('ALTER TABLE app.customers ADD COLUMN nickname text', [], db);
    await c15.query(`UPDATE app.customers SET nickname = 'nick' WHERE id < 10`, [], db);
    r = await cutoverCli(['replicate', 'apply', '--source', 'env:SRC', '--target', 'env:TGT', '--accept-ddl', '--until-caught-up'], env);
    expect(r.code, r.stderr).toBe(0);
    expect((await c17.query(`SELECT count(*)::int n FROM app.customers WHERE nickname = 'nick'`, [], db)).rows[0]!.n).toBe(9);
    r = await cutoverCli(['replicate', 'teardown', '--source', 'env:SRC', '--target', 'env:TGT'], env);
    expect(r.code, r.stderr).toBe(0);
    expect(await cutoverObjects(c15, db)).toEqual([]);
    expect(await cutoverObjects(c17, db)).toEqual([]);
  }, 180_000);
});

describe('runbooks/online-cutover.md', () => {
  it('runs end to end under a write load: capture, copy, catch up, fence, drain, verify, the rollback window opened and finished', async () => {
    const db = 'online';
    const appUrl = await prepareSource(c15, db, 2000);
    await c17.createDatabase(db);
    const rb = await tempRunbook(shippedRunbook('online-cutover.md'));
    const load = startWorkload({ url: appUrl, clients: 2, pauseMs: 2 });
    await load.waitForCommits(20);
    const r = await cutoverCli(['run', rb.file, '--state-dir', rb.stateDir, '--yes'], { SOURCE_URL: c15.url(db), TARGET_URL: c17.url(db) });
    const stats = await load.stop();
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(stats.fenced).toBe(true);
    const summary = JSON.parse(readFileSync(join(rb.stateDir, 'summary.json'), 'utf8')) as { steps: { id: string; outcome: string; summary?: string }[] };
    // Every table of the database is fenced (the fence's own schema apart).
    const nTables = Number((await c15.query<{ n: string }>(`SELECT count(*) n FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind IN ('r', 'p') AND c.relpersistence <> 't' AND n.nspname NOT IN ('pg_catalog', 'information_schema', '_cutover', '_cutover_fence') AND n.nspname !~ '^pg_'`, [], db)).rows[0]!.n);
    expect(summary.steps.find((x) => x.id === 'cutover')?.summary).toMatch(new RegExp(`write outage [\\d.]+ ?m?s; ${nTables} tables fenced; drained \\d+ events; \\d+ sequences; verify incremental: identical \\(16 tables, \\d+ rows, \\d+ of them verified before the fence and unchanged since\\)`));
    expect(summary.steps.map((x) => x.outcome).every((o) => o === 'ok')).toBe(true);
    // On the source only the write fence stays (the old database must not take writes): its schema and two
    // triggers on each table; the journal keeps the statements that lift it.
    const left = await cutoverObjects(c15, db);
    expect(left.filter((x) => x === 'trigger cutover_fence')).toHaveLength(nTables);
    expect(left.filter((x) => x === 'trigger cutover_fence_watch')).toHaveLength(nTables);
    expect(left.filter((x) => !x.startsWith('trigger cutover_fence'))).toEqual(['schema _cutover_fence']);
    expect(readFileSync(join(rb.stateDir, 'journal.jsonl'), 'utf8')).toMatch(/"statements":\["DROP TRIGGER IF EXISTS cutover_fence ON /);
    expect(await cutoverObjects(c17, db)).toEqual([]);
    // The runbook's Rollback step lifts it, even after teardown.
    const un = await cutoverCli(['replicate', 'unfence', '--source', 'env:SOURCE_URL'], { SOURCE_URL: c15.url(db) });
    expect(un.stdout).toMatch(new RegExp(`fence lifted: triggers removed from ${nTables} table\\(s\\)`));
    expect(await cutoverObjects(c15, db)).toEqual([]);
    // The password never reaches the journal, the summary or the output.
    const secret = c15.password;
    for (const f of ['summary.json', 'journal.jsonl']) expect(readFileSync(join(rb.stateDir, f), 'utf8')).not.toContain(secret);
    expect(r.stdout + r.stderr).not.toContain(secret);
  }, 180_000);
});

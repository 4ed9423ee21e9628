import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { mkdtemp, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { availableMajors, createSampleDatabase, startClusters, stopAllClusters, type Cluster } from '../src/testing/index.js';
import { doctor } from '../src/doctor/doctor.js';
import { childCredentials } from '../src/pg/child-env.js';
import { runTool } from '../src/pg/run-tool.js';
import { parseConnString } from '../src/pg/conninfo.js';
import { cutover } from './helpers/cli.js';

let src: Cluster, tgt: Cluster, newest: Cluster;
let srcUrl: string, tgtUrl: string;
const SECRET = 'S3cr3t-pw!';

beforeAll(async () => {
  const majors = await availableMajors();
  [src, tgt, newest] = (await startClusters([
    { version: 15, password: SECRET },
    { version: majors.at(-1)!, password: SECRET, settings: { max_connections: 20 } },
    { version: majors.at(-1)! },
  ])) as [Cluster, Cluster, Cluster];
  srcUrl = await src.createDatabase('shop');
  tgtUrl = await tgt.createDatabase('shop');
  await createSampleDatabase(srcUrl, { rows: 200 });
});
afterAll(() => stopAllClusters());

const check = (r: Awaited<ReturnType<typeof doctor>>, side: string, id: string) => r.checks.find((c) => c.side === side && c.id === id);

describe('cutover doctor', () => {
  it('reports versions, tools, headroom and the table without a primary key', async () => {
    const r = await doctor({ source: src.params('shop'), target: tgt.params('shop') });
    expect(check(r, 'source', 'connect')?.status).toBe('ok');
    expect(check(r, 'target', 'connect')?.status).toBe('ok');
    expect(check(r, 'client', 'pg_dump')?.status).toBe('ok');
    expect(r.source.major).toBe(15);
    expect(r.target.capacity?.maxConnections).toBe(20);
    const pk = check(r, 'source', 'primary-keys')!;
    // Replicated with the whole row as identity: a warning, no longer a failure.
    expect(pk.status).toBe('warn');
    expect(pk.message).toContain('billing.audit_log');
    expect(pk.message).toMatch(/whole row as identity/);
    expect(pk.message).not.toContain('app.orders');
    expect(r.ok).toBe(true);
    // Partitions of a keyed partitioned table have the key: not reported.
    expect(pk.message).not.toContain('invoices');
    // The sample's large objects: the default trigger fence cannot stop their writes, and doctor says what happens then.
    const lo = check(r, 'source', 'large-objects')!;
    expect(lo.status).toBe('warn');
    expect(lo.message).toMatch(/^\d+ large object\(s\) on the source: .*the triggers fence cannot stop lo_\* writes: one after that sync is copied again/);
    expect(lo.hint).toMatch(/fence read-only .* or pooler/);
    const pooled = await doctor({ source: src.params('shop'), target: tgt.params('shop'), fence: { kind: 'read-only', roles: ['nobody_here'] } });
    expect(check(pooled, 'source', 'large-objects')!.message).not.toMatch(/cannot stop/);
    const copyOnly = await doctor({ source: src.params('shop'), target: tgt.params('shop'), copyOnly: true });
    expect(check(copyOnly, 'source', 'primary-keys')?.status).toBe('warn');
    expect(copyOnly.ok).toBe(true);
  });

  it('computes connection headroom from what others hold', async () => {
    const { default: pg } = await import('pg');
    const held: InstanceType<typeof pg.Client>[] = [];
    for (let i = 0; i < 12; i++) {
      const c = new pg.Client({ connectionString: tgt.url('shop'), application_name: 'the-app' });
      await c.connect();
      held.push(c);
    }
    try {
      const r = await doctor({ source: src.params('shop'), target: tgt.params('shop'), headroom: 3 });
      // 20 max - 12 app connections - 3 headroom (superuser: no reserved slots apply) = 5
      expect(r.target.capacity?.available).toBe(5);
      const r2 = await doctor({ source: src.params('shop'), target: tgt.params('shop'), headroom: 7 });
      expect(r2.target.capacity?.available).toBe(1);
      expect(check(r2, 'target', 'connections')?.status).toBe('fail');
      expect(check(r2, 'target', 'connections')?.message).toMatch(/only 1 connection.*12 in use, 7 kept for the application/);
    } finally {
      await Promise.all(held.map((c) => c.end()));
    }
  });

  it('checks a non-superuser role: reserved slots, connection limit, trigger rights, schema creation', async () => {
    await src.query(`CREATE ROLE app_reader LOGIN PASSWORD 'reader-pw' CONNECTION LIMIT 4`);
    // The target has the application's roles too (else doctor rightly fails: grants to a missing role).
    await tgt.query(`CREATE ROLE app_reader NOLOGIN`);
    await src.query(`GRANT USAGE ON SCHEMA app, billing, "Ünïcode ""Schema""" TO app_reader`, [], 'shop');
    await src.query(`GRANT SELECT ON ALL TABLES IN SCHEMA app, billing, "Ünïcode ""Schema""" TO app_reader`, [], 'shop');
    await src.query(`REVOKE SELECT ON billing.audit_log FROM app_reader`, [], 'shop');
    await src.query(`REVOKE CREATE ON DATABASE shop FROM PUBLIC`);
    const reader = parseConnString(`postgres://app_reader:reader-pw@${src.host}:${src.port}/shop?sslmode=disable`, { env: {} });
    const r = await doctor({ source: reader, target: tgt.params('shop') });
    expect(check(r, 'source', 'select')?.message).toContain('billing.audit_log');
    expect(check(r, 'source', 'trigger')?.status).toBe('fail');
    expect(check(r, 'source', 'create-schema')?.status).toBe('fail');
    expect(r.source.capacity?.limitedBy).toBe('role');
    expect(r.source.capacity?.roleLimit).toBe(4);
    expect(r.source.capacity?.reservedSlots).toBeGreaterThanOrEqual(3);
  });

  it('refuses a pg_dump older than the source server, and a missing one, with how to fix it', async () => {
    const r = await doctor({ source: newest.params(), target: tgt.params('shop'), copyOnly: true });
    if (newest.version > 15) {
      const d = check(r, 'client', 'pg_dump')!;
      expect(d.status).toBe('fail');
      expect(d.message).toMatch(new RegExp(`pg_dump 15\\.\\d+ .* older than the PostgreSQL ${newest.version} server`));
      expect(d.hint).toContain(`postgresql-client-${newest.version}`);
    }
    const missing = await doctor({ source: src.params('shop'), target: tgt.params('shop'), binDir: '/nonexistent', copyOnly: true });
    expect(check(missing, 'client', 'pg_dump')?.message).toMatch(/pg_dump was not found in \/nonexistent/);
    expect(missing.ok).toBe(false);
  });

  it('flags extensions missing on the target', async () => {
    await src.query('CREATE EXTENSION IF NOT EXISTS pg_trgm', [], 'shop');
    // The npm-packaged servers ship no contrib extensions, so pg_trgm is missing on a non-system target.
    const r = await doctor({ source: src.params('shop'), target: tgt.params('shop'), copyOnly: true });
    const avail = (await tgt.query(`SELECT count(*)::int n FROM pg_available_extensions WHERE name = 'pg_trgm'`)).rows[0]!.n;
    expect(check(r, 'target', 'extensions')?.status).toBe(avail ? 'ok' : 'fail');
    if (!avail) expect(check(r, 'target', 'extensions')?.message).toContain('pg_trgm');
    await src.query('DROP EXTENSION pg_trgm', [], 'shop');
  });
});

describe('cutover doctor (CLI)', () => {
  it('prints a table and exits 4 when a check fails, 0 with --copy-only', async () => {
    // A table without a key is a warning now (replicated by its whole row); all connections kept for the application fail.
    const r = await cutover(['doctor', '--source', 'env:SRC', '--target', 'env:TGT', '--headroom', '100%'], { SRC: srcUrl, TGT: tgtUrl });
    expect(r.code).toBe(4);
    expect(r.stdout).toMatch(/FAIL\s+source\s+connections/);
    expect(r.stdout).toMatch(/WARN\s+source\s+primary-keys/);
    expect(r.stdout).not.toContain(SECRET);
    const ok = await cutover(['doctor', '--source', 'env:SRC', '--target', 'env:TGT', '--copy-only', '--json'], { SRC: srcUrl, TGT: tgtUrl });
    expect(ok.code).toBe(0);
    const json = JSON.parse(ok.stdout) as { ok: boolean; source: { connection: string } };
    expect(json.ok).toBe(true);
    expect((json as unknown as { checks: { id: string; status: string }[] }).checks.filter((c) => ['roles', 'row-security'].includes(c.id)).map((c) => c.status)).toEqual(['ok', 'ok']);
    expect(json.source.connection).toContain('****');
    expect(ok.stdout).not.toContain(SECRET);
  });

  it('a wrong password: exit 3, a clear message, no password, no stack trace', async () => {
    const wrong = srcUrl.replace(encodeURIComponent(SECRET), 'not-the-password');
    const r = await cutover(['doctor', '--source', wrong, '--target', 'env:TGT', '--copy-only'], { TGT: tgtUrl });
    expect(r.code).toBe(4);
    expect(r.stdout).toMatch(/FAIL\s+source\s+connect\s+.*authentication failed/);
    expect(r.stdout + r.stderr).not.toContain('not-the-password');
    expect(r.stderr).toContain('visible to other local users');
    expect(r.stdout + r.stderr).not.toMatch(/\n\s+at /);
  });

  it('an unreachable host and a bad URL: clear messages', async () => {
    const r = await cutover(['doctor', '--source', 'postgres://u:pw@127.0.0.1:1/db?connect_timeout=2', '--target', 'env:TGT'], { TGT: tgtUrl });
    expect(r.stdout).toMatch(/nothing is listening at 127\.0\.0\.1:1/);
    expect(r.stdout).not.toContain(':pw@');
    const bad = await cutover(['doctor', '--source', 'host=x colour=red', '--target', 'env:TGT'], { TGT: tgtUrl });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^cutover: --source: connection string: unknown parameter\(s\) "colour"/);
    // A malformed URL read from a variable names the option and the variable.
    const badEnv = await cutover(['doctor', '--source', 'env:SRC', '--target', 'env:TGT'], { SRC: 'postgres://u:pw@[nope', TGT: tgtUrl });
    expect(badEnv.code).toBe(2);
    expect(badEnv.stderr).toMatch(/^cutover: --source \(from \$SRC\): connection URL is not a valid URL/);
    expect(badEnv.stderr).not.toContain('pw@');
    const none = await cutover(['doctor', '--target', 'env:TGT'], { TGT: tgtUrl, CUTOVER_SOURCE_URL: undefined });
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('--source is required');
  });
});

describe('child process credentials', () => {
  it('gives psql the password through a 0600 passfile, never argv', async () => {
    const p = parseConnString(srcUrl, { env: {} });
    const creds = await childCredentials('test-psql', p);
    try {
      expect((await stat(creds.env.PGPASSFILE!)).mode & 0o777).toBe(0o600);
      const r = await execa('psql', ['-XAtc', 'select current_setting($$application_name$$)'], { env: { ...creds.env }, extendEnv: true });
      expect(r.stdout).toBe('cutover/test-psql');
      expect(r.command).not.toContain(SECRET);
    } finally {
      await creds.cleanup();
    }
  });
});

describe('child process environment', () => {
  it('cutover\'s tools do not inherit a variable holding a password (an env: URL): their credentials are the passfile', async () => {
    const p = parseConnString(srcUrl, { env: {} });
    process.env.CUTOVER_TEST_SOURCE_URL = srcUrl;
    process.env.CUTOVER_TEST_CONNINFO = `host=x password=${SECRET}`;
    process.env.CUTOVER_TEST_PLAIN = 'nothing secret';
    try {
      // /usr/bin/env prints the environment the tool was given.
      const r = await runTool('/usr/bin/env', [], p, 'test-env');
      expect(r.stdout).not.toContain(SECRET);
      expect(r.stdout).not.toMatch(/CUTOVER_TEST_SOURCE_URL|CUTOVER_TEST_CONNINFO/);
      expect(r.stdout).toMatch(/^CUTOVER_TEST_PLAIN=nothing secret$/m);
      expect(r.stdout).toMatch(/^PGPASSFILE=/m);
    } finally {
      delete process.env.CUTOVER_TEST_SOURCE_URL;
      delete process.env.CUTOVER_TEST_CONNINFO;
      delete process.env.CUTOVER_TEST_PLAIN;
    }
  });
});

describe('objects a managed target refuses to an ordinary role', () => {
  it('doctor lists C functions, event triggers and publications with what happens to each; the copy leaves the latter out and says so', async () => {
    await src.createDatabase('hazards');
    await tgt.createDatabase('hazards');
    await src.query(`CREATE SCHEMA app; CREATE TABLE app.t (id int PRIMARY KEY);
      CREATE FUNCTION app.fast_abs(int) RETURNS int LANGUAGE internal IMMUTABLE STRICT AS 'int4abs';
      CREATE FUNCTION app.log_ddl() RETURNS event_trigger LANGUAGE plpgsql AS $$ BEGIN RAISE NOTICE 'ddl'; END $$;
      CREATE EVENT TRIGGER audit_ddl ON ddl_command_start EXECUTE FUNCTION app.log_ddl();
      CREATE PUBLICATION app_pub FOR TABLE app.t`, [], 'hazards');
    const r = await doctor({ source: src.params('hazards'), target: tgt.params('hazards'), copyOnly: true });
    expect(check(r, 'source', 'c-functions')).toMatchObject({ status: 'fail', message: expect.stringContaining('app.fast_abs(integer)') });
    expect(check(r, 'source', 'left-out')).toMatchObject({ status: 'warn', message: expect.stringMatching(/2 object\(s\) .* left out of the copy .*event trigger audit_ddl.*publication app_pub/) });
    // Without the C function the copy goes through, leaves the event trigger and the publication out, and says so.
    await src.query('DROP FUNCTION app.fast_abs(int)', [], 'hazards');
    const dir = await mkdtemp(join(tmpdir(), 'cutover-hazards-'));
    const out = await cutover(['copy', '--source', 'env:S', '--target', 'env:T', '--dir', join(dir, 'copy')], { S: src.url('hazards'), T: tgt.url('hazards') });
    expect(out.code, out.stderr).toBe(0);
    expect(out.stderr + out.stdout).toMatch(/^note: left out 2 object\(s\) a managed target refuses \(recreate them by hand where allowed\): (?=.*event trigger audit_ddl)(?=.*publication app_pub)/m);
    expect((await tgt.query(`SELECT (SELECT count(*) FROM pg_event_trigger)::int e, (SELECT count(*) FROM pg_publication)::int p, to_regclass('app.t') IS NOT NULL AS t`, [], 'hazards')).rows[0])
      .toEqual({ e: 0, p: 0, t: true });
  });
});

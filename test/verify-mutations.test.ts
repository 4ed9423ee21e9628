/**
 * verify proves what it says: each kind of difference, injected alone on an otherwise identical target,
 * is found, exactly (exit 5, the right part and key or object), across major versions (14 -> 15,
 * 15 -> 17); identical databases 14 -> 17 with views, rules and functions report identical with the counts
 * of what was compared; and verify refuses to compare nothing: unknown, ambiguous or empty table
 * selections, the same database twice, tables whose rows row-level security hides.
 *
 * One pair of clusters per version pair; the target is reset between mutations by creating a database
 * from a template that holds the identical copy.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSampleDatabase, startClusters, type Cluster } from '../src/testing/index.js';
import { verify, type VerifyReport } from '../src/verify/verify.js';
import { cutover } from './helpers/cli.js';

const ROWS = 600;
const ROLES = ['app_ro', 'app_rw', 'legacy_app', 'app_new', 'secrets_owner'];

/** Everything verify compares beyond the sample database: grants of every kind, a matview, large objects, rules, RLS. */
const EXTRAS = `
GRANT USAGE ON SCHEMA app TO app_ro;
GRANT SELECT ON app.customers TO app_ro;
GRANT SELECT (id, note) ON app.orders TO app_ro;
GRANT USAGE, SELECT ON SEQUENCE billing.invoice_number TO app_rw;
REVOKE EXECUTE ON FUNCTION app.customer_total(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION app.customer_total(bigint) TO app_ro;
GRANT SELECT, INSERT ON app.products TO legacy_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA app GRANT SELECT ON TABLES TO app_ro;
CREATE MATERIALIZED VIEW app.customer_names AS SELECT id, upper(name) AS name FROM app.customers WHERE id % 3 = 0;
CREATE VIEW app.big_products AS SELECT id, title FROM app.products WHERE price > 10;
CREATE TABLE app.events_log (id bigserial PRIMARY KEY, what text);
CREATE RULE products_log AS ON DELETE TO app.products DO ALSO INSERT INTO app.events_log (what) VALUES ('deleted ' || old.id);
CREATE FUNCTION app.count_big(p numeric) RETURNS bigint LANGUAGE sql STABLE BEGIN ATOMIC SELECT count(*) FROM app.products WHERE price > p; END;
CREATE TABLE app.secrets (id int PRIMARY KEY, owner_name text NOT NULL, secret text);
INSERT INTO app.secrets SELECT i, CASE WHEN i % 2 = 0 THEN 'alice' ELSE 'bob' END, 's' || i FROM generate_series(1, 40) i;
ALTER TABLE app.secrets ENABLE ROW LEVEL SECURITY;
ALTER TABLE app.secrets FORCE ROW LEVEL SECURITY;
CREATE POLICY alice_only ON app.secrets USING (owner_name = 'alice');
GRANT USAGE ON SCHEMA app TO secrets_owner;
ALTER TABLE app.secrets OWNER TO secrets_owner;
-- The sample has large objects 424201 and 424202 already (sample-data.sql); made here only if it no longer does.
SELECT lo_from_bytea(424201, 'first large object') WHERE NOT EXISTS (SELECT 1 FROM pg_largeobject_metadata WHERE oid = 424201);
SELECT lo_from_bytea(424202, decode(repeat('ab', 5000), 'hex')) WHERE NOT EXISTS (SELECT 1 FROM pg_largeobject_metadata WHERE oid = 424202);
COMMENT ON LARGE OBJECT 424201 IS 'the first';
GRANT SELECT ON LARGE OBJECT 424202 TO app_ro;
`;

async function setUp(c: Cluster, db: string): Promise<void> {
  for (const r of ROLES) await c.query(`DO $$ BEGIN CREATE ROLE ${r} LOGIN PASSWORD 'pw-${r}'; EXCEPTION WHEN duplicate_object THEN NULL; END $$`);
  await c.createDatabase(db);
  await createSampleDatabase(c.url(db), { rows: ROWS });
  await c.query(EXTRAS, [], db);
}

/** Rows in a catalog (pg_matviews, pg_largeobject_metadata): what verify must have compared, counted by the test itself. */
async function catalogCount(c: Cluster, db: string, catalog: 'pg_matviews' | 'pg_largeobject_metadata'): Promise<number> {
  return (await c.query<{ n: number }>(`SELECT count(*)::int n FROM ${catalog}`, [], db)).rows[0]!.n;
}

/** Every difference a report holds, as "part name[ detail]" lines. */
function found(r: VerifyReport): string[] {
  const out: string[] = [];
  for (const t of r.tables.filter((x) => x.status !== 'same')) {
    const k = `rows ${t.schema}.${t.name}`;
    if (!t.differences.length) out.push(k);
    for (const d of t.differences) out.push(`${k} ${d.kind} ${d.key ? JSON.stringify(d.key) : d.row}${d.columns ? ` ${d.columns.join(',')}` : ''}`);
  }
  for (const m of r.missingTables) out.push(`table ${m.schema}.${m.name} missing on ${m.side}`);
  for (const m of r.matviews.filter((x) => x.status !== 'same')) out.push(`matview ${m.schema}.${m.name} ${m.status}`);
  for (const d of r.largeObjects.differences) out.push(`large object ${d.oid} ${d.change}${d.parts ? ` ${d.parts.join(',')}` : ''}`);
  for (const q of (r.sequences ?? []).filter((x) => x.status !== 'same')) out.push(`sequence ${q.schema}.${q.name} ${q.status}`);
  for (const d of r.schema ?? []) out.push(`schema ${d.kind} ${d.name} ${d.change}`);
  for (const d of r.privileges?.differences ?? []) out.push(`privilege ${d.object}: ${d.entry} ${d.change}`);
  return out;
}

interface Mutation { what: string; sql: string; expect: (string | RegExp)[] }

const MUTATIONS: Mutation[] = [
  // Rows (the existing kinds, and json as exact text).
  { what: 'a row updated', sql: `UPDATE app.customers SET name = name || '!' WHERE id = 42`, expect: ['rows app.customers changed {"id":"42"} name'] },
  { what: 'a row deleted', sql: `DELETE FROM app.orders WHERE id = ${ROWS + 77}`, expect: [`rows app.orders missing on target {"id":"${ROWS + 77}"}`] },
  { what: 'a row inserted', sql: `INSERT INTO app.events_log (id, what) VALUES (5, 'x')`, expect: ['rows app.events_log extra on target {"id":"5"}'] },
  { what: "a float's last digit", sql: `UPDATE app.products SET ratio = 0.33333333333333337 WHERE id = 5`, expect: ['rows app.products changed {"id":"5"} ratio'] },
  { what: 'a timestamptz shifted by 1 microsecond', sql: `UPDATE app.orders SET shipped_at = shipped_at + interval '1 microsecond' WHERE id = 123`, expect: ['rows app.orders changed {"id":"123"} shipped_at'] },
  { what: 'one bytea byte', sql: `UPDATE app.products SET image = set_byte(image, 3, (get_byte(image, 3) + 1) % 256) WHERE id = 2`, expect: ['rows app.products changed {"id":"2"} image'] },
  { what: 'NULL instead of an empty string', sql: `UPDATE app.orders SET note = NULL WHERE id = 22 AND note = ''`, expect: ['rows app.orders changed {"id":"22"} note'] },
  { what: 'json that differs only in whitespace (equal as jsonb)', sql: `UPDATE app.products SET raw_attrs = '{"b": 1, "a": [4, null]}'::json WHERE id = 4`, expect: ['rows app.products changed {"id":"4"} raw_attrs'] },
  { what: 'a row hidden by nothing but RLS (FORCE) on the target', sql: `DELETE FROM app.secrets WHERE id = 3`, expect: ['rows app.secrets missing on target {"id":"3"}'] },
  // Privileges and owners.
  { what: 'a table grant missing', sql: `REVOKE SELECT ON app.customers FROM app_ro`, expect: ['privilege table app.customers: app_ro SELECT missing on target'] },
  { what: 'a column grant missing', sql: `REVOKE SELECT (note) ON app.orders FROM app_ro`, expect: ['privilege column app.orders.note: app_ro SELECT missing on target'] },
  { what: 'a schema grant missing', sql: `REVOKE USAGE ON SCHEMA app FROM app_ro`, expect: ['privilege schema app: app_ro USAGE missing on target'] },
  { what: 'a sequence grant missing', sql: `REVOKE USAGE ON SEQUENCE billing.invoice_number FROM app_rw`, expect: ['privilege sequence billing.invoice_number: app_rw USAGE missing on target'] },
  { what: 'a function grant missing', sql: `REVOKE EXECUTE ON FUNCTION app.customer_total(bigint) FROM app_ro`, expect: ['privilege function app.customer_total(p_customer bigint): app_ro EXECUTE missing on target'] },
  { what: 'PUBLIC given EXECUTE back', sql: `GRANT EXECUTE ON FUNCTION app.customer_total(bigint) TO PUBLIC`, expect: ['privilege function app.customer_total(p_customer bigint): PUBLIC EXECUTE extra on target'] },
  { what: 'a default privilege missing', sql: `ALTER DEFAULT PRIVILEGES IN SCHEMA app REVOKE SELECT ON TABLES FROM app_ro`, expect: [/^privilege default privileges of postgres in schema app on tables: app_ro SELECT missing on target$/] },
  { what: 'an owner changed', sql: `ALTER TABLE app.events_log OWNER TO app_rw`, expect: [/^privilege (table app\.events_log|sequence app\.events_log_id_seq): /] },
  // Materialized views.
  { what: 'a materialized view not populated', sql: `REFRESH MATERIALIZED VIEW app.customer_names WITH NO DATA`, expect: ['matview app.customer_names not populated on target'] },
  // The base table is put back after the refresh: only the matview's row differs.
  { what: "a materialized view's contents", sql: `UPDATE app.customers SET name = name || 'zz' WHERE id = 9; REFRESH MATERIALIZED VIEW app.customer_names; UPDATE app.customers SET name = left(name, -2) WHERE id = 9`,
    expect: [/^rows app\.customer_names missing on target \(9,"[^Z]*"\)$/, /^rows app\.customer_names extra on target \(9,".*ZZ"\)$/] },
  // Large objects.
  { what: 'a large object unlinked', sql: `SELECT lo_unlink(424201)`, expect: ['large object 424201 missing on target'] },
  { what: 'a large object created', sql: `SELECT lo_from_bytea(424209, 'new')`, expect: ['large object 424209 extra on target'] },
  { what: "a large object's content rewritten", sql: `SELECT lo_put(424202, 100, 'X')`, expect: ['large object 424202 differs content'] },
  { what: "a large object's comment", sql: `COMMENT ON LARGE OBJECT 424201 IS 'changed'`, expect: ['large object 424201 differs comment'] },
  { what: "a large object's ACL", sql: `REVOKE SELECT ON LARGE OBJECT 424202 FROM app_ro`, expect: ['large object 424202 differs acl'] },
  { what: "a large object's owner", sql: `ALTER LARGE OBJECT 424201 OWNER TO app_rw`, expect: [/^large object 424201 differs owner/] },
  // Sequences and schema.
  { what: 'a sequence behind', sql: `SELECT setval('billing.invoice_number', 1000)`, expect: ['sequence billing.invoice_number behind on target'] },
  { what: 'an index missing', sql: `DROP INDEX app.orders_customer`, expect: ['schema index app.orders_customer missing on target'] },
  { what: 'a view defined otherwise', sql: `CREATE OR REPLACE VIEW app.big_products AS SELECT id, title FROM app.products WHERE price > 11`, expect: ['schema view app.big_products differs'] },
  { what: 'a rule missing', sql: `DROP RULE products_log ON app.products`, expect: ['schema rule app.products.products_log missing on target'] },
  { what: 'FORCE ROW LEVEL SECURITY off', sql: `ALTER TABLE app.secrets NO FORCE ROW LEVEL SECURITY`, expect: ['schema table app.secrets differs'] },
  { what: 'a trigger disabled', sql: `ALTER TABLE app.products DISABLE TRIGGER products_touch`, expect: ['schema trigger app.products.products_touch differs'] },
  { what: "a column's collation", sql: `ALTER TABLE app.secrets ALTER COLUMN secret TYPE text COLLATE "POSIX"`, expect: ['schema column app.secrets.secret differs'] },
  { what: 'a table made unlogged', sql: `ALTER TABLE app.events_log SET UNLOGGED`, expect: ['schema table app.events_log differs'] },
  { what: 'a replica identity', sql: `ALTER TABLE app.events_log REPLICA IDENTITY FULL`, expect: ['schema table app.events_log differs'] },
  { what: 'a storage parameter', sql: `ALTER TABLE app.events_log SET (fillfactor = 50)`, expect: ['schema table app.events_log differs'] },
  { what: "a sequence's increment and cycle", sql: `ALTER SEQUENCE app.orders_id_seq INCREMENT BY 10 CYCLE`, expect: ['schema sequence app.orders_id_seq differs'] },
  { what: 'a comment on a table', sql: `COMMENT ON TABLE app.events_log IS 'changed on the target'`, expect: ['schema comment table app.events_log extra on target'] },
];

function pairSuite(from: number, to: number): void {
  describe(`verify finds each difference alone, PostgreSQL ${from} -> ${to}`, () => {
    let src: Cluster, tgt: Cluster;
    beforeAll(async () => {
      [src, tgt] = (await startClusters([{ version: from }, { version: to }])) as [Cluster, Cluster];
      await Promise.all([setUp(src, 'shop'), setUp(tgt, 'base')]);
    }, 120_000);
    afterAll(async () => { await Promise.all([src?.stop(), tgt?.stop()]); });

    let n = 0;
    const targetWith = async (sql: string) => {
      const db = `m${++n}`;
      await tgt.query(`CREATE DATABASE ${db} TEMPLATE base`);
      if (sql) await tgt.query(sql, [], db);
      return db;
    };
    const cli = async (db: string, extra: string[] = []) => {
      const r = await cutover(['verify', '--source', 'env:S', '--target', 'env:T', '--level', 'full', '--json', '--chunk-rows', '200', ...extra], { S: src.url('shop'), T: tgt.url(db) });
      return { code: r.code, report: r.stdout ? JSON.parse(r.stdout) as VerifyReport : undefined, stderr: r.stderr };
    };

    it('identical copy: exit 0, "identical" next to what was compared', async () => {
      const db = await targetWith('');
      const r = await cli(db);
      expect(found(r.report!), r.stderr).toEqual([]);
      expect(r.code).toBe(0);
      const s = r.report!.summary;
      expect(s.tables).toBeGreaterThanOrEqual(11);
      expect(s.rows).toBeGreaterThan(3 * ROWS);
      // As many matviews and large objects as the source's catalog holds (the test's own and the sample's).
      expect(s.matviews).toBe(await catalogCount(src, 'shop', 'pg_matviews'));
      expect(s.matviews).toBeGreaterThanOrEqual(2);
      expect(s.largeObjects).toBe(await catalogCount(src, 'shop', 'pg_largeobject_metadata'));
      expect(s.largeObjects).toBeGreaterThanOrEqual(2);
      expect(s.sequences).toBeGreaterThanOrEqual(6);
      expect(s.schemaObjects).toBeGreaterThan(100);
      expect(s.privileges).toBeGreaterThan(30);
      // The matview's contents were compared like a table.
      expect(r.report!.tables.find((t) => t.name === 'customer_names')).toMatchObject({ kind: 'materialized view', sourceRows: ROWS / 3, status: 'same' });
      // Every row of the FORCE RLS table was compared (the superuser bypasses RLS).
      expect(r.report!.tables.find((t) => t.name === 'secrets')).toMatchObject({ sourceRows: 40, targetRows: 40 });
    });

    for (const m of MUTATIONS) {
      it(`finds ${m.what}, exactly`, async () => {
        const db = await targetWith(m.sql);
        const r = await cli(db);
        expect(r.code, r.stderr).toBe(5);
        const got = found(r.report!);
        expect(r.report!.ok).toBe(false);
        // Exactly what was injected: every expected line found, nothing else.
        // (A lone pattern may match several lines of one object: an owner change touches its ACL too.)
        if (!(m.expect.length === 1 && m.expect[0] instanceof RegExp)) expect(got, got.join('\n')).toHaveLength(m.expect.length);
        expect(got.length).toBeGreaterThan(0);
        for (const line of got) expect(m.expect.some((e) => (typeof e === 'string' ? e === line : e.test(line))), `unexpected: ${line}\nall: ${got.join('\n')}`).toBe(true);
        for (const e of m.expect) expect(got.some((line) => (typeof e === 'string' ? e === line : e.test(line))), `not found: ${e}\nall: ${got.join('\n')}`).toBe(true);
      });
    }

    it('compares owners and grants through the role map', async () => {
      const db = await targetWith(`REVOKE ALL ON app.products FROM legacy_app; GRANT SELECT, INSERT ON app.products TO app_new`);
      const plain = await cli(db);
      expect(plain.code).toBe(5);
      expect(found(plain.report!).sort()).toEqual([
        'privilege table app.products: app_new INSERT extra on target',
        'privilege table app.products: app_new SELECT extra on target',
        'privilege table app.products: legacy_app INSERT missing on target',
        'privilege table app.products: legacy_app SELECT missing on target',
      ]);
      const mapped = await cli(db, ['--role-map', 'legacy_app=app_new']);
      expect(found(mapped.report!)).toEqual([]);
      expect(mapped.code).toBe(0);
    });
  });
}

pairSuite(14, 15);
pairSuite(15, 17);

describe('verify 14 -> 17: identical schemas with views, rules and functions; refusals', () => {
  let src: Cluster, tgt: Cluster;
  beforeAll(async () => {
    [src, tgt] = (await startClusters([{ version: 14 }, { version: 17 }])) as [Cluster, Cluster];
    await Promise.all([setUp(src, 'shop'), setUp(tgt, 'shop')]);
    // A table name in two schemas, neither on the search_path.
    for (const c of [src, tgt]) await c.query(`CREATE TABLE app.twin (id int PRIMARY KEY); CREATE TABLE billing.twin (id int PRIMARY KEY); CREATE TABLE public.solo (id int)`, [], 'shop');
  }, 120_000);
  afterAll(async () => { await Promise.all([src?.stop(), tgt?.stop()]); });

  const run = (args: string[], target = tgt.url('shop'), source = src.url('shop')) =>
    cutover(['verify', '--source', 'env:S', '--target', 'env:T', ...args], { S: source, T: target });

  it('reports identical, with no false schema differences from 16\'s view deparsing', async () => {
    const r = await verify({ source: src.params('shop'), target: tgt.params('shop'), level: 'full', jobs: 2 });
    expect(found(r)).toEqual([]);
    expect(r.ok).toBe(true);
    // The view texts do differ as each server prints them: the comparison deparsed them on one server.
    const v14 = (await src.query(`SELECT pg_get_viewdef('app.big_products'::regclass) d`, [], 'shop')).rows[0]!.d as string;
    const v17 = (await tgt.query(`SELECT pg_get_viewdef('app.big_products'::regclass) d`, [], 'shop')).rows[0]!.d as string;
    expect(v14.replace(/\s+/g, ' ')).not.toBe(v17.replace(/\s+/g, ' '));
    expect(r.summary.schemaObjects).toBeGreaterThan(100);
    const text = await run(['--level', 'full']);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^rows: \d+ table\(s\), \d+ source row\(s\) compared: identical$/m);
    const [mv, lo] = [await catalogCount(src, 'shop', 'pg_matviews'), await catalogCount(src, 'shop', 'pg_largeobject_metadata')];
    expect(mv).toBeGreaterThanOrEqual(2);
    expect(text.stdout).toMatch(new RegExp(`^materialized views: ${mv} compared .*: identical$`, 'm'));
    expect(text.stdout).toMatch(new RegExp(`^large objects: ${lo} on the source, ${lo} on the target compared \\(owner, ACL, comment, content hash\\): identical$`, 'm'));
    expect(text.stdout).toMatch(/^sequences: \d+ compared: identical$/m);
    expect(text.stdout).toMatch(/^schema: \d+ object\(s\) compared: identical$/m);
    expect(text.stdout).toMatch(/^privileges: \d+ owner and grant entries compared: identical$/m);
    expect(text.stdout).toMatch(new RegExp(`^verify \\(full\\): identical: \\d+ tables, \\d+ rows, ${mv} materialized views, ${lo} large objects,`, 'm'));
    expect(text.stdout).toMatch(/^verify \(full\): identical: \d+ tables, \d+ rows, \d+ materialized views, \d+ large objects, \d+ sequences, \d+ schema objects, \d+ privileges compared in /m);
  });

  it('an unknown --table fails listing it with close matches; nothing compared', async () => {
    const r = await run(['--table', 'app.custmers', '--table', 'nosuch']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('"app.custmers" not found (did you mean app.customers?)');
    expect(r.stderr).toContain('"nosuch" not found');
    expect(r.stdout).not.toMatch(/identical/);
  });

  it('an unqualified --table resolves as search_path would, or is refused as ambiguous', async () => {
    const amb = await run(['--table', 'twin']);
    expect(amb.code).toBe(2);
    expect(amb.stderr).toMatch(/"twin" is ambiguous: app\.twin, billing\.twin/);
    const unique = await run(['--table', 'customers', '--json']);
    expect(unique.code).toBe(0);
    expect((JSON.parse(unique.stdout) as VerifyReport).tables.map((t) => `${t.schema}.${t.name}`)).toEqual(['app.customers']);
    const onPath = await run(['--table', 'solo', '--json']);
    expect((JSON.parse(onPath.stdout) as VerifyReport).tables.map((t) => `${t.schema}.${t.name}`)).toEqual(['public.solo']);
    // A partitioned table selects its partitions.
    const parts = await run(['--table', 'billing.invoices', '--json']);
    expect((JSON.parse(parts.stdout) as VerifyReport).tables.map((t) => t.name)).toEqual(['invoices_2024', 'invoices_2025', 'invoices_other']);
  });

  it('a misspelt --exclude-table fails; a selection that leaves nothing fails', async () => {
    const typo = await run(['--exclude-table', 'app.ordrs']);
    expect(typo.code).toBe(2);
    expect(typo.stderr).toMatch(/exclude_tables: "app\.ordrs" not found \(did you mean app\.orders[,?]/);
    const none = await run(['--table', 'app.orders', '--exclude-table', 'app.orders']);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/leaves no table/);
    const ok = await run(['--table', 'app.orders', '--table', 'app.customers', '--exclude-table', 'app.customers', '--json']);
    expect(ok.code).toBe(0);
    expect((JSON.parse(ok.stdout) as VerifyReport).tables.map((t) => t.name)).toEqual(['orders']);
  });

  it('the same database as source and target is refused (same URL, localhost vs 127.0.0.1)', async () => {
    const same = await run([], src.url('shop'));
    expect(same.code).toBe(2);
    expect(same.stderr).toMatch(/the source and the target are the same database/);
    expect(same.stderr).not.toMatch(/drop/i);
    const alias = new URL(src.url('shop'));
    expect(alias.hostname).toBe('127.0.0.1');
    alias.hostname = 'localhost';
    const viaAlias = await run([], alias.toString());
    expect(viaAlias.code).toBe(2);
    expect(viaAlias.stderr).toMatch(/the source and the target are the same database/);
    expect(viaAlias.stdout).toBe('');
    // Another database of the same server is not the same database.
    await src.query('CREATE DATABASE shop2 TEMPLATE shop');
    expect((await run(['--table', 'app.orders'], src.url('shop2'))).code).toBe(0);
  });

  it('a role whose reads RLS would filter is refused, naming the table and what to do', async () => {
    // The FORCE RLS table's owner sees only alice's rows: refused, never half compared.
    for (const c of [src, tgt]) await c.query(`GRANT SELECT ON ALL TABLES IN SCHEMA app TO secrets_owner`, [], 'shop');
    const as = (c: Cluster) => { const u = new URL(c.url('shop')); u.username = 'secrets_owner'; u.password = 'pw-secrets_owner'; return u.toString(); };
    const r = await run(['--table', 'app.secrets', '--table', 'app.customers'], as(tgt), as(src));
    expect(r.code).toBe(4);
    expect(r.stderr).toContain('source: app.secrets (FORCE ROW LEVEL SECURITY: even its owner is filtered)');
    expect(r.stderr).toContain('target: app.secrets (FORCE ROW LEVEL SECURITY: even its owner is filtered)');
    expect(r.stderr).toMatch(/BYPASSRLS/);
    expect(r.stdout).not.toMatch(/identical/);
    // Another role (not the owner) is refused too; with BYPASSRLS every row is compared.
    await src.query(`ALTER ROLE app_ro BYPASSRLS`);
    await tgt.query(`ALTER ROLE app_ro BYPASSRLS`);
    for (const c of [src, tgt]) await c.query(`GRANT SELECT ON app.secrets TO app_ro; GRANT SELECT ON LARGE OBJECT 424201 TO app_ro`, [], 'shop');
    const asRo = (c: Cluster) => { const u = new URL(c.url('shop')); u.username = 'app_ro'; u.password = 'pw-app_ro'; return u.toString(); };
    const ok = await run(['--table', 'app.secrets', '--json'], asRo(tgt), asRo(src));
    expect(ok.code, ok.stderr).toBe(0);
    expect((JSON.parse(ok.stdout) as VerifyReport).tables).toEqual([expect.objectContaining({ name: 'secrets', sourceRows: 40, targetRows: 40 })]);
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { availableMajors, createSampleDatabase, startClusters, stopAllClusters, type Cluster } from '../src/testing/index.js';
import { verify, type VerifyReport } from '../src/verify/verify.js';
import { cutover } from './helpers/cli.js';

let src: Cluster, tgt: Cluster;
const ROWS = 3000;

beforeAll(async () => {
  const majors = await availableMajors();
  [src, tgt] = (await startClusters([{ version: majors[0] }, { version: majors.at(-1) }])) as [Cluster, Cluster];
  await src.createDatabase('shop');
  await tgt.createDatabase('base');
  // The sample data is deterministic: two loads are identical.
  await Promise.all([createSampleDatabase(src.url('shop'), { rows: ROWS }), createSampleDatabase(tgt.url('base'), { rows: ROWS })]);
});
afterAll(() => stopAllClusters());

let n = 0;
/** A fresh copy of the identical target with one change applied. */
async function targetWith(sql: string): Promise<string> {
  const name = `t${++n}`;
  await tgt.query(`CREATE DATABASE ${name} TEMPLATE base`);
  if (sql) await tgt.query(sql, [], name);
  return name;
}

const run = (db: string, level: 'counts' | 'checksums' | 'full' = 'checksums', extra = {}) =>
  verify({ source: src.params('shop'), target: tgt.params(db), level, jobs: 2, chunkRows: 500, leafRows: 50, ...extra });

const diffs = (r: VerifyReport, table: string) => r.tables.find((t) => `${t.schema}.${t.name}` === table)!;

describe('verify', () => {
  it(`finds no difference between identical databases on PostgreSQL ${'oldest'} and ${'newest'}`, async () => {
    const db = await targetWith('');
    const r = await run(db, 'full');
    expect(src.version).not.toBe(tgt.version);
    expect(r.schema).toEqual([]);
    expect(r.sequences!.filter((s) => s.status !== 'same')).toEqual([]);
    expect(r.tables.filter((t) => t.status !== 'same')).toEqual([]);
    expect(r.ok).toBe(true);
    expect(r.tables.length).toBeGreaterThanOrEqual(8);
    expect(diffs(r, 'app.orders').sourceRows).toBe(2 * ROWS);
    // An identical table costs one pass per side: no chunking.
    expect(diffs(r, 'app.orders').chunks).toBe(1);
    expect(r.sequences!.length).toBeGreaterThanOrEqual(5);
  });

  const cases: { what: string; sql: string; table: string; expect: { kind: string; key: Record<string, string> | null; columns?: string[] } }[] = [
    { what: 'a row updated', sql: `UPDATE app.customers SET name = name || '!' WHERE id = 42`, table: 'app.customers', expect: { kind: 'changed', key: { id: '42' }, columns: ['name'] } },
    { what: 'a row deleted', sql: `DELETE FROM app.orders WHERE id = ${ROWS + 77}`, table: 'app.orders', expect: { kind: 'missing on target', key: { id: String(ROWS + 77) } } },
    { what: 'a row inserted', sql: `INSERT INTO app.products (id, sku, title, price) VALUES (99999, 'ABC-1', 'new', 1)`, table: 'app.products', expect: { kind: 'extra on target', key: { id: '99999' } } },
    { what: "a float's last digit", sql: `UPDATE app.products SET ratio = 0.33333333333333337 WHERE id = 5`, table: 'app.products', expect: { kind: 'changed', key: { id: '5' }, columns: ['ratio'] } },
    { what: 'a timestamptz shifted by 1 microsecond', sql: `UPDATE app.orders SET shipped_at = shipped_at + interval '1 microsecond' WHERE id = 1234`, table: 'app.orders', expect: { kind: 'changed', key: { id: '1234' }, columns: ['shipped_at'] } },
    { what: 'one bytea byte', sql: `UPDATE app.products SET image = set_byte(image, 3, (get_byte(image, 3) + 1) % 256) WHERE id = 2`, table: 'app.products', expect: { kind: 'changed', key: { id: '2' }, columns: ['image'] } },
    { what: 'NULL instead of an empty string', sql: `UPDATE app.orders SET note = NULL WHERE id = 22 AND note = ''`, table: 'app.orders', expect: { kind: 'changed', key: { id: '22' }, columns: ['note'] } },
    { what: 'a key on a hostile-named table', sql: `UPDATE "Ünïcode ""Schema"""."order" SET "quote""d" = 'x' WHERE "select" = 7`, table: 'Ünïcode "Schema".order', expect: { kind: 'changed', key: { select: '7' }, columns: ['quote"d'] } },
    { what: 'a partition row', sql: `UPDATE billing.invoices SET amount = amount + 0.0001 WHERE id = 10`, table: 'billing.invoices_2024', expect: { kind: 'changed', key: { id: '10', issued_on: '2024-01-11' }, columns: ['amount'] } },
    { what: 'one duplicate row gone from a table without a key', sql: `DELETE FROM billing.audit_log WHERE ctid = (SELECT min(ctid) FROM billing.audit_log WHERE message = 'event 3')`, table: 'billing.audit_log', expect: { kind: 'missing on target', key: null } },
  ];

  for (const c of cases) {
    it(`finds ${c.what}, exactly`, async () => {
      const db = await targetWith(c.sql);
      const r = await run(db);
      expect(r.ok).toBe(false);
      const bad = r.tables.filter((t) => t.status !== 'same');
      expect(bad.map((t) => `${t.schema}.${t.name}`)).toEqual([c.table]);
      const t = bad[0]!;
      expect(t.differenceCount).toBe(1);
      expect(t.differences).toHaveLength(1);
      expect(t.differences[0]).toMatchObject(c.expect);
      if (c.expect.columns) expect(t.differences[0]!.columns).toEqual(c.expect.columns);
      // A differing table with an integer key is cut into chunks and bisected (6,000 orders / 500 rows).
      if (c.table === 'app.orders') expect(t.chunks).toBeGreaterThan(1);
    });
  }

  it('reports the row of a keyless table by its content', async () => {
    const db = await targetWith(`DELETE FROM billing.audit_log WHERE ctid = (SELECT min(ctid) FROM billing.audit_log WHERE message = 'event 3')`);
    const d = diffs(await run(db), 'billing.audit_log').differences[0]!;
    expect(d.row).toContain('event 3');
    expect(d.count).toBe(1);
  });

  it('counts level sees a missing row but not a changed one', async () => {
    const db = await targetWith(`UPDATE app.customers SET name = 'x' WHERE id = 1; DELETE FROM app.orders WHERE id = ${ROWS + 1}`);
    const r = await run(db, 'counts');
    expect(r.tables.filter((t) => t.status !== 'same').map((t) => t.name)).toEqual(['orders']);
  });

  it('jsonb written in another key order is not a difference; json is compared as its exact text', async () => {
    const same = await targetWith(`UPDATE app.products SET attrs = ('{"nested": {"ü": ' || id || '}, "size": ' || (id % 10) || ', "color": "' || (attrs->>'color') || '"}')::jsonb`);
    const r1 = await run(same, 'full');
    expect(r1.tables.filter((t) => t.status !== 'same')).toEqual([]);
    expect(r1.ok).toBe(true);
    // json keeps its text (whitespace, key order, duplicate keys): applications can depend on it.
    const db = await targetWith(`UPDATE app.products SET raw_attrs = (raw_attrs::jsonb)::json WHERE id = 3`);
    const before = await src.query(`SELECT raw_attrs::text t FROM app.products WHERE id = 3`, [], 'shop');
    const after = await tgt.query(`SELECT raw_attrs::text t FROM app.products WHERE id = 3`, [], db);
    expect(after.rows[0]!.t).not.toBe(before.rows[0]!.t);
    const r = await run(db, 'full');
    const bad = r.tables.filter((t) => t.status !== 'same');
    expect(bad.map((t) => `${t.schema}.${t.name}`)).toEqual(['app.products']);
    expect(bad[0]!.differences).toEqual([{ kind: 'changed', key: { id: '3' }, columns: ['raw_attrs'] }]);
  });

  it('finds a sequence behind and a missing index', async () => {
    const db = await targetWith(`SELECT setval('billing.invoice_number', 1000); DROP INDEX app.orders_customer`);
    const r = await run(db, 'full');
    expect(r.ok).toBe(false);
    expect(r.tables.filter((t) => t.status !== 'same')).toEqual([]);
    expect(r.sequences!.filter((s) => s.status !== 'same')).toEqual([
      expect.objectContaining({ schema: 'billing', name: 'invoice_number', status: 'behind on target' }),
    ]);
    expect(r.schema).toEqual([expect.objectContaining({ kind: 'index', name: 'app.orders_customer', change: 'missing on target' })]);
  });

  it('CLI: exit 5 and the differing key in the table output; exit 0 when identical', async () => {
    const db = await targetWith(`UPDATE app.customers SET email = 'changed@example.com' WHERE id = 7`);
    const r = await cutover(['verify', '--source', 'env:S', '--target', 'env:T', '--chunk-rows', '1000'], { S: src.url('shop'), T: tgt.url(db) });
    expect(r.code).toBe(5);
    expect(r.stdout).toMatch(/app\.customers\s+3000\s+3000\s+\d+\s+DIFFERS: 1 row/);
    expect(r.stdout).toMatch(/changed\s+id=7\s+columns: email/);
    const same = await cutover(['verify', '--source', 'env:S', '--target', 'env:T', '--level', 'full', '--json'], { S: src.url('shop'), T: tgt.url('base') });
    expect(same.code).toBe(0);
    expect((JSON.parse(same.stdout) as VerifyReport).ok).toBe(true);
  });
});

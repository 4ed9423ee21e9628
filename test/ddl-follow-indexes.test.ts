/**
 * ddl: follow (found by a red team)'s index diff: renames, drops, partitioned tables, excluded schemas.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stopAllClusters, type Cluster } from '../src/testing/index.js';
import { cutover } from '../src/replicate/cutover.js';
import { background, prepare, rows, settle, startPair } from './helpers/follow.js';

let src: Cluster, tgt: Cluster;
beforeAll(async () => { [src, tgt] = await startPair(); }, 180_000);
afterAll(() => stopAllClusters());

/** Every index of the tables (and their partitions) as the server prints it, with validity. */
const indexes = (c: Cluster, db: string, tables: string[]) => rows(c, db, `SELECT x.indexrelid::regclass::text || ' ' || pg_get_indexdef(x.indexrelid) || ' valid=' || x.indisvalid AS r
  FROM pg_index x WHERE x.indrelid IN (SELECT t::regclass FROM unnest($1::text[]) t UNION SELECT p.relid FROM unnest($1::text[]) t, pg_partition_tree(t::regclass) p) ORDER BY 1`, [tables]);

describe('ddl: follow, indexes', () => {
  it('an index created on a partitioned table is built on the target for every partition, valid', async () => {
    const db = 'rt_part_index';
    const { source, target } = await prepare(src, tgt, db);
    const b = await background({ source, target });
    await src.query(`CREATE INDEX events_v ON shop.events (v)`, [], db);
    await b.wait('events_v on the target', async () => (await tgt.query(`SELECT 1 FROM pg_class WHERE relname = 'events_v'`, [], db)).rowCount === 1, 30_000);
    await settle(5000);
    const failed = await b.stop();
    const notes = b.notes.filter((n) => n.includes('events_v'));
    const res = await cutover({ source, target, fence: 'triggers', verify: 'checksums' });
    expect(res.verify?.ok).toBe(true);
    console.log(`notes about events_v: ${notes.length}\n${notes.slice(0, 3).join('\n')}`);
    expect(failed).toBeUndefined();
    // The target's indexes on shop.events and its partitions, as the source's.
    expect(await indexes(tgt, db, ['shop.events'])).toEqual(await indexes(src, db, ['shop.events']));
  }, 180_000);

  it('an index renamed, and a new one created under its old name: halts (or ends with the source\'s definitions)', async () => {
    const db = 'rt_rename_reuse';
    const { source, target } = await prepare(src, tgt, db, { before: `CREATE INDEX acc_credit ON shop.accounts (credit)` });
    const b = await background({ source, target });
    await settle(2500);
    const before = await indexes(tgt, db, ['shop.accounts']);
    await src.query(`ALTER INDEX shop.acc_credit RENAME TO acc_credit_old; CREATE INDEX acc_credit ON shop.accounts (mood)`, [], db);
    await settle(6000);
    const failed = await b.stop() as Error | undefined;
    console.log(`target before:\n${before.join('\n')}\nafter:\n${(await indexes(tgt, db, ['shop.accounts'])).join('\n')}\nsource:\n${(await indexes(src, db, ['shop.accounts'])).join('\n')}\n${b.notes.join('\n')}`);
    if (failed) {
      // A halt is the documented answer for a rename: fine.
      console.log(`halted: ${failed.message}\n${(failed as { hint?: string }).hint}`);
      expect((failed as { code?: string }).code).toBe('E_HALTED');
      return;
    }
    const res = await cutover({ source, target, fence: 'triggers', verify: 'checksums' });
    expect(res.verify?.ok).toBe(true);
    expect(await indexes(tgt, db, ['shop.accounts'])).toEqual(await indexes(src, db, ['shop.accounts']));
  }, 180_000);

  it('two indexes of the same definition both renamed: the statements for the target rename each to its own new name', async () => {
    const db = 'rt_rename_twins';
    const { source, target } = await prepare(src, tgt, db, { before: `CREATE INDEX twin_a ON shop.accounts (credit); CREATE INDEX twin_b ON shop.accounts (credit)` });
    const b = await background({ source, target });
    await settle(2500);
    await src.query(`ALTER INDEX shop.twin_a RENAME TO twin_c; ALTER INDEX shop.twin_b RENAME TO twin_d`, [], db);
    const e = await b.ended(20_000);
    expect(e.code).toBe('E_HALTED');
    console.log(`${e.message}\n${e.hint}`);
    // Run the statements the hint gives on the target: they must succeed and leave the target as the source.
    const stmts = e.hint!.split('\n').slice(1).map((s) => s.trim().replace(/;$/, '')).filter(Boolean);
    for (const st of stmts) await tgt.query(st, [], db);
    expect(await indexes(tgt, db, ['shop.accounts'])).toEqual(await indexes(src, db, ['shop.accounts']));
  }, 180_000);

  it('two indexes of the same definition, one dropped: halts naming the dropped one, with its DROP', async () => {
    const db = 'rt_twins_drop';
    const { source, target } = await prepare(src, tgt, db, { before: `CREATE INDEX twin_a ON shop.accounts (credit); CREATE INDEX twin_b ON shop.accounts (credit)` });
    const b = await background({ source, target });
    await settle(2500);
    await src.query(`DROP INDEX shop.twin_a`, [], db);
    const e = await b.ended(20_000);
    expect(e.code).toBe('E_HALTED');
    expect(e.message).toMatch(/index "twin_a" was dropped on the source/);
    expect(e.hint).toContain('DROP INDEX CONCURRENTLY "shop"."twin_a"');
  }, 180_000);

  it('a UNIQUE constraint renamed, an expression index and a partial index renamed: halts with RENAME statements that make the target equal', async () => {
    const db = 'rt_rename_kinds';
    const { source, target } = await prepare(src, tgt, db, {
      before: `ALTER TABLE shop.parents ADD CONSTRAINT "Parents ""name"" u" UNIQUE (name);
        CREATE INDEX "lower mail" ON shop.accounts (lower(email));
        CREATE INDEX "happy ones" ON shop.accounts (id) WHERE mood = 'happy'`,
    });
    const b = await background({ source, target });
    await settle(2500);
    await src.query(`ALTER TABLE shop.parents RENAME CONSTRAINT "Parents ""name"" u" TO "select";
      ALTER INDEX shop."lower mail" RENAME TO "Lower ""Mail""";
      ALTER INDEX shop."happy ones" RENAME TO "happy ""ones"" 2"`, [], db);
    const e = await b.ended(20_000);
    expect(e.code).toBe('E_HALTED');
    console.log(`${e.message}\n${e.hint}`);
    const stmts = e.hint!.split('\n').slice(1).map((s) => s.trim().replace(/;$/, '')).filter(Boolean);
    expect(stmts).toHaveLength(3);
    for (const st of stmts) await tgt.query(st, [], db);
    expect(await indexes(tgt, db, ['shop.accounts', 'shop.parents'])).toEqual(await indexes(src, db, ['shop.accounts', 'shop.parents']));
    const cons = (c: Cluster) => rows(c, db, `SELECT conname || ' ' || pg_get_constraintdef(oid) AS r FROM pg_constraint WHERE conrelid = 'shop.parents'::regclass ORDER BY 1`);
    expect(await cons(tgt)).toEqual(await cons(src));
    // Accepted: replication goes on, and the cutover ends equal.
    const c = await background({ source, target, acceptDdl: true });
    await src.query(`UPDATE shop.parents SET name = name || '!' WHERE id < 5`, [], db);
    await settle();
    expect(await c.stop()).toBeUndefined();
    expect((await cutover({ source, target, fence: 'triggers', verify: 'checksums' })).verify?.ok).toBe(true);
  }, 180_000);

  it('indexes on tables of an excluded schema: renamed and dropped on the source, no halt', async () => {
    const db = 'rt_excluded';
    const { source, target } = await prepare(src, tgt, db, {
      excludeSchemas: ['archive'],
      before: `CREATE SCHEMA archive; CREATE TABLE archive.old (id int PRIMARY KEY, v text); CREATE INDEX old_v ON archive.old (v); CREATE INDEX old_v2 ON archive.old (v, id)`,
    });
    const b = await background({ source, target });
    await settle(2500);
    await src.query(`ALTER INDEX archive.old_v RENAME TO old_v_renamed; DROP INDEX archive.old_v2; CREATE INDEX old_new ON archive.old (id, v)`, [], db);
    await src.query(`UPDATE shop.accounts SET credit = 3 WHERE id < 5`, [], db);
    await settle(5000);
    expect(await b.stop()).toBeUndefined();
  }, 180_000);

  it('a primary key changed on the source under ddl: follow halts (the replication key would change)', async () => {
    const db = 'rt_pk_change';
    const { source, target } = await prepare(src, tgt, db, { before: `CREATE TABLE shop.kv (id int NOT NULL, code text NOT NULL, v text, CONSTRAINT kv_pkey PRIMARY KEY (id)); INSERT INTO shop.kv SELECT i, 'c' || i, 'v' FROM generate_series(1, 10) i` });
    const b = await background({ source, target });
    await settle(2500);
    await src.query(`ALTER TABLE shop.kv DROP CONSTRAINT kv_pkey; ALTER TABLE shop.kv ADD CONSTRAINT kv_pkey PRIMARY KEY (code)`, [], db);
    await src.query(`UPDATE shop.kv SET v = 'changed' WHERE id < 3`, [], db);
    await settle(5000);
    const failed = await b.stop() as (Error & { code?: string }) | undefined;
    console.log(`applier: ${failed?.message ?? 'still running, no halt'}\n${b.notes.join('\n')}`);
    const pk = (c: Cluster) => rows(c, db, `SELECT pg_get_constraintdef(oid) AS r FROM pg_constraint WHERE conrelid = 'shop.kv'::regclass AND contype = 'p'`);
    console.log(`source key: ${await pk(src)}; target key: ${await pk(tgt)}`);
    expect(failed?.code).toBe('E_HALTED');
  }, 180_000);
});

describe('ddl: follow, partitioned UNIQUE', () => {
  it('a UNIQUE constraint added to a partitioned table is followed (valid, on every partition)', async () => {
    const db = 'rt_part_unique';
    const { source, target } = await prepare(src, tgt, db);
    const b = await background({ source, target });
    await src.query(`ALTER TABLE shop.events ADD CONSTRAINT events_v_u UNIQUE (v, region)`, [], db);
    await settle(6000);
    const failed = await b.stop() as (Error & { hint?: string }) | undefined;
    console.log(`applier: ${failed?.message ?? 'no halt'}\n${failed?.hint ?? ''}\n${b.notes.filter((n) => n.includes('events_v_u')).join('\n')}`);
    console.log((await indexes(tgt, db, ['shop.events'])).join('\n'));
    expect(failed).toBeUndefined();
    expect(await indexes(tgt, db, ['shop.events'])).toEqual(await indexes(src, db, ['shop.events']));
  }, 180_000);
});

/**
 * ddl: follow for new tables and new indexes (issue 17), against real servers: tables created on the
 * source mid-replication under a write load (with a key, without one, in a new schema, hostile names),
 * indexes (plain, UNIQUE, a UNIQUE constraint) built on the target, a UNIQUE index the target's rows
 * violate (halt, exit 7, no INVALID index left), and the same changes without ddl: follow.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { createAppDatabase, createAppWriter, rowFingerprint, startAppWorkload, stopAllClusters, type Cluster } from '../src/testing/index.js';
import { startPair } from './helpers/follow.js';
import { copy } from '../src/dump/copy/copy.js';
import { installCapture } from '../src/replicate/capture.js';
import { Applier } from '../src/replicate/apply.js';
import { cutover } from '../src/replicate/cutover.js';
import { teardown } from '../src/replicate/teardown.js';
import { CutoverError } from '../src/errors.js';
import { cutover as cutoverCli } from './helpers/cli.js';

let src: Cluster, tgt: Cluster;
const work = () => mkdtemp(join(tmpdir(), 'cutover-ddl-follow-'));
const q = (s: string) => `"${s.replace(/"/g, '""')}"`;

beforeAll(async () => { [src, tgt] = await startPair(); }, 180_000);
afterAll(() => stopAllClusters());

// Hostile names: spaces, quotes, mixed case, a new schema.
const NEW_SCHEMA = 'New "Schema"';
const KEYED = `${q(NEW_SCHEMA)}.${q('Orders "2"')}`;
const KEYLESS = `shop.${q('Keyless "Log"')}`;
const WEIRD = q('Weird "Col"');
const SCHEMAS = ['shop', 'public', NEW_SCHEMA];

/** Indexes and unique/PK/exclusion constraints of the given tables, as each server prints them (search_path pinned). */
async function indexes(c: Cluster, db: string, tables: string[]): Promise<string[]> {
  const client = new pg.Client({ connectionString: c.url(db) });
  await client.connect();
  try {
    await client.query(`SET search_path = pg_catalog`);
    return (await client.query<{ d: string }>(`SELECT x.indrelid::regclass::text || ' ' || pg_get_indexdef(x.indexrelid) || ' valid=' || x.indisvalid ||
        coalesce(' constraint ' || (SELECT con.conname || ' ' || pg_get_constraintdef(con.oid) FROM pg_constraint con WHERE con.conindid = x.indexrelid AND con.conrelid = x.indrelid), '') AS d
      FROM pg_index x WHERE x.indrelid = ANY (SELECT to_regclass(t)::oid FROM unnest($1::text[]) t) ORDER BY 1`, [tables])).rows.map((r) => r.d);
  } finally {
    await client.end();
  }
}

/** Columns (type, NOT NULL, default, identity) and constraints of the given tables, as each server prints them. */
async function definitions(c: Cluster, db: string, tables: string[]): Promise<string[]> {
  return (await c.query<{ d: string }>(`SELECT * FROM (
      SELECT a.attrelid::regclass::text || ' ' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod) || ' ' || a.attnotnull || ' ' ||
             coalesce(pg_get_expr(d.adbin, d.adrelid), '-') || ' ' || a.attidentity::text || a.attgenerated::text AS d
        FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
       WHERE a.attrelid = ANY (SELECT to_regclass(t)::oid FROM unnest($1::text[]) t) AND a.attnum > 0 AND NOT a.attisdropped
      UNION ALL
      SELECT conrelid::regclass::text || ' ' || conname || ' ' || pg_get_constraintdef(oid) FROM pg_constraint
       WHERE conrelid = ANY (SELECT to_regclass(t)::oid FROM unnest($1::text[]) t) AND contype IN ('p', 'u', 'c', 'x')) s ORDER BY 1`, [tables], db)).rows.map((r) => r.d);
}

const invalidIndexes = async (c: Cluster, db: string) => (await c.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_index WHERE NOT indisvalid`, [], db)).rows[0]!.n;
const captureTriggers = async (c: Cluster, db: string) => (await c.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_trigger WHERE tgname LIKE 'cutover\\_capture%'`, [], db)).rows[0]!.n;

async function until(what: string, ok: () => Promise<boolean>, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Writes the new tables (insert, update, delete, duplicate rows in the keyless one) until stopped or fenced. */
function writeNewTables(url: string): { stop: () => Promise<number> } {
  let stopped = false;
  let commits = 0;
  const done = (async () => {
    const c = new pg.Client({ connectionString: url });
    c.on('error', () => undefined);
    await c.connect();
    try {
      for (let i = 0; !stopped; i++) {
        await c.query('BEGIN');
        await c.query(`INSERT INTO ${KEYED} (${WEIRD}, mood) VALUES ($1, 'happy')`, [`w${i}`]);
        await c.query(`UPDATE ${KEYED} SET mood = 'sad', ${WEIRD} = ${WEIRD} || '+' WHERE id = (SELECT max(id) - 3 FROM ${KEYED})`);
        if (i % 3 === 0) await c.query(`DELETE FROM ${KEYED} WHERE id = (SELECT min(id) FROM ${KEYED})`);
        await c.query(`INSERT INTO ${KEYLESS} VALUES ($1, 'dup'), ($1, 'dup')`, [i % 5]);
        if (i % 2 === 0) await c.query(`DELETE FROM ${KEYLESS} WHERE ctid = (SELECT ctid FROM ${KEYLESS} WHERE a = $1 LIMIT 1)`, [i % 5]);
        if (i % 4 === 0) await c.query(`UPDATE ${KEYLESS} SET b = 'changed' WHERE ctid = (SELECT ctid FROM ${KEYLESS} WHERE b = 'dup' LIMIT 1)`);
        await c.query('COMMIT');
        commits++;
        await new Promise((r) => setTimeout(r, 10));
      }
    } catch {
      // The fence (or the end of the test) stops the writer.
    } finally {
      await c.end().catch(() => undefined);
    }
  })();
  return { stop: async () => { stopped = true; await done; return commits; } };
}

/** Source DDL: a new schema with a keyed table, a keyless table with duplicate rows, then (later) indexes. */
const CREATE_TABLES = `
  CREATE SCHEMA ${q(NEW_SCHEMA)};
  CREATE TABLE ${KEYED} (id serial PRIMARY KEY, ${WEIRD} text NOT NULL, mood public.mood NOT NULL DEFAULT 'ok', at timestamptz NOT NULL DEFAULT now(),
    n int CHECK (n IS NULL OR n > 0), parent_id int REFERENCES shop.parents (id) ON DELETE SET NULL);
  INSERT INTO ${KEYED} (${WEIRD}, n) SELECT 'seed ' || i, i FROM generate_series(1, 50) i;
  CREATE TABLE ${KEYLESS} (a int, b text);
  INSERT INTO ${KEYLESS} SELECT i % 5, 'dup' FROM generate_series(1, 40) i;`;

describe('ddl: follow, new tables and new indexes', () => {
  for (const mode of ['row', 'statement'] as const) it(`new tables (keyed, keyless, in a new schema) and new indexes (plain, UNIQUE, UNIQUE constraint) under a write load reach the target; the cutover ends equal (${mode} capture)`, async () => {
    const db = `follow_new_${mode}`;
    await src.createDatabase(db);
    await tgt.createDatabase(db);
    await createAppDatabase(src.url(db));
    const appUrl = await createAppWriter(src, db, 'shop_writer', 'shop-pw-1');
    await tgt.query(`DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'shop_writer') THEN CREATE ROLE shop_writer; END IF; END $$`);
    const source = src.params(db), target = tgt.params(db);
    await installCapture({ source, mode });
    await copy({ source, target, dir: join(await work(), 'copy'), jobs: 1 });
    const load = startAppWorkload({ url: appUrl, clients: 2, pauseMs: 10 });
    await load.waitForCommits(20);
    const notes: string[] = [];
    const a = await Applier.open({ source, target, followDdl: true, onNote: (m) => notes.push(m) });
    const ac = new AbortController();
    const running = a.run({ signal: ac.signal });
    let failed: unknown;
    running.catch((e: unknown) => { failed = e; });

    // Tables created while the applier runs, written at once (also while capture is being installed).
    await src.query(CREATE_TABLES, [], db);
    const writer = writeNewTables(src.url(db));
    const exists = async (name: string) => (await tgt.query<{ r: string | null }>(`SELECT to_regclass($1)::text AS r`, [name], db)).rows[0]!.r !== null;
    await until('the new tables on the target', async () => { if (failed) throw failed; return (await exists(KEYED)) && (await exists(KEYLESS)); });
    // Indexes created on the source afterwards: a plain one, a UNIQUE one, a UNIQUE constraint on an existing table.
    await src.query(`CREATE INDEX CONCURRENTLY ${q('acc "mood" idx')} ON shop.accounts (mood, credit)`, [], db);
    await src.query(`CREATE UNIQUE INDEX CONCURRENTLY ${q('Orders "weird" u')} ON ${KEYED} (${WEIRD})`, [], db);
    await src.query(`ALTER TABLE shop.parents ADD CONSTRAINT ${q('parents id+name "u"')} UNIQUE (id, name)`, [], db);
    await src.query(`CREATE INDEX CONCURRENTLY ${q('keyless b')} ON ${KEYLESS} (b)`, [], db);
    // A new column and an index on it at once: the column is followed before the index is built.
    await src.query(`ALTER TABLE shop.accounts ADD COLUMN nick text; CREATE INDEX ${q('acc nick')} ON shop.accounts (nick); UPDATE shop.accounts SET nick = 'n' || id WHERE id < 20`, [], db);
    const indexed = async (name: string) => (await tgt.query(`SELECT 1 FROM pg_class WHERE relname = $1 AND relkind = 'i'`, [name], db)).rowCount === 1;
    await until('the new indexes on the target', async () => {
      if (failed) throw failed;
      return (await indexed('acc "mood" idx')) && (await indexed('Orders "weird" u')) && (await indexed('parents id+name "u"')) && (await indexed('keyless b')) && (await indexed('acc nick'));
    });
    ac.abort();
    await running;
    await a.close();
    expect(failed).toBeUndefined();
    expect(notes.join('\n')).toMatch(/new table\(s\) .*"New ""Schema"""\."Orders ""2"""/);
    expect(notes.join('\n')).toMatch(/CREATE UNIQUE INDEX CONCURRENTLY "Orders ""weird"" u" ON "New ""Schema"""\."Orders ""2"""/);

    // The cutover's applier follows too (recorded on the target); a table created just before it as well.
    await src.query(`CREATE TABLE shop.${q('late table')} (id int PRIMARY KEY, v text); INSERT INTO shop.${q('late table')} SELECT i, 'v' || i FROM generate_series(1, 10) i`, [], db);
    // Statement capture: the cutover verifies incrementally, and the table created after the pre-verify is
    // compared in full in the fence (named with why); row capture: checksums over everything.
    // A table created after the pre-verify, just before the fence: followed in the drain, compared in full.
    const onPhase = async (p: string) => {
      if (mode === 'statement' && p === 'fence') await src.query(`CREATE TABLE shop.${q('later still')} (id int PRIMARY KEY, v text); INSERT INTO shop.${q('later still')} SELECT i, 'w' || i FROM generate_series(1, 7) i; GRANT INSERT ON shop.${q('later still')} TO shop_writer`, [], db);
    };
    const res = await cutover({ source, target, fence: 'triggers', verify: mode === 'statement' ? 'incremental' : 'checksums', onNote: (m) => notes.push(m), onPhase }).catch((x: unknown) => { console.log(notes.join('\n')); throw x; });
    if (mode === 'statement') {
      expect(notes.join('\n')).toMatch(/in full: [^\n]*"shop"\."later still" \(created since the pre-verify\)/);
      expect((await tgt.query<{ n: number }>(`SELECT count(*)::int AS n FROM shop.${q('later still')}`, [], db)).rows[0]!.n).toBe(7);
      // Fenced like every other table: the application's role cannot write it on the old source.
      const w = new pg.Client({ connectionString: appUrl });
      await w.connect();
      const refused = await w.query(`INSERT INTO shop.${q('later still')} VALUES (100, 'after the fence')`).then(() => 'ok', (e: { code?: string }) => e.code);
      await w.end();
      expect(refused).toBe('25006');
    }
    const commits = await writer.stop();
    const stats = await load.stop();
    expect(stats.fenced).toBe(true);
    expect(commits).toBeGreaterThan(10);
    expect(res.verify?.ok).toBe(true);

    // The target equals the frozen source by the test's own row fingerprint, new tables included.
    const fs = await rowFingerprint(src.url(db), SCHEMAS), ft = await rowFingerprint(tgt.url(db), SCHEMAS);
    expect(Object.keys(fs)).toContain(KEYED);
    expect(Object.keys(fs)).toContain('shop."Keyless ""Log"""');
    expect(Object.keys(fs)).toContain('shop."late table"');
    expect(ft).toEqual(fs);
    expect(Number(fs['shop."Keyless ""Log"""']!.split(':')[0])).toBeGreaterThan(40);
    // The same indexes and constraints on both sides, none INVALID.
    const tables = [KEYED, KEYLESS, 'shop.accounts', 'shop.parents', `shop.${q('late table')}`];
    const si = await indexes(src, db, tables), ti = await indexes(tgt, db, tables);
    expect(ti).toEqual(si);
    expect(si.join('\n')).toMatch(/constraint parents id\+name "u" UNIQUE \(id, name\)/);
    expect(await invalidIndexes(tgt, db)).toBe(0);
    // The new tables' columns, defaults and constraints as on the source (foreign keys: put back by the cutover).
    const newTables = [KEYED, KEYLESS, `shop.${q('late table')}`];
    expect(await definitions(tgt, db, newTables)).toEqual(await definitions(src, db, newTables));
    expect((await definitions(tgt, db, newTables)).join('\n')).toMatch(/CHECK \(\(\(n IS NULL\) OR \(n > 0\)\)\)[^]*id integer true nextval\('"New ""Schema"""\."Orders ""2""_id_seq"'::regclass\)/);
    const fk = async (c: Cluster) => (await c.query<{ d: string }>(`SELECT conname || ' ' || pg_get_constraintdef(oid) || ' ' || convalidated AS d FROM pg_constraint WHERE conrelid = $1::regclass AND contype = 'f'`, [KEYED], db)).rows.map((r) => r.d);
    expect(await fk(tgt)).toEqual(await fk(src));

    // Capture on the new tables is the run's mode; teardown removes it from the tables added mid-run too.
    const kinds = (await src.query<{ k: string }>(`SELECT string_agg(DISTINCT tgname, ',' ORDER BY tgname) AS k FROM pg_trigger WHERE tgrelid = $1::regclass AND tgname LIKE 'cutover\\_capture%'`, [KEYLESS], db)).rows[0]!.k;
    expect(kinds).toBe(mode === 'row' ? 'cutover_capture,cutover_capture_t' : 'cutover_capture_d,cutover_capture_i,cutover_capture_t,cutover_capture_u');
    expect(await captureTriggers(src, db)).toBeGreaterThan(0);
    await teardown({ source, target });
    expect(await captureTriggers(src, db)).toBe(0);
  }, 300_000);

  it('a UNIQUE index the target\'s rows violate halts (exit 7) naming the index, with no INVALID index left; corrected, it is built', async () => {
    const db = 'follow_uniq';
    await src.createDatabase(db);
    await tgt.createDatabase(db);
    await createAppDatabase(src.url(db));
    const source = src.params(db), target = tgt.params(db);
    // The selection excludes a schema: a table created there later stays excluded.
    await installCapture({ source, excludeSchemas: ['archive'] });
    await copy({ source, target, dir: join(await work(), 'copy'), jobs: 1 });
    // A row only the target has (written there by someone else), duplicating a name the source has once.
    await tgt.query(`INSERT INTO shop.parents VALUES (100001, 'parent 7')`, [], db);
    const a = await Applier.open({ source, target, followDdl: true });
    await src.query(`CREATE SCHEMA archive; CREATE TABLE archive.old (id int PRIMARY KEY); INSERT INTO archive.old VALUES (1)`, [], db);
    await src.query(`CREATE UNIQUE INDEX CONCURRENTLY ${q('parents "name" u')} ON shop.parents (name)`, [], db);
    const deadline = Date.now() + 30_000;
    const e = await a.run({ until: () => Date.now() > deadline, maxReconnects: 0 }).then(() => undefined, (x: unknown) => x);
    await a.close();
    expect(e).toBeInstanceOf(CutoverError);
    expect((e as CutoverError).code).toBe('E_HALTED');
    expect((e as Error).message).toMatch(/could not build index "shop"\."parents ""name"" u" on shop\.parents on the target: .*\[SQLSTATE 23505\]/);
    expect((e as CutoverError).hint).toMatch(/CREATE UNIQUE INDEX CONCURRENTLY "parents ""name"" u" ON shop\.parents USING btree \(name\)/);
    expect(await invalidIndexes(tgt, db)).toBe(0);
    expect((await tgt.query(`SELECT 1 FROM pg_class WHERE relname = 'parents "name" u'`, [], db)).rowCount).toBe(0);
    expect((await tgt.query(`SELECT to_regclass('archive.old')::text AS r`, [], db)).rows[0]!.r).toBeNull();
    expect((await src.query(`SELECT count(*)::int AS n FROM pg_trigger WHERE tgrelid = 'archive.old'::regclass`, [], db)).rows[0]!.n).toBe(0);
    // The halt is recorded: the CLI applier exits 7.
    const env = { SRC: src.url(db), TGT: tgt.url(db) };
    const r = await cutoverCli(['replicate', 'apply', '--source', 'env:SRC', '--target', 'env:TGT', '--follow-ddl', '--until-caught-up'], env);
    expect(r.code, r.stderr).toBe(7);
    expect(r.stderr).toMatch(/parents ""name"" u/);
    // Corrected on the target and accepted: the index is built.
    await tgt.query(`DELETE FROM shop.parents WHERE id = 100001`, [], db);
    const b = await Applier.open({ source, target, acceptDdl: true });
    const built = async () => (await tgt.query(`SELECT 1 FROM pg_class WHERE relname = 'parents "name" u'`, [], db)).rowCount === 1;
    const stop = new AbortController();
    const applying = b.run({ signal: stop.signal });
    await until('the index after the correction', built, 30_000).finally(() => stop.abort());
    await applying;
    await b.close();
    expect(await invalidIndexes(tgt, db)).toBe(0);

    // A new table that already exists on the target with rows there: halt naming it; capture stays on the
    // source, and once the target's table is emptied the next applier copies into it and replicates it.
    await tgt.query(`CREATE TABLE shop.pre (id int PRIMARY KEY, v text); INSERT INTO shop.pre VALUES (99, 'target only')`, [], db);
    await src.query(`CREATE TABLE shop.pre (id int PRIMARY KEY, v text); INSERT INTO shop.pre SELECT i, 'v' || i FROM generate_series(1, 5) i`, [], db);
    const c = await Applier.open({ source, target });
    const cEnd = Date.now() + 30_000;
    const ce = await c.run({ until: () => Date.now() > cEnd, maxReconnects: 0 }).then(() => undefined, (x: unknown) => x);
    await c.close();
    expect((ce as CutoverError).code).toBe('E_HALTED');
    expect((ce as Error).message).toMatch(/could not create and copy new table "shop"\."pre" on the target: the table already exists on the target and has rows/);
    expect((await src.query(`SELECT count(*)::int AS n FROM pg_trigger WHERE tgrelid = 'shop.pre'::regclass AND tgname LIKE 'cutover%'`, [], db)).rows[0]!.n).toBeGreaterThan(0);
    await src.query(`UPDATE shop.pre SET v = 'changed while halted' WHERE id = 2; DELETE FROM shop.pre WHERE id = 3`, [], db);
    await tgt.query(`DELETE FROM shop.pre`, [], db);
    const d = await Applier.open({ source, target, acceptDdl: true });
    const rows = async (x: Cluster) => (await x.query<{ r: string }>(`SELECT string_agg(id || ':' || v, ',' ORDER BY id) AS r FROM shop.pre`, [], db)).rows[0]!.r;
    const stopD = new AbortController();
    const applyingD = d.run({ signal: stopD.signal });
    await until('shop.pre copied', async () => (await rows(tgt)) === (await rows(src)), 30_000);
    await src.query(`INSERT INTO shop.pre VALUES (6, 'after the copy'); UPDATE shop.pre SET v = 'again' WHERE id = 1`, [], db);
    await until('shop.pre replicated', async () => (await rows(tgt)) === (await rows(src)), 30_000).finally(() => stopD.abort());
    await applyingD;
    await d.close();
    expect(await rows(tgt)).toBe('1:again,2:changed while halted,4:v4,5:v5,6:after the copy');
    await teardown({ source, target });
  }, 180_000);

  it('without ddl: follow new tables and indexes are not followed: a new table the selection covers halts the applier (exit 7) naming it, and the cutover fails', async () => {
    const db = 'nofollow_new';
    await src.createDatabase(db);
    await tgt.createDatabase(db);
    await createAppDatabase(src.url(db));
    const source = src.params(db), target = tgt.params(db);
    await installCapture({ source });
    await copy({ source, target, dir: join(await work(), 'copy'), jobs: 1 });
    const a = await Applier.open({ source, target });
    await src.query(CREATE_TABLES, [], db);
    await src.query(`CREATE INDEX CONCURRENTLY ${q('acc "mood" idx')} ON shop.accounts (mood, credit)`, [], db);
    await src.query(`UPDATE shop.accounts SET credit = 3 WHERE id < 10`, [], db);
    let n = 0;
    const halted = await a.run({ until: () => ++n >= 10 }).catch((x: unknown) => x);
    await a.close();
    expect((halted as CutoverError).code).toBe('E_HALTED');
    expect((halted as Error).message).toContain("new table(s) ");
    expect((halted as Error).message).toContain(KEYED);
    expect((halted as Error).message).toMatch(/not replicated without ddl: follow/);
    expect((await tgt.query(`SELECT to_regclass($1)::text AS r`, [KEYED], db)).rows[0]!.r).toBeNull();
    expect((await tgt.query(`SELECT 1 FROM pg_class WHERE relname = 'acc "mood" idx'`, [], db)).rowCount).toBe(0);
    // No capture was put on the new tables.
    expect((await src.query(`SELECT count(*)::int AS n FROM pg_trigger WHERE tgrelid IN ($1::regclass, $2::regclass) AND tgname LIKE 'cutover%'`, [KEYED, KEYLESS], db)).rows[0]!.n).toBe(0);
    const e = await cutover({ source, target, fence: 'triggers', verify: 'checksums' }).catch((x: unknown) => x);
    expect((e as CutoverError).code).toBe('E_HALTED');
    expect((e as Error).message).toContain(KEYED);
    await teardown({ source, target });
  }, 180_000);
  it('a new table arrives with its comments, triggers (and their states), row-level security, policies, owner and grants; an index renamed or dropped on the source halts (exit 7) with the statement for the target, the target\'s own index does not', async () => {
    const db = 'follow_whole_table';
    await src.createDatabase(db);
    await tgt.createDatabase(db);
    await createAppDatabase(src.url(db));
    const OWNER = q('App "Owner"'), READER = q('app reader');
    for (const c of [src, tgt]) {
      await c.query(`DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'App "Owner"') THEN CREATE ROLE ${OWNER}; END IF;
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'app reader') THEN CREATE ROLE ${READER}; END IF; END $$`);
    }
    // A role only the source has, mapped to one the target has (the copy's role map).
    await src.query(`DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'u4f8a') THEN CREATE ROLE u4f8a; END IF; END $$`);
    const roleMap = new Map([['u4f8a', 'app reader']]);
    // A trigger function (the copy brings it) and an index the copy brings; then an index only the target has.
    await src.query(`CREATE FUNCTION shop.touch() RETURNS trigger LANGUAGE plpgsql AS $f$ BEGIN NEW.touched := clock_timestamp(); RETURN NEW; END $f$;
      CREATE INDEX ${q('acc "credit"')} ON shop.accounts (credit)`, [], db);
    const source = src.params(db), target = tgt.params(db);
    await installCapture({ source });
    await copy({ source, target, dir: join(await work(), 'copy'), jobs: 1 });
    await tgt.query(`CREATE INDEX ${q('target own')} ON shop.accounts (mood)`, [], db);
    const notes: string[] = [];
    const a = await Applier.open({ source, target, followDdl: true, roleMap, onNote: (m) => notes.push(m) });
    let stop = new AbortController();
    let failed: unknown;
    let running = a.run({ signal: stop.signal }).catch((e: unknown) => { failed = e; });

    const T = `shop.${q('Secure "T"')}`;
    await src.query(`CREATE TABLE ${T} (id int PRIMARY KEY, owner_name text, note text, touched timestamptz);
      COMMENT ON TABLE ${T} IS 'it''s secret';
      COMMENT ON COLUMN ${T}.note IS 'free "text"';
      CREATE TRIGGER ${q('touch it')} BEFORE INSERT OR UPDATE ON ${T} FOR EACH ROW EXECUTE FUNCTION shop.touch();
      CREATE TRIGGER ${q('off one')} BEFORE DELETE ON ${T} FOR EACH ROW EXECUTE FUNCTION shop.touch();
      ALTER TABLE ${T} DISABLE TRIGGER ${q('off one')};
      CREATE TRIGGER ${q('always one')} BEFORE UPDATE OF owner_name ON ${T} FOR EACH ROW WHEN (NEW.owner_name IS NULL) EXECUTE FUNCTION shop.touch();
      ALTER TABLE ${T} ENABLE ALWAYS TRIGGER ${q('always one')};
      ALTER TABLE ${T} ENABLE ROW LEVEL SECURITY;
      CREATE POLICY ${q('own rows')} ON ${T} FOR SELECT TO ${READER} USING (owner_name = current_user);
      CREATE POLICY ${q('notes "needed"')} ON ${T} AS RESTRICTIVE FOR UPDATE USING (true) WITH CHECK (note IS NOT NULL);
      ALTER TABLE ${T} OWNER TO ${OWNER};
      GRANT SELECT, INSERT ON ${T} TO ${READER} WITH GRANT OPTION;
      GRANT UPDATE (note) ON ${T} TO ${READER};
      GRANT DELETE ON ${T} TO u4f8a;
      CREATE POLICY legacy ON ${T} FOR DELETE TO u4f8a USING (id > 100);
      INSERT INTO ${T} SELECT i, 'u' || i, 'n', NULL FROM generate_series(1, 20) i`, [], db);
    const exists = async () => (await tgt.query<{ r: string | null }>(`SELECT to_regclass($1)::text AS r`, [T], db)).rows[0]!.r !== null;
    await until('the new table on the target', async () => { if (failed) throw failed; return exists(); });
    // Written after the copy: the source's trigger sets "touched"; the target's must not fire while applying.
    await src.query(`UPDATE ${T} SET note = 'later' WHERE id <= 10; DELETE FROM ${T} WHERE id = 20`, [], db);

    // An index renamed on the source: a halt naming both names and the statement, no second index built.
    await src.query(`ALTER INDEX shop.${q('acc "credit"')} RENAME TO ${q('acc "credit" 2')}`, [], db);
    await until('the halt on the renamed index', async () => failed !== undefined);
    await a.close();
    expect((failed as CutoverError).code).toBe('E_HALTED');
    expect((failed as Error).message).toMatch(/shop\.accounts: index "acc ""credit""" was renamed on the source to "acc ""credit"" 2"/);
    expect((failed as CutoverError).hint).toContain(`ALTER INDEX "shop"."acc ""credit""" RENAME TO "acc ""credit"" 2"`);
    expect((failed as Error).message).not.toMatch(/target own/);
    expect((await tgt.query(`SELECT 1 FROM pg_class WHERE relname = 'acc "credit" 2'`, [], db)).rowCount).toBe(0);
    const cli = await cutoverCli(['replicate', 'apply', '--source', 'env:SRC', '--target', 'env:TGT', '--until-caught-up'], { SRC: src.url(db), TGT: tgt.url(db) });
    expect(cli.code, cli.stderr).toBe(7);
    // Done on the target and accepted: replication goes on. Then a drop on the source halts the same way.
    await tgt.query(`ALTER INDEX shop.${q('acc "credit"')} RENAME TO ${q('acc "credit" 2')}`, [], db);
    const b = await Applier.open({ source, target, acceptDdl: true, onNote: (m) => notes.push(m) });
    failed = undefined;
    stop = new AbortController();
    running = b.run({ signal: stop.signal }).catch((e: unknown) => { failed = e; });
    await src.query(`DROP INDEX shop.${q('acc "credit" 2')}`, [], db);
    await until('the halt on the dropped index', async () => failed !== undefined);
    await running;
    await b.close();
    expect((failed as Error).message).toMatch(/shop\.accounts: index "acc ""credit"" 2" was dropped on the source/);
    expect((failed as CutoverError).hint).toContain(`DROP INDEX CONCURRENTLY "shop"."acc ""credit"" 2"`);
    await tgt.query(`DROP INDEX shop.${q('acc "credit" 2')}`, [], db);
    const c = await Applier.open({ source, target, acceptDdl: true });
    let n = 0;
    await c.run({ until: () => ++n >= 2 });
    await c.close();

    await src.query(`UPDATE ${T} SET owner_name = NULL WHERE id = 1`, [], db);
    const res = await cutover({ source, target, fence: 'triggers', verify: 'checksums', roleMap, onNote: (m) => notes.push(m) });
    expect(res.verify?.ok).toBe(true);
    expect(notes.join('\n')).not.toMatch(/created without/);
    // The test's own fingerprints: the rows (the target's triggers did not fire on applied rows)...
    expect(await rowFingerprint(tgt.url(db), ['shop'])).toEqual(await rowFingerprint(src.url(db), ['shop']));
    // ...and the table's catalog entries as each server prints them, the cutover having given the triggers back.
    const catalog = async (x: Cluster) => (await x.query<{ d: string }>(`SELECT * FROM (
        SELECT 'owner ' || pg_get_userbyid(relowner) || ' rls ' || relrowsecurity || relforcerowsecurity AS d FROM pg_class WHERE oid = $1::regclass
        UNION ALL SELECT 'grant ' || pg_get_userbyid(g.grantor) || ' ' || coalesce(pg_get_userbyid(nullif(g.grantee, 0)), 'PUBLIC') || ' ' || g.privilege_type || ' ' || g.is_grantable
          FROM pg_class c, aclexplode(c.relacl) g WHERE c.oid = $1::regclass
        UNION ALL SELECT 'column grant ' || a.attname || ' ' || pg_get_userbyid(g.grantor) || ' ' || pg_get_userbyid(g.grantee) || ' ' || g.privilege_type
          FROM pg_attribute a, aclexplode(a.attacl) g WHERE a.attrelid = $1::regclass AND a.attacl IS NOT NULL
        UNION ALL SELECT 'comment ' || objsubid || ' ' || description FROM pg_description WHERE objoid = $1::regclass AND classoid = 'pg_class'::regclass
        UNION ALL SELECT 'policy ' || policyname || ' ' || permissive || ' ' || roles::text || ' ' || cmd || ' ' || coalesce(qual, '-') || ' ' || coalesce(with_check, '-')
          FROM pg_policies WHERE schemaname = 'shop' AND tablename = 'Secure "T"'
        UNION ALL SELECT 'trigger ' || pg_get_triggerdef(oid) || ' ' || tgenabled::text FROM pg_trigger WHERE tgrelid = $1::regclass AND NOT tgisinternal AND tgname NOT LIKE 'cutover\\_%'
        UNION ALL SELECT 'index ' || pg_get_indexdef(indexrelid) FROM pg_index WHERE indrelid = 'shop.accounts'::regclass AND indexrelid::regclass::text <> 'shop."target own"') s ORDER BY 1`, [T], db)).rows.map((r) => r.d);
    // PostgreSQL 17 gives an owner MAINTAIN too: a difference of versions, not of the move.
    // The source's entries through the role map (u4f8a is "app reader" on the target).
    const [cs, ct] = [(await catalog(src)).map((x) => x.replaceAll('{u4f8a}', '{"app reader"}').replaceAll('u4f8a', 'app reader')).sort(), (await catalog(tgt)).filter((x) => !/^grant (.*) \1 MAINTAIN false$/.test(x)).sort()];
    expect(ct).toEqual(expect.arrayContaining(['grant App "Owner" app reader DELETE false', 'policy legacy PERMISSIVE {"app reader"} DELETE (id > 100) -']));
    expect(ct).toEqual(cs);
    expect(cs).toEqual(expect.arrayContaining(['owner App "Owner" rls truefalse', 'grant App "Owner" app reader INSERT true', 'column grant note App "Owner" app reader UPDATE', 'comment 3 free "text"']));
    expect(cs.filter((x) => x.startsWith('trigger ')).map((x) => x.slice(-1)).sort()).toEqual(['A', 'D', 'O']);
    expect(cs.filter((x) => x.startsWith('policy ')).length).toBe(3);
    await teardown({ source, target });
  }, 240_000);
});

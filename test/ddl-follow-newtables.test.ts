/**
 * ddl: follow (found by a red team)'s new tables (PostgreSQL 14 -> the newest): what a table created on the source
 * mid-replication brings to the target, and what halts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { availableMajors, startClusters, stopAllClusters, type Cluster } from '../src/testing/index.js';
import { cutover } from '../src/replicate/cutover.js';
import { catalogPrint, renameLine } from './helpers/fidelity.js';
import { verify } from '../src/verify/verify.js';
import { background, prepare, q, rows, settle } from './helpers/follow.js';

let src: Cluster, tgt: Cluster;
beforeAll(async () => {
  const majors = await availableMajors();
  [src, tgt] = (await startClusters([{ version: majors[0] }, { version: majors.at(-1) }])) as [Cluster, Cluster];
}, 180_000);
afterAll(() => stopAllClusters());

const exists = async (c: Cluster, db: string, name: string) => (await c.query<{ r: string | null }>(`SELECT to_regclass($1)::text AS r`, [name], db)).rows[0]!.r !== null;
const count = async (c: Cluster, db: string, name: string) => (await c.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${name}`, [], db)).rows[0]!.n;
/** The catalog lines (tests' own printer) that mention one of the names, roles mapped, PG 17's owner MAINTAIN left out. */
const lines = async (c: Cluster, db: string, names: string[]) => (await catalogPrint(c.url(db))).filter((l) => names.some((n) => l.includes(n))).map((l) => renameLine(l, {}).replace(/,postgres:MAINTAIN:f:postgres/, '')).sort();

describe('ddl: follow, new tables', () => {
  it('a parent and a child that references it, created together (the child sorts first): both are followed', async () => {
    const db = 'rt_fk_order';
    const { source, target } = await prepare(src, tgt, db);
    const b = await background({ source, target });
    await src.query(`CREATE TABLE shop.zones (id int PRIMARY KEY, name text);
      CREATE TABLE shop.addresses (id int PRIMARY KEY, zone_id int NOT NULL REFERENCES shop.zones, street text);
      INSERT INTO shop.zones SELECT i, 'z' || i FROM generate_series(1, 5) i;
      INSERT INTO shop.addresses SELECT i, 1 + i % 5, 's' || i FROM generate_series(1, 20) i;`, [], db);
    const err = await b.wait('both tables on the target', async () => (await exists(tgt, db, 'shop.addresses')) && (await exists(tgt, db, 'shop.zones')), 20_000)
      .then(() => undefined, (e: Error) => e);
    await b.stop();
    // The halt is for good: an applier that accepts the DDL copies them in the same order, and halts again.
    if (err) {
      const again = await background({ source, target, acceptDdl: true });
      const e2 = await again.ended(20_000);
      console.log(`first: ${err.message}\nagain, with --accept-ddl: ${e2?.message}`);
    }
    // Expected: no halt, both tables there with their rows.
    expect(err?.message).toBeUndefined();
    expect(await count(tgt, db, 'shop.addresses')).toBe(20);
  }, 180_000);

  it('a new table with a NOT VALID CHECK that its existing rows violate (valid on the source) is followed', async () => {
    const db = 'rt_not_valid_check';
    const { source, target } = await prepare(src, tgt, db);
    const b = await background({ source, target });
    await src.query(`CREATE TABLE shop.legacy (id int PRIMARY KEY, qty int);
      INSERT INTO shop.legacy VALUES (1, -5), (2, 3);
      ALTER TABLE shop.legacy ADD CONSTRAINT qty_positive CHECK (qty > 0) NOT VALID;`, [], db);
    const err = await b.wait('shop.legacy on the target', () => exists(tgt, db, 'shop.legacy'), 20_000).then(() => undefined, (e: Error) => e);
    await b.stop();
    expect(err?.message).toBeUndefined();
    expect(await count(tgt, db, 'shop.legacy')).toBe(2);
  }, 180_000);

  it('a new table with hostile names, identity, generated and collated columns, expression/partial/exclusion indexes, trigger states, grants: the same definition after the cutover (statement capture)', async () => {
    const db = 'rt_hostile';
    await tgt.query(`DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'Rt "Reader" ü') THEN CREATE ROLE "Rt ""Reader"" ü"; END IF; END $$;`);
    const { source, target } = await prepare(src, tgt, db, {
      mode: 'statement',
      before: `CREATE FUNCTION shop.stamp() RETURNS trigger LANGUAGE plpgsql AS $f$ BEGIN RETURN NEW; END $f$;
        DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'Rt "Reader" ü') THEN CREATE ROLE "Rt ""Reader"" ü"; END IF; END $$;`,
    });
    const b = await background({ source, target });
    const S = q('Sch "ë" select'), T = `${S}.${q('Ta ble "Ü" user')}`, R = q('Rt "Reader" ü');
    await src.query(`CREATE SCHEMA ${S};
      CREATE TABLE ${T} (
        "select" int GENERATED ALWAYS AS IDENTITY (START WITH 7 INCREMENT BY 3) PRIMARY KEY,
        "User" text COLLATE "C" NOT NULL,
        "from" int4range,
        "Ünï code" text DEFAULT 'it''s',
        twice int GENERATED ALWAYS AS (length("User") * 2) STORED,
        CONSTRAINT "no ""overlap""" EXCLUDE USING gist ("from" WITH &&),
        CONSTRAINT "u ""de"" ferred" UNIQUE ("User") DEFERRABLE INITIALLY DEFERRED,
        CONSTRAINT "check ""it""" CHECK ("select" > 0));
      CREATE INDEX "lower ""user""" ON ${T} (lower("User")) WHERE "Ünï code" IS NOT NULL;
      CREATE TRIGGER "tr ""O""" BEFORE INSERT ON ${T} FOR EACH ROW EXECUTE FUNCTION shop.stamp();
      CREATE TRIGGER "tr ""D""" BEFORE INSERT ON ${T} FOR EACH ROW EXECUTE FUNCTION shop.stamp();
      CREATE TRIGGER "tr ""A""" BEFORE INSERT ON ${T} FOR EACH ROW EXECUTE FUNCTION shop.stamp();
      CREATE TRIGGER "tr ""R""" BEFORE INSERT ON ${T} FOR EACH ROW EXECUTE FUNCTION shop.stamp();
      ALTER TABLE ${T} DISABLE TRIGGER "tr ""D""", ENABLE ALWAYS TRIGGER "tr ""A""", ENABLE REPLICA TRIGGER "tr ""R""";
      GRANT SELECT ("User"), UPDATE ("Ünï code") ON ${T} TO ${R};
      GRANT INSERT ON ${T} TO ${R};
      COMMENT ON COLUMN ${T}."from" IS 'ü ''quoted''';
      INSERT INTO ${T} ("User", "from") SELECT 'u' || i, int4range(i * 10, i * 10 + 5) FROM generate_series(1, 30) i;`, [], db);
    await b.wait('the new table on the target', () => exists(tgt, db, T), 30_000);
    await src.query(`UPDATE ${T} SET "Ünï code" = NULL WHERE "select" < 40; DELETE FROM ${T} WHERE "select" > 80`, [], db);
    await settle();
    expect(await b.stop()).toBeUndefined();
    const notes: string[] = [...b.notes];
    const res = await cutover({ source, target, fence: 'triggers', verify: 'incremental', onNote: (m) => notes.push(m) });
    expect(res.verify?.ok, notes.join('\n')).toBe(true);
    expect(notes.join('\n')).not.toMatch(/WARNING/);
    const names = ['Sch "ë" select', 'Sch ""ë"" select'];
    expect(await lines(tgt, db, names)).toEqual(await lines(src, db, names));
    // The rows too (the identity values as on the source).
    expect(await rows(tgt, db, `SELECT string_agg(t::text, ';' ORDER BY "select") AS r FROM ${T} t`)).toEqual(await rows(src, db, `SELECT string_agg(t::text, ';' ORDER BY "select") AS r FROM ${T} t`));
  }, 240_000);

  it('a new table\'s serial sequence keeps its grants: the application can insert on the new server after the cutover', async () => {
    const db = 'rt_seq_grant';
    await tgt.query(`DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'rt_app') THEN CREATE ROLE rt_app; END IF; END $$;`);
    const { source, target } = await prepare(src, tgt, db, {
      before: `DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'rt_app') THEN CREATE ROLE rt_app; END IF; END $$;
        GRANT USAGE ON SCHEMA shop TO rt_app;`,
    });
    const b = await background({ source, target });
    await src.query(`CREATE TABLE shop.tickets (id serial PRIMARY KEY, body text);
      GRANT SELECT, INSERT ON shop.tickets TO rt_app;
      GRANT USAGE ON SEQUENCE shop.tickets_id_seq TO rt_app;
      INSERT INTO shop.tickets (body) VALUES ('a'), ('b');`, [], db);
    // The application can insert on the source.
    await src.query(`SET ROLE rt_app; INSERT INTO shop.tickets (body) VALUES ('as the app'); RESET ROLE`, [], db);
    await b.wait('shop.tickets on the target', () => exists(tgt, db, 'shop.tickets'), 30_000);
    await settle();
    expect(await b.stop()).toBeUndefined();
    const res = await cutover({ source, target, fence: 'triggers', verify: 'checksums' });
    expect(res.verify?.ok).toBe(true);
    const acl = async (c: Cluster) => (await rows(c, db, `SELECT coalesce(relacl::text, '-') AS r FROM pg_class WHERE oid = 'shop.tickets_id_seq'::regclass`))[0];
    const sacl = await acl(src), tacl = await acl(tgt);
    // On the new server, as on the old one: the application inserts.
    const inserted = await tgt.query(`SET ROLE rt_app; INSERT INTO shop.tickets (body) VALUES ('as the app, on the new server'); RESET ROLE`, [], db).then(() => 'ok', (e: Error) => e.message);
    // What cutover's own full verify says (the level the incremental cutover verify uses in the fence).
    const full = await verify({ source, target, level: 'full' });
    console.log(`verify full: ok=${full.ok}; privileges: ${JSON.stringify(full.privileges?.differences)}`);
    expect({ inserted, tacl }).toEqual({ inserted: 'ok', tacl: sacl });
  }, 240_000);

  it('a user trigger whose name begins with cutover_ on a new table is created on the target', async () => {
    const db = 'rt_trigger_prefix';
    const { source, target } = await prepare(src, tgt, db, {
      before: `CREATE FUNCTION shop.audit() RETURNS trigger LANGUAGE plpgsql AS $f$ BEGIN RETURN NEW; END $f$;`,
    });
    const b = await background({ source, target });
    await src.query(`CREATE TABLE shop.audited (id int PRIMARY KEY, v text);
      CREATE TRIGGER cutover_audit BEFORE INSERT ON shop.audited FOR EACH ROW EXECUTE FUNCTION shop.audit();
      INSERT INTO shop.audited VALUES (1, 'x');`, [], db);
    await b.wait('shop.audited on the target', () => exists(tgt, db, 'shop.audited'), 30_000);
    await settle();
    expect(await b.stop()).toBeUndefined();
    const res = await cutover({ source, target, fence: 'triggers', verify: 'checksums' });
    expect(res.verify?.ok).toBe(true);
    const trig = (c: Cluster) => rows(c, db, `SELECT tgname || ' ' || tgenabled::text AS r FROM pg_trigger WHERE tgrelid = 'shop.audited'::regclass AND NOT tgisinternal AND tgname NOT LIKE 'cutover\\_capture%' AND tgname NOT LIKE 'cutover\\_fence%' ORDER BY 1`);
    expect(await trig(tgt)).toEqual(await trig(src));
  }, 240_000);

  it('a new table whose trigger function and a grantee are missing on the target: the trigger halts (exit 7); with the function made there, the grant is left out with a WARNING and the cutover ends', async () => {
    const db = 'rt_missing_fn';
    const { source, target } = await prepare(src, tgt, db);
    const b = await background({ source, target });
    await src.query(`CREATE FUNCTION shop.only_here() RETURNS trigger LANGUAGE plpgsql AS $f$ BEGIN RETURN NEW; END $f$;
      DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'rt_src_only') THEN CREATE ROLE rt_src_only; END IF; END $$;
      CREATE TABLE shop.orphan_trig (id int PRIMARY KEY, v text);
      CREATE TRIGGER t1 BEFORE INSERT ON shop.orphan_trig FOR EACH ROW EXECUTE FUNCTION shop.only_here();
      ALTER TABLE shop.orphan_trig ENABLE ALWAYS TRIGGER t1;
      GRANT SELECT ON shop.orphan_trig TO rt_src_only;
      COMMENT ON TABLE shop.orphan_trig IS 'kept';
      INSERT INTO shop.orphan_trig VALUES (1, 'a'), (2, 'b');`, [], db);
    // A trigger the target cannot create would not fire after the switch: a halt naming it, nothing created.
    const halted = await b.ended();
    expect(halted.code).toBe('E_HALTED');
    expect(halted.message).toMatch(/the target refused CREATE TRIGGER t1 BEFORE INSERT ON shop\.orphan_trig .*shop\.only_here\(\) does not exist/);
    expect(await exists(tgt, db, 'shop.orphan_trig')).toBe(false);
    // The function made on the target, DDL accepted: the table arrives; the grant to a role the target
    // lacks is left out with a WARNING (it only narrows access).
    await tgt.query(`CREATE FUNCTION shop.only_here() RETURNS trigger LANGUAGE plpgsql AS $f$ BEGIN RETURN NEW; END $f$`, [], db);
    const b2 = await background({ source, target, acceptDdl: true });
    await b2.wait('shop.orphan_trig on the target', () => exists(tgt, db, 'shop.orphan_trig'), 30_000);
    await src.query(`UPDATE shop.orphan_trig SET v = 'c' WHERE id = 1`, [], db);
    await settle();
    expect(await b2.stop()).toBeUndefined();
    expect(b2.notes.join('\n')).toMatch(/WARNING: new table "shop"."orphan_trig" created without 1 of its definitions .*GRANT SELECT ON TABLE shop\.orphan_trig TO rt_src_only/);
    const res = await cutover({ source, target, fence: 'triggers', verify: 'checksums' });
    expect(res.verify?.ok).toBe(true);
    expect(await rows(tgt, db, `SELECT obj_description('shop.orphan_trig'::regclass, 'pg_class') AS r`)).toEqual(['kept']);
    expect(await rows(tgt, db, `SELECT tgenabled::text AS r FROM pg_trigger WHERE tgname = 't1'`)).toEqual(['A']);
  }, 240_000);

  it('a new table created on the target beforehand (empty, with the same DDL and trigger, as the docs suggest) gets the source\'s rows as they are', async () => {
    const db = 'rt_precreated';
    const { source, target } = await prepare(src, tgt, db, {
      before: `CREATE FUNCTION shop.shout() RETURNS trigger LANGUAGE plpgsql AS $f$ BEGIN NEW.v := NEW.v || '!'; RETURN NEW; END $f$;`,
    });
    // The migration, run on both servers (the target first); its trigger is meant for new application writes.
    const migration = `CREATE TABLE shop.notes (id int PRIMARY KEY, v text);
      CREATE TRIGGER shout BEFORE INSERT ON shop.notes FOR EACH ROW EXECUTE FUNCTION shop.shout();`;
    await tgt.query(migration, [], db);
    const b = await background({ source, target });
    await src.query(`${migration} INSERT INTO shop.notes SELECT i, 'new ' || i FROM generate_series(1, 5) i;`, [], db);
    await b.wait('shop.notes copied', async () => (await tgt.query(`SELECT 1 FROM shop.notes`, [], db)).rowCount! > 0, 30_000);
    await settle();
    expect(await b.stop()).toBeUndefined();
    const all = (c: Cluster) => rows(c, db, `SELECT string_agg(id || ':' || v, ',' ORDER BY id) AS r FROM shop.notes`);
    console.log(`${b.notes.join('\n')}\ntarget: ${await all(tgt)}\ntriggers: ${await rows(tgt, db, `SELECT string_agg(tgname || ' ' || tgenabled::text, ',') AS r FROM pg_trigger WHERE tgrelid = 'shop.notes'::regclass`)}`);
    expect(await all(tgt)).toEqual(await all(src));
  }, 240_000);

  it('a new schema with a new enum type and a table using it (one migration): followed', async () => {
    const db = 'rt_enum_new_schema';
    const { source, target } = await prepare(src, tgt, db);
    const b = await background({ source, target });
    await src.query(`CREATE SCHEMA billing;
      CREATE TYPE billing.status AS ENUM ('draft', 'sent', 'paid');
      CREATE TABLE billing.invoices (id int PRIMARY KEY, status billing.status NOT NULL DEFAULT 'draft');
      INSERT INTO billing.invoices SELECT i, 'sent' FROM generate_series(1, 5) i;`, [], db);
    const err = await b.wait('billing.invoices on the target', async () => (await tgt.query(`SELECT to_regclass('billing.invoices') AS r`, [], db)).rows[0].r !== null, 20_000)
      .then(() => undefined, (e: Error & { code?: string }) => e);
    await b.stop();
    console.log(`error: ${err?.message} (code ${err?.code}); halted recorded: ${await rows(tgt, db, `SELECT coalesce(halted, '-') AS r FROM _cutover.apply_state`)}`);
    expect(err?.message).toBeUndefined();
  }, 240_000);

  it('PostgreSQL 14 -> newest: a column named json_value (a keyword only in 17) on a table that gets a new nullable column: followed', async () => {
    const db = 'rt_keyword_col';
    const { source, target } = await prepare(src, tgt, db, { before: `CREATE TABLE shop.payloads (id int PRIMARY KEY, json_value text); INSERT INTO shop.payloads VALUES (1, 'x')` });
    const b = await background({ source, target });
    await settle(2500);
    await src.query(`ALTER TABLE shop.payloads ADD COLUMN note text; UPDATE shop.payloads SET note = 'n'`, [], db);
    await settle(5000);
    const failed = await b.stop() as (Error & { hint?: string }) | undefined;
    console.log(`${failed?.message ?? 'no halt'}\n${failed?.hint ?? ''}`);
    expect(failed).toBeUndefined();
  }, 240_000);
});

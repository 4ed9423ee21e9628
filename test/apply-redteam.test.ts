/**
 * Red-team tests for the applier (apply.ts), written by a red-team session and kept as regression tests: ddl: follow with DDL that changes existing rows' values
 * without any trigger firing, DDL mixed with writes while the applier reconnects, sessions terminated at
 * random moments. Every check is the test's own (rowFingerprint, catalog SQL), never cutover's verify.
 * The rule each test holds the applier to: it either halts (E_HALTED) or the target ends equal to the source.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { rowFingerprint, stopAllClusters, type Cluster } from '../src/testing/index.js';
import { background, prepare, startPair, until } from './helpers/follow.js';

let src: Cluster, tgt: Cluster;
beforeAll(async () => { [src, tgt] = await startPair(); }, 180_000);
afterAll(() => stopAllClusters());

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

type Bg = Awaited<ReturnType<typeof background>>;

/** The source's snapshot now, read by the test's own session. */
const snapshotNow = async (db: string) => (await src.query<{ s: string }>('SELECT pg_current_snapshot()::text AS s', [], db)).rows[0]!.s;

/**
 * Waits until either the applier ended (returns its error) or it applied everything committed on the source
 * up to now (returns undefined). `ready`: what must hold on the target first (e.g. a new column is there).
 */
async function outcome(bg: Bg, db: string, ready: () => Promise<boolean> = async () => true, ms = 60_000): Promise<(Error & { code?: string }) | undefined> {
  await until('the applier to halt or to follow', async () => bg.state.failed !== undefined || (await ready()), ms)
    .catch((e: unknown) => { console.log(bg.notes.join('\n')); throw e; });
  if (bg.state.failed) { await bg.a.close(); return bg.state.failed as Error & { code?: string }; }
  const snap = await snapshotNow(db);
  // Synchronisation only (the comparison is the test's own): covered, and no table left to read again
  // (DDL that fires no trigger leaves the tick where it was: the covering batch may come before the follow).
  const refreshPending = async () => (await tgt.query<{ n: number }>(`SELECT coalesce(cardinality(refresh_tables), 0) AS n FROM _cutover.apply_state`, [], db)).rows[0]!.n > 0;
  await until('the applier to cover the last write', async () => bg.state.failed !== undefined || (bg.a.covers(snap) && !(await refreshPending())), ms);
  if (bg.state.failed) { await bg.a.close(); return bg.state.failed as Error & { code?: string }; }
  await bg.stop();
  return undefined;
}

const hasColumn = (db: string, table: string, col: string) => async () =>
  (await tgt.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_attribute WHERE attrelid = to_regclass($1) AND attname = $2 AND NOT attisdropped`, [table, col], db)).rows[0]!.n === 1;

/** A halt is an acceptable answer; a silent difference or another error is not. */
async function haltOrEqual(bg: Bg, db: string, ready?: () => Promise<boolean>): Promise<string> {
  const e = await outcome(bg, db, ready);
  if (e) {
    console.log(`${db}: ended with ${e.code}: ${e.message}`);
    expect(e.code, `${e.message}\n${bg.notes.join('\n')}`).toBe('E_HALTED');
    return 'halted';
  }
  const fs = await rowFingerprint(src.url(db), ['shop']), ft = await rowFingerprint(tgt.url(db), ['shop']);
  expect(ft, bg.notes.join('\n')).toEqual(fs);
  return 'equal';
}

describe('ddl: follow, DDL that rewrites existing rows (no trigger fires)', () => {
  it('ADD COLUMN ... DEFAULT then DROP DEFAULT in one transaction', async () => {
    const db = 'rt_default_dropped';
    const { source, target } = await prepare(src, tgt, db);
    const bg = await background({ source, target }, { maxReconnects: 5 });
    await src.query(`BEGIN; ALTER TABLE shop.parents ADD COLUMN flag text DEFAULT 'legacy'; ALTER TABLE shop.parents ALTER COLUMN flag DROP DEFAULT;
      UPDATE shop.parents SET name = name || '!' WHERE id = 1; COMMIT`, [], db);
    await haltOrEqual(bg, db, hasColumn(db, 'shop.parents', 'flag'));
  }, 120_000);

  it('ADD COLUMN ... DEFAULT x, then (another transaction) SET DEFAULT y before the applier looks', async () => {
    const db = 'rt_default_changed';
    const { source, target } = await prepare(src, tgt, db);
    await src.query(`ALTER TABLE shop.parents ADD COLUMN tier int DEFAULT 1`, [], db);
    await src.query(`ALTER TABLE shop.parents ALTER COLUMN tier SET DEFAULT 2`, [], db);
    const bg = await background({ source, target }, { maxReconnects: 5 });
    await haltOrEqual(bg, db, hasColumn(db, 'shop.parents', 'tier'));
  }, 120_000);

  it('ADD COLUMN with a volatile default (random())', async () => {
    const db = 'rt_default_volatile';
    const { source, target } = await prepare(src, tgt, db);
    const bg = await background({ source, target }, { maxReconnects: 5 });
    await src.query(`ALTER TABLE shop.parents ADD COLUMN token float8 DEFAULT random()`, [], db);
    await haltOrEqual(bg, db, hasColumn(db, 'shop.parents', 'token'));
  }, 120_000);

  it('ADD COLUMN with a stable default (now())', async () => {
    const db = 'rt_default_now';
    const { source, target } = await prepare(src, tgt, db);
    const bg = await background({ source, target }, { maxReconnects: 5 });
    await src.query(`ALTER TABLE shop.parents ADD COLUMN added_at timestamptz DEFAULT now()`, [], db);
    await haltOrEqual(bg, db, hasColumn(db, 'shop.parents', 'added_at'));
  }, 120_000);

  it('ADD COLUMN serial (a new sequence, a nextval() default)', async () => {
    const db = 'rt_add_serial';
    const { source, target } = await prepare(src, tgt, db);
    const bg = await background({ source, target }, { maxReconnects: 5 });
    await src.query(`ALTER TABLE shop.parents ADD COLUMN seqno serial`, [], db);
    await haltOrEqual(bg, db, hasColumn(db, 'shop.parents', 'seqno'));
  }, 120_000);

  it('ADD COLUMN of a new domain type (domains are refused: must halt, not crash)', async () => {
    const db = 'rt_add_domain';
    const { source, target } = await prepare(src, tgt, db);
    const bg = await background({ source, target }, { maxReconnects: 5 });
    await src.query(`CREATE DOMAIN shop.code AS text CHECK (VALUE <> ''); ALTER TABLE shop.parents ADD COLUMN code shop.code; UPDATE shop.parents SET code = 'c' || id WHERE id < 5`, [], db);
    await haltOrEqual(bg, db, hasColumn(db, 'shop.parents', 'code'));
  }, 120_000);

  it('DROP COLUMN and ADD COLUMN of the same name and type (the last column): values reset on the source', async () => {
    const db = 'rt_drop_readd';
    const { source, target } = await prepare(src, tgt, db);
    const bg = await background({ source, target }, { maxReconnects: 5 });
    await src.query(`BEGIN; ALTER TABLE shop.children DROP COLUMN note; ALTER TABLE shop.children ADD COLUMN note text; UPDATE shop.children SET note = 'new' WHERE id = 1; COMMIT`, [], db);
    // Seen by the storage check (no trigger fired): said, and the table read again in full.
    await bg.wait('the rewrite to be seen', async () => bg.notes.some((n) => /^the source rewrote "shop"\."(children|parents)" /.test(n)), 30_000);
    await haltOrEqual(bg, db);
  }, 120_000);

  it('ALTER COLUMN ... TYPE to the same type USING an expression (a rewrite)', async () => {
    const db = 'rt_retype_same';
    const { source, target } = await prepare(src, tgt, db);
    const bg = await background({ source, target }, { maxReconnects: 5 });
    await src.query(`ALTER TABLE shop.parents ALTER COLUMN name TYPE text USING upper(name)`, [], db);
    // Seen by the storage check (no trigger fired): said, and the table read again in full.
    await bg.wait('the rewrite to be seen', async () => bg.notes.some((n) => /^the source rewrote "shop"\."(children|parents)" /.test(n)), 30_000);
    await haltOrEqual(bg, db);
  }, 120_000);

  it('RENAME COLUMN, a new column of the old name, and writes (one transaction): must halt, not lose', async () => {
    const db = 'rt_rename';
    const { source, target } = await prepare(src, tgt, db);
    const bg = await background({ source, target }, { maxReconnects: 5 });
    await src.query(`BEGIN; ALTER TABLE shop.children RENAME COLUMN note TO memo; ALTER TABLE shop.children ADD COLUMN note text; UPDATE shop.children SET note = 'n' || id, memo = memo || '+' WHERE id < 20; COMMIT`, [], db);
    await sleep(3000);
    expect(await haltOrEqual(bg, db)).toBe('halted');
  }, 120_000);

  it('a column type change and writes in one transaction: must halt', async () => {
    const db = 'rt_retype';
    const { source, target } = await prepare(src, tgt, db);
    const bg = await background({ source, target }, { maxReconnects: 5 });
    await src.query(`BEGIN; ALTER TABLE shop.children ALTER COLUMN note TYPE varchar(40); UPDATE shop.children SET note = 'x' WHERE id < 5; COMMIT`, [], db);
    await sleep(3000);
    expect(await haltOrEqual(bg, db)).toBe('halted');
  }, 120_000);
});

describe('ddl: follow, a column added to a table without a key', () => {
  it('rows that differ only in the new column: the source deletes one, the target must delete the same one', async () => {
    const db = 'rt_keyless_newcol';
    const { source, target } = await prepare(src, tgt, db);
    const bg = await background({ source, target }, { maxReconnects: 5 });
    await src.query(`ALTER TABLE shop.history ADD COLUMN tag text`, [], db);
    await src.query(`INSERT INTO shop.history SELECT 1000 + i, 'pair ' || i, 1, t FROM generate_series(1, 20) i, unnest(ARRAY['keep', 'drop']) t`, [], db);
    await bg.wait('the pairs on the target', async () => (await tgt.query<{ n: number }>(`SELECT count(*)::int AS n FROM shop.history WHERE at >= 1000`, [], db).catch(() => ({ rows: [{ n: 0 }] }))).rows[0]!.n === 40);
    await src.query(`DELETE FROM shop.history WHERE tag = 'drop'`, [], db);
    await haltOrEqual(bg, db);
    const kept = async (c: Cluster) => (await c.query<{ n: number }>(`SELECT count(*)::int AS n FROM shop.history WHERE tag = 'keep'`, [], db)).rows[0]!.n;
    expect(await kept(tgt)).toBe(await kept(src));
  }, 120_000);

  it('a row inserted, a column added, the row deleted, all in one batch (the applier away): no false halt, no difference', async () => {
    const db = 'rt_keyless_onebatch';
    const { source, target } = await prepare(src, tgt, db);
    // Everything happens before the applier's first batch: one batch holds all of it.
    await src.query(`INSERT INTO shop.history VALUES (5000, 'unique row', 9)`, [], db);
    await src.query(`ALTER TABLE shop.history ADD COLUMN tag text`, [], db);
    await src.query(`DELETE FROM shop.history WHERE at = 5000`, [], db);
    await src.query(`INSERT INTO shop.history VALUES (5001, 'other', 9, 't')`, [], db);
    const bg = await background({ source, target }, { maxReconnects: 5 });
    const r = await outcome(bg, db, hasColumn(db, 'shop.history', 'tag'));
    expect(r?.message, bg.notes.join('\n')).toBeUndefined();
    const fs = await rowFingerprint(src.url(db), ['shop']), ft = await rowFingerprint(tgt.url(db), ['shop']);
    expect(ft).toEqual(fs);
  }, 120_000);
});

describe('ddl: follow under chaos: the applier\'s sessions terminated at random moments', () => {
  const HOSTILE = (i: number) => `"we""ird, c:${i}:23:-1,"`;
  for (const mode of ['row', 'statement'] as const) it(`columns (hostile names, a partitioned table), enum labels, new tables written in the same transaction (${mode} capture)`, async () => {
    const db = `rt_chaos_${mode}`;
    const { source, target } = await prepare(src, tgt, db, { mode });
    const bg = await background({ source, target }, { maxReconnects: 1000 });
    const endApplier = (c: Cluster) => c.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name LIKE 'cutover/apply-%' AND datname = $1`, [db], db).catch(() => undefined);
    let stop = false;
    let seed = 12345;
    const rnd = () => { seed = (seed * 1103515245 + 12345) % 2 ** 31; return seed / 2 ** 31; };
    const chaos = (async () => {
      for (let i = 0; !stop; i++) {
        await sleep(200 + rnd() * 1200);
        if (!stop) await endApplier(rnd() < 0.5 ? src : tgt);
      }
    })();
    const rounds = Number(process.env.RACE_ROUNDS ?? 16);
    for (let i = 0; i < rounds; i++) {
      const stmts = [
        // A hostile column on the partitioned table, written through the root and a leaf directly.
        `ALTER TABLE shop.events ADD COLUMN ${HOSTILE(i)} text`,
        `UPDATE shop.events SET ${HOSTILE(i)} = 'e' || id || '/${i}' WHERE id % 5 = ${i % 5}`,
        `UPDATE shop.events_eu SET v = v + 1, ${HOSTILE(i)} = 'leaf/${i}' WHERE id % 7 = ${i % 7}`,
        `INSERT INTO shop.events (id, region, v, ${HOSTILE(i)}) VALUES (${10000 + i}, '${i % 2 ? 'eu' : 'us'}', ${i}, 'new/${i}')`,
        // A column on another table, and (every third round) a new table created and written.
        `ALTER TABLE shop.accounts ADD COLUMN a${i} int`,
        `UPDATE shop.accounts SET a${i} = id * ${i + 1} WHERE id % 9 = ${i % 9}`,
      ];
      if (i % 3 === 0) stmts.push(`CREATE TABLE shop.nt${i} (id int PRIMARY KEY, v text)`, `INSERT INTO shop.nt${i} SELECT g, 'v' || g FROM generate_series(1, 30) g`);
      await src.query(`BEGIN; ${stmts.join('; ')}; COMMIT`, [], db);
      // An enum label, then (another transaction) rows that use it.
      if (i % 4 === 2) {
        await src.query(`ALTER TYPE public.mood ADD VALUE 'm${i}'`, [], db);
        await src.query(`UPDATE shop.accounts SET mood = 'm${i}' WHERE id % 11 = ${i % 11}; INSERT INTO shop.moods VALUES ('m${i}', ${i})`, [], db);
      }
      await sleep(rnd() * 400);
    }
    stop = true;
    await chaos;
    const last = `a${rounds - 1}`;
    const e = await outcome(bg, db, hasColumn(db, 'shop.accounts', last), 180_000);
    console.log(`${db}: ${bg.notes.filter((n) => /reconnecting/.test(n)).length} reconnects, ${bg.notes.filter((n) => /followed DDL/.test(n)).length} followed`);
    expect(e?.message, bg.notes.filter((n) => !/reconnecting/.test(n)).join('\n')).toBeUndefined();
    const fs = await rowFingerprint(src.url(db), ['shop']), ft = await rowFingerprint(tgt.url(db), ['shop']);
    expect(ft).toEqual(fs);
  }, 400_000);
});

describe('followed DDL interrupted', () => {
  it('the target\'s ADD COLUMN waits on a lock; more columns added and written meanwhile; the blocked session is stranded (client gone), then killed: every value arrives', async () => {
    const db = 'rt_follow_blocked';
    const { source, target } = await prepare(src, tgt, db);
    const bg = await background({ source, target }, { maxReconnects: 20 });
    const blocker = new pg.Client({ connectionString: tgt.url(db) });
    blocker.on('error', () => undefined);
    await blocker.connect();
    const waiting = async () => (await tgt.query<{ pid: number; q: string }>(`SELECT pid, query AS q FROM pg_stat_activity WHERE application_name LIKE 'cutover/apply-target%' AND wait_event_type = 'Lock' AND datname = $1`, [db], db)).rows;
    try {
      await blocker.query('BEGIN');
      await blocker.query('SELECT 1 FROM shop.accounts LIMIT 1');
      await src.query(`BEGIN; ALTER TABLE shop.accounts ADD COLUMN x1 text; UPDATE shop.accounts SET x1 = 'one' || id WHERE id < 50; COMMIT`, [], db);
      await bg.wait('the followed ALTER blocked on the target', async () => (await waiting()).some((w) => /ADD COLUMN/.test(w.q)), 30_000);
      await src.query(`BEGIN; ALTER TABLE shop.accounts ADD COLUMN x2 text; UPDATE shop.accounts SET x2 = 'two' || id, x1 = x1 || '+' WHERE id < 80; COMMIT`, [], db);
      // The source session (idle in the follow's snapshot) is lost; the client side of the target session too.
      (bg.a.sourceClient as unknown as { connection: { stream: { destroy(): void } } }).connection.stream.destroy();
      (bg.a.targetClient as unknown as { connection: { stream: { destroy(): void } } }).connection.stream.destroy();
      await bg.wait('the reconnect to end the stranded target session', async () => bg.notes.some((n) => /ended its earlier target session/.test(n)), 30_000);
      await src.query(`BEGIN; ALTER TABLE shop.accounts ADD COLUMN x3 int; UPDATE shop.accounts SET x3 = id WHERE id % 3 = 0; COMMIT`, [], db);
      await sleep(1500);
    } finally {
      await blocker.query('COMMIT').catch(() => undefined);
      await blocker.end();
    }
    const e = await outcome(bg, db, hasColumn(db, 'shop.accounts', 'x3'));
    expect(e?.message, bg.notes.join('\n')).toBeUndefined();
    const fs = await rowFingerprint(src.url(db), ['shop']), ft = await rowFingerprint(tgt.url(db), ['shop']);
    expect(ft).toEqual(fs);
  }, 120_000);

  for (const side of ['source', 'target'] as const) it(`a new table (large) created and written with a column added elsewhere in one transaction; the ${side} session killed during its copy`, async () => {
    const db = `rt_newtable_kill_${side}`;
    const { source, target } = await prepare(src, tgt, db);
    const bg = await background({ source, target }, { maxReconnects: 20 });
    await src.query(`BEGIN; CREATE TABLE shop.big (id int PRIMARY KEY, v text, pad text);
      INSERT INTO shop.big SELECT g, 'v' || g, repeat('x', 200) FROM generate_series(1, 300000) g;
      ALTER TABLE shop.parents ADD COLUMN big_id int; UPDATE shop.parents SET big_id = id * 7 WHERE id < 60; COMMIT`, [], db);
    const c = side === 'source' ? src : tgt;
    const copying = async () => (await c.query<{ pid: number }>(`SELECT pid FROM pg_stat_activity WHERE application_name LIKE 'cutover/apply-${side}%' AND datname = $1 AND query ILIKE 'COPY%big%'`, [db], db)).rows;
    await bg.wait('the copy of shop.big', async () => (await copying()).length > 0, 60_000);
    await c.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name LIKE 'cutover/apply-${side}%' AND datname = $1`, [db], db);
    // Writes to the new table while the applier reconnects.
    for (let i = 0; i < 20; i++) {
      await src.query(`UPDATE shop.big SET v = 'w${i}' WHERE id % 1000 = ${i}; DELETE FROM shop.big WHERE id = ${1000 + i}; INSERT INTO shop.big VALUES (${400000 + i}, 'new', 'p')`, [], db);
      await sleep(100);
    }
    const e = await outcome(bg, db, async () => (await tgt.query(`SELECT to_regclass('shop.big') AS r`, [], db)).rows[0].r !== null, 60_000);
    expect(e?.message, bg.notes.join('\n')).toBeUndefined();
    console.log(bg.notes.filter((n) => !/foreign key/.test(n)).join('\n'));
    const fs = await rowFingerprint(src.url(db), ['shop']), ft = await rowFingerprint(tgt.url(db), ['shop']);
    expect(ft).toEqual(fs);
  }, 240_000);
});

describe('a COPY from the source whose target side fails (the source stream left half read)', () => {
  it('the target session killed while a large batch streams into it: the applier reconnects (no hang) and nothing is lost', async () => {
    const db = 'rt_batch_kill_target';
    const { source, target } = await prepare(src, tgt, db, { before: `CREATE TABLE shop.big (id int PRIMARY KEY, v text, pad text); INSERT INTO shop.big SELECT g, 'v' || g, repeat('x', 200) FROM generate_series(1, 300000) g` });
    const bg = await background({ source, target }, { maxReconnects: 20 });
    await src.query(`UPDATE shop.big SET v = v || '!'`, [], db);
    const copying = async () => (await tgt.query<{ pid: number }>(`SELECT pid FROM pg_stat_activity WHERE application_name LIKE 'cutover/apply-target%' AND datname = $1 AND query ILIKE 'COPY%FROM STDIN%'`, [db], db)).rows;
    await bg.wait('the batch streaming into the target', async () => (await copying()).length > 0, 60_000);
    await tgt.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name LIKE 'cutover/apply-target%' AND datname = $1`, [db], db);
    const e = await outcome(bg, db, async () => bg.notes.some((n) => /reconnecting/.test(n)), 60_000);
    expect(e?.message, bg.notes.join('\n')).toBeUndefined();
    const fs = await rowFingerprint(src.url(db), ['shop']), ft = await rowFingerprint(tgt.url(db), ['shop']);
    expect(ft).toEqual(fs);
  }, 180_000);

  it('a new table created on the target beforehand with a CHECK the source\'s rows violate: halts (E_HALTED), does not hang', async () => {
    const db = 'rt_newtable_check';
    const { source, target } = await prepare(src, tgt, db);
    await tgt.query(`CREATE TABLE shop.big (id int PRIMARY KEY, v text, pad text, CHECK (id < 250000))`, [], db);
    const bg = await background({ source, target }, { maxReconnects: 5 });
    await src.query(`CREATE TABLE shop.big (id int PRIMARY KEY, v text, pad text); INSERT INTO shop.big SELECT g, 'v' || g, repeat('x', 200) FROM generate_series(1, 300000) g`, [], db);
    const e = await outcome(bg, db, async () => false, 60_000).catch((x: Error) => x);
    expect(e?.message, bg.notes.join('\n')).toMatch(/replication halted/);
  }, 180_000);
});

/**
 * The applier under races. A lost connection whose server session lives on (blocked on a lock, it does
 * not notice its client left) and holds the applier lock: the reconnect ends it instead of waiting forever.
 *
 * ddl: follow under races (issue 17): columns added and written in the same source transaction while
 * the applier reconnects (its sessions terminated, or after other followed DDL) at moments the test does
 * not choose. The applier's column lists, its accepted shapes and its column check must come from one
 * view of the source catalog: a transaction that commits between two of those reads must never be applied
 * with a column list older than its own (the new column's values silently lost). Rows are compared with
 * the test's own fingerprint.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rowFingerprint, stopAllClusters, type Cluster } from '../src/testing/index.js';
import pg from 'pg';
import { background, prepare, startPair } from './helpers/follow.js';

let src: Cluster, tgt: Cluster;
beforeAll(async () => { [src, tgt] = await startPair(); }, 180_000);
afterAll(() => stopAllClusters());

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('ddl: follow, columns added while the applier reconnects', () => {
  for (const mode of ['row', 'statement'] as const) it(`every new column's values reach the target (${mode} capture)`, async () => {
    const db = `follow_race_${mode}`;
    const { source, target } = await prepare(src, tgt, db, { mode });
    const bg = await background({ source, target }, { maxReconnects: 1000 });
    // The applier's own sessions on one server (by their application_name), ended as a crash would.
    const endApplier = (c: Cluster) => c.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name LIKE 'cutover/apply-%' AND datname = $1`, [db], db).catch(() => undefined);
    const rounds = Number(process.env.RACE_ROUNDS ?? 40);
    let stop = false;
    // Reconnects at moments of their own: sessions ended, and other followed DDL (a UNIQUE constraint).
    const chaos = (async () => {
      for (let i = 0; !stop; i++) {
        await sleep(700 + ((i * 373) % 900));
        if (!stop) await endApplier(i % 2 ? src : tgt);
      }
    })();
    for (let i = 0; i < rounds; i++) {
      await src.query(`ALTER TABLE shop.accounts ADD COLUMN c${i} text; UPDATE shop.accounts SET c${i} = 'v' || id || '/${i}' WHERE id % 7 = ${i % 7}`, [], db);
      if (i % 4 === 1) await src.query(`ALTER TABLE shop.parents ADD CONSTRAINT p_u${i} UNIQUE (id, name)`, [], db);
      await sleep((i * 53) % 300);
    }
    stop = true;
    await chaos;
    const last = `c${rounds - 1}`;
    await bg.wait('the last column and its values on the target', async () => {
      const r = await tgt.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_attribute WHERE attrelid = 'shop.accounts'::regclass AND attname = $1`, [last], db);
      if (r.rows[0]!.n === 0) return false;
      const want = (await src.query<{ n: number }>(`SELECT count(*)::int AS n FROM shop.accounts WHERE ${last} IS NOT NULL`, [], db)).rows[0]!.n;
      const got = (await tgt.query<{ n: number }>(`SELECT count(*)::int AS n FROM shop.accounts WHERE ${last} IS NOT NULL`, [], db)).rows[0]!.n;
      return got === want;
    }, 120_000).catch((e: unknown) => { console.log(bg.notes.join('\n')); throw e; });
    // Caught up to now: one idle batch after the last write.
    const snap = await bg.a.sourceSnapshot().catch(() => undefined);
    if (snap) await bg.wait('the applier to cover the last write', async () => bg.a.covers(snap));
    await bg.stop();
    const fs = await rowFingerprint(src.url(db), ['shop']), ft = await rowFingerprint(tgt.url(db), ['shop']);
    expect(ft['shop.accounts']).toBe(fs['shop.accounts']);
    expect(ft).toEqual(fs);
  }, 300_000);
});

describe('the applier loses a connection whose session lives on', () => {
  it('its old target session, blocked on a lock and holding the applier lock, is ended by the reconnect (not waited for); nothing is lost', async () => {
    const db = 'race_stale_session';
    const { source, target } = await prepare(src, tgt, db);
    const bg = await background({ source, target }, { maxReconnects: 5 });
    const blocker = new pg.Client({ connectionString: tgt.url(db) });
    await blocker.connect();
    try {
      await blocker.query('BEGIN');
      await blocker.query('LOCK TABLE shop.accounts IN ACCESS EXCLUSIVE MODE');
      await src.query(`UPDATE shop.accounts SET credit = credit + 1 WHERE id < 10`, [], db);
      const waiting = async () => (await tgt.query<{ pid: number }>(`SELECT pid FROM pg_stat_activity WHERE application_name LIKE 'cutover/apply-target%' AND wait_event_type = 'Lock' AND datname = $1`, [db], db)).rows;
      await bg.wait('the applier blocked on the target', async () => (await waiting()).length === 1);
      const [old] = await waiting();
      // The client's end of that session goes away; the server's session, waiting on the lock, does not notice.
      (bg.a.targetClient as unknown as { connection: { stream: { destroy(): void } } }).connection.stream.destroy();
      await bg.wait('the reconnect to end the old session', async () => bg.notes.some((n) => n.includes(`backend pid ${old!.pid}`)), 30_000);
      expect(bg.notes.join('\n')).toMatch(/applier: ended its earlier target session\(s\) \(backend pid \d+\), still open on the server after the connection was lost/);
    } finally {
      await blocker.query('COMMIT').catch(() => undefined);
      await blocker.end();
    }
    const snap = await bg.a.sourceSnapshot();
    await bg.wait('the applier to catch up', async () => bg.a.covers(snap));
    expect(await bg.stop()).toBeUndefined();
    const fs = await rowFingerprint(src.url(db), ['shop']), ft = await rowFingerprint(tgt.url(db), ['shop']);
    expect(ft).toEqual(fs);
  }, 120_000);
});

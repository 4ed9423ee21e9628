/**
 * ddl: follow (found by a red team): the target's own indexes added later, keeping the target's index after a rename
 * halt, role-mapped policies and grants of a new table.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stopAllClusters, type Cluster } from '../src/testing/index.js';
import { cutover } from '../src/replicate/cutover.js';
import { verify } from '../src/verify/verify.js';
import { background, prepare, rows, settle, startPair } from './helpers/follow.js';

let src: Cluster, tgt: Cluster;
beforeAll(async () => { [src, tgt] = await startPair(); }, 180_000);
afterAll(() => stopAllClusters());

const ensureRole = async (c: Cluster, r: string) => { await c.query(`DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '${r}') THEN CREATE ROLE ${r}; END IF; END $$`); };

describe('ddl: follow, the target\'s own indexes and a new table\'s roles', () => {
  it('an index the operator builds on the target after follow started (for the new server) is the target\'s own: no halt', async () => {
    const db = 'rt_own_late';
    const { source, target } = await prepare(src, tgt, db);
    const b = await background({ source, target });
    await settle(2500);
    await tgt.query(`CREATE INDEX CONCURRENTLY acc_mood_report ON shop.accounts (mood)`, [], db);
    await src.query(`UPDATE shop.accounts SET credit = 2 WHERE id < 5`, [], db);
    await settle(4000);
    const failed = await b.stop() as (Error & { hint?: string }) | undefined;
    console.log(`${failed?.message ?? 'no halt'}\n${failed?.hint ?? ''}`);
    expect(failed).toBeUndefined();
  }, 180_000);

  it('an index renamed on the source, the operator keeps the target\'s index (as the hint allows) and accepts: no second index is built', async () => {
    const db = 'rt_keep_renamed';
    const { source, target } = await prepare(src, tgt, db, { before: `CREATE UNIQUE INDEX acc_email_u ON shop.accounts (email, id)` });
    const b = await background({ source, target });
    await settle(2500);
    await src.query(`ALTER INDEX shop.acc_email_u RENAME TO acc_email_u2`, [], db);
    const e = await b.ended(20_000);
    expect(e.code).toBe('E_HALTED');
    const c = await background({ source, target, acceptDdl: true });
    await settle(5000);
    expect(await c.stop()).toBeUndefined();
    const idx = await rows(tgt, db, `SELECT indexrelid::regclass::text AS r FROM pg_index WHERE indrelid = 'shop.accounts'::regclass ORDER BY 1`);
    console.log(`${c.notes.join('\n')}\ntarget's indexes: ${idx.join(', ')}`);
    expect(idx.filter((i) => i.startsWith('shop.acc_email_u'))).toHaveLength(1);
  }, 180_000);

  it('a new table whose policy names two source roles mapped to one target role, a RESTRICTIVE policy for a missing role, a grant by a non-owner: the target\'s table is no more open than the source\'s', async () => {
    const db = 'rt_policy_roles';
    for (const r of ['rt_a', 'rt_b', 'rt_x', 'rt_grantor', 'rt_grantee']) await ensureRole(src, r);
    for (const r of ['rt_x', 'rt_grantor', 'rt_grantee']) await ensureRole(tgt, r);
    const { source, target } = await prepare(src, tgt, db, { before: `GRANT USAGE ON SCHEMA shop TO rt_grantor, rt_grantee, rt_x` });
    const roleMap = new Map([['rt_a', 'rt_x'], ['rt_b', 'rt_x']]);
    const b = await background({ source, target, roleMap });
    await ensureRole(src, 'rt_src_only');
    await src.query(`CREATE TABLE shop.docs (id int PRIMARY KEY, owner_name text, secret boolean NOT NULL DEFAULT false);
      ALTER TABLE shop.docs ENABLE ROW LEVEL SECURITY;
      CREATE POLICY readers ON shop.docs FOR SELECT TO rt_a, rt_b, rt_grantee USING (true);
      CREATE POLICY no_secrets ON shop.docs AS RESTRICTIVE FOR SELECT TO rt_grantee, rt_src_only USING (NOT secret);
      GRANT SELECT ON shop.docs TO rt_a, rt_b;
      GRANT SELECT ON shop.docs TO rt_grantor WITH GRANT OPTION;
      SET ROLE rt_grantor; GRANT SELECT ON shop.docs TO rt_grantee; RESET ROLE;
      INSERT INTO shop.docs VALUES (1, 'a', false), (2, 'b', true);`, [], db);
    // The restrictive policy names a role the target lacks: left out, rt_grantee would see more there. It halts.
    const halted = await b.ended();
    expect(halted.code).toBe('E_HALTED');
    expect(halted.message).toMatch(/the target refused CREATE POLICY no_secrets ON shop\.docs AS RESTRICTIVE .*role "rt_src_only" does not exist/);
    expect((await tgt.query(`SELECT to_regclass('shop.docs') AS r`, [], db)).rows[0].r).toBeNull();
    // The role made on the target, DDL accepted: the table arrives whole.
    await ensureRole(tgt, 'rt_src_only');
    const b2 = await background({ source, target, roleMap, acceptDdl: true });
    await b2.wait('shop.docs on the target', async () => (await tgt.query(`SELECT to_regclass('shop.docs') AS r`, [], db)).rows[0].r !== null, 30_000);
    await settle();
    expect(await b2.stop()).toBeUndefined();
    expect(b2.notes.filter((n) => n.includes('WARNING'))).toEqual([]);
    const res = await cutover({ source, target, fence: 'triggers', verify: 'checksums', roleMap });
    expect(res.verify?.ok).toBe(true);
    // What rt_grantee sees on each side.
    const sees = (c: Cluster) => rows(c, db, `SET ROLE rt_grantee; SELECT coalesce(string_agg(id::text, ',' ORDER BY id), '-') AS r FROM shop.docs`);
    const policies = (c: Cluster) => rows(c, db, `SELECT policyname || ' ' || permissive || ' ' || roles::text AS r FROM pg_policies WHERE tablename = 'docs' ORDER BY 1`);
    const full = await verify({ source, target, level: 'full', roleMap });
    console.log(`source sees ${await sees(src)}, target sees ${await sees(tgt)}\nsource policies ${(await policies(src)).join('; ')}\ntarget policies ${(await policies(tgt)).join('; ')}\n` +
      `verify full: ok=${full.ok} privileges ${JSON.stringify(full.privileges?.differences)} schema ${JSON.stringify(full.schema)}`);
    expect(await sees(tgt)).toEqual(await sees(src));
    expect(await sees(src)).toEqual(['1']);
    // The grant rt_grantor made is rt_grantor's on the target too: full verify compares grantors.
    expect(full.ok).toBe(true);
  }, 240_000);
});

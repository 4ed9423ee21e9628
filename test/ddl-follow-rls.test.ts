/**
 * ddl: follow (found by a red team)'s new tables with row-level security, the applier connecting to the target as a
 * role that is not a superuser (a managed target): the new table's owner is that role.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stopAllClusters, type Cluster } from '../src/testing/index.js';
import { parseConnString } from '../src/pg/conninfo.js';
import { Applier } from '../src/replicate/apply.js';
import { background, prepare, startPair } from './helpers/follow.js';

let src: Cluster, tgt: Cluster;
beforeAll(async () => { [src, tgt] = await startPair(); }, 180_000);
afterAll(() => stopAllClusters());

const ROLE = 'rt_mover';
async function setup(db: string, before = '') {
  for (const c of [src, tgt]) {
    if (!(await c.query(`SELECT 1 FROM pg_roles WHERE rolname = $1`, [ROLE])).rowCount) await c.createRole(ROLE, 'mover-pw');
  }
  // Every application object is the mover's (on the target too, through the copy); the mover owns the target database.
  const { source, target } = await prepare(src, tgt, db, {
    owner: ROLE,
    before: `DO $$ DECLARE r record; BEGIN
        FOR r IN SELECT format('%I.%I', schemaname, tablename) AS t FROM pg_tables WHERE schemaname = 'shop' LOOP EXECUTE 'ALTER TABLE ' || r.t || ' OWNER TO ${ROLE}'; END LOOP;
      END $$; ALTER SCHEMA shop OWNER TO ${ROLE}; ${before}`,
  });
  const moverTarget = parseConnString(`postgres://${ROLE}:mover-pw@${tgt.host}:${tgt.port}/${db}?sslmode=disable`, { env: {} });
  return { source, target, moverTarget };
}

describe('ddl: follow, row-level security, a target role that is not a superuser', () => {
  it('a new table with ENABLE + FORCE ROW LEVEL SECURITY (owned by the applier\'s role, not BYPASSRLS): halts saying why and what to do', async () => {
    const db = 'rt_rls_force_new';
    const { source, moverTarget } = await setup(db);
    const b = await background({ source, target: moverTarget });
    await src.query(`CREATE TABLE shop.secrets (id int PRIMARY KEY, tenant text NOT NULL, v text);
      INSERT INTO shop.secrets SELECT i, 't' || (i % 3), 'v' FROM generate_series(1, 12) i;
      ALTER TABLE shop.secrets OWNER TO ${ROLE};
      ALTER TABLE shop.secrets ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
      CREATE POLICY tenant_rows ON shop.secrets USING (tenant = current_setting('app.tenant', true));`, [], db);
    // The applier (the table's owner on the target, not BYPASSRLS) cannot write it: a halt that says so and
    // what to do, nothing half created.
    const failed = await b.ended() as Error & { code?: string };
    expect(failed.code).toBe('E_HALTED');
    expect(failed.message).toMatch(/row-level security applies to the applier's role on the target, so it cannot write the table: shop\.secrets \(FORCE ROW LEVEL SECURITY: even its owner is filtered\).*BYPASSRLS/);
    expect((await tgt.query(`SELECT to_regclass('shop.secrets') AS r`, [], db)).rows[0].r).toBeNull();
  }, 180_000);

  it('an existing table with FORCE ROW LEVEL SECURITY owned by the applier\'s role: the applier refuses to start, saying why and what to do', async () => {
    const db = 'rt_rls_force_old';
    const { source, moverTarget } = await setup(db, `CREATE TABLE shop.secrets (id int PRIMARY KEY, tenant text NOT NULL, v text);
      INSERT INTO shop.secrets SELECT i, 't' || (i % 3), 'v' FROM generate_series(1, 12) i;
      ALTER TABLE shop.secrets OWNER TO ${ROLE};
      ALTER TABLE shop.secrets ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
      CREATE POLICY tenant_rows ON shop.secrets USING (tenant = current_setting('app.tenant', true));`);
    // Refused when the applier starts, before any batch, with what to do.
    const failed = await Applier.open({ source, target: moverTarget }).then(async (a) => { await a.close(); return undefined; }, (e: unknown) => e as Error & { code?: string; hint?: string });
    expect(failed?.code).toBe('E_PREFLIGHT');
    expect(failed?.message).toMatch(/row-level security applies to the applier's role on the target for 1 table\(s\), so it cannot write them: shop\.secrets \(FORCE ROW LEVEL SECURITY/);
    expect(failed?.hint).toMatch(/BYPASSRLS/);
  }, 180_000);
});

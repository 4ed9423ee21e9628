/**
 * Red team, ddl: follow's new tables with row-level security, the applier connecting to the target as a
 * role that is not a superuser (a managed target): the new table's owner is that role.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { availableMajors, startClusters, stopAllClusters, type Cluster } from '../src/testing/index.js';
import { parseConnString } from '../src/pg/conninfo.js';
import { background, prepare, rows, settle } from './redteam-lib.js';

let src: Cluster, tgt: Cluster;
beforeAll(async () => {
  const majors = await availableMajors();
  [src, tgt] = (await startClusters([{ version: 15 }, { version: majors.at(-1) }])) as [Cluster, Cluster];
}, 180_000);
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

describe('red team: row-level security, a target role that is not a superuser', () => {
  it('a new table with ENABLE + FORCE ROW LEVEL SECURITY (owned by the applier\'s role): replication goes on', async () => {
    const db = 'rt_rls_force_new';
    const { source, moverTarget } = await setup(db);
    const b = await background({ source, target: moverTarget });
    await src.query(`CREATE TABLE shop.secrets (id int PRIMARY KEY, tenant text NOT NULL, v text);
      INSERT INTO shop.secrets SELECT i, 't' || (i % 3), 'v' FROM generate_series(1, 12) i;
      ALTER TABLE shop.secrets OWNER TO ${ROLE};
      ALTER TABLE shop.secrets ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
      CREATE POLICY tenant_rows ON shop.secrets USING (tenant = current_setting('app.tenant', true));`, [], db);
    await b.wait('shop.secrets on the target', async () => (await tgt.query(`SELECT to_regclass('shop.secrets') AS r`, [], db)).rows[0].r !== null, 30_000);
    await src.query(`UPDATE shop.secrets SET v = 'changed' WHERE id < 4; DELETE FROM shop.secrets WHERE id = 12`, [], db);
    await settle(4000);
    const failed = await b.stop() as Error | undefined;
    console.log(`new FORCE table: ${failed?.message ?? 'no halt'}\n${b.notes.join('\n')}`);
    expect(failed).toBeUndefined();
    const all = (c: Cluster) => rows(c, db, `SET row_security = off; SELECT string_agg(id || v, ',' ORDER BY id) AS r FROM shop.secrets`);
    expect(await all(tgt)).toEqual(await all(src));
  }, 180_000);

  it('control: an existing table with FORCE ROW LEVEL SECURITY, copied before replication', async () => {
    const db = 'rt_rls_force_old';
    const { source, moverTarget } = await setup(db, `CREATE TABLE shop.secrets (id int PRIMARY KEY, tenant text NOT NULL, v text);
      INSERT INTO shop.secrets SELECT i, 't' || (i % 3), 'v' FROM generate_series(1, 12) i;
      ALTER TABLE shop.secrets OWNER TO ${ROLE};
      ALTER TABLE shop.secrets ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
      CREATE POLICY tenant_rows ON shop.secrets USING (tenant = current_setting('app.tenant', true));`);
    const b = await background({ source, target: moverTarget });
    await src.query(`UPDATE shop.secrets SET v = 'changed' WHERE id < 4; DELETE FROM shop.secrets WHERE id = 12`, [], db);
    await settle(4000);
    const failed = await b.stop() as Error | undefined;
    console.log(`existing FORCE table: ${failed?.message ?? 'no halt'}`);
    expect(failed).toBeUndefined();
  }, 180_000);
});

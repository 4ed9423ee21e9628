/** The sample database used by tests, the demo and benchmarks: every common type, hostile names. */
import pg from 'pg';
import { loadSql, quoteIdent, quoteLiteral } from '../pg/sql.js';
import type { Cluster } from './cluster.js';

export interface SampleOptions {
  /** Base row count: customers = rows, orders = 2 x rows, invoices = rows, ... (default 1000). */
  rows?: number;
}

/** Loads the sample schema and data into the database at `url` (which should be empty). */
export async function createSampleDatabase(url: string, opts: SampleOptions = {}): Promise<void> {
  const rows = Math.max(10, Math.floor(opts.rows ?? 1000));
  const c = new pg.Client({ connectionString: url, application_name: 'cutover-test/sample' });
  await c.connect();
  try {
    await c.query(loadSql(import.meta.url, 'sql/sample-schema.sql'));
    await c.query(`SET cutover.sample_rows = ${rows}`);
    await c.query(loadSql(import.meta.url, 'sql/sample-data.sql'));
  } finally {
    await c.end();
  }
}

/** Table bytes per base row (indexes excluded), measured at 4.3 M rows: sizes the benchmarks' databases. */
export const SAMPLE_BYTES_PER_ROW = 820;

/** The schemas of the sample database the application role writes to. */
const SAMPLE_SCHEMAS = 'app, billing, "Ünïcode ""Schema"""';

/**
 * Creates (once per cluster) a password-authenticated, non-superuser role that may write every sample
 * table, as an application would, and returns its URL to `dbname`. A write fence (REVOKE) stops it.
 */
export async function createSampleWriter(cluster: Cluster, dbname: string, role: string, password: string): Promise<string> {
  const exists = (await cluster.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [role])).rowCount;
  if (!exists) await cluster.createRole(role, password, dbname);
  else await cluster.query(`ALTER ROLE ${quoteIdent(role)} PASSWORD ${quoteLiteral(password)}`);
  const r = quoteIdent(role);
  await cluster.query(`GRANT USAGE ON SCHEMA ${SAMPLE_SCHEMAS} TO ${r};
    GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON ALL TABLES IN SCHEMA ${SAMPLE_SCHEMAS} TO ${r};
    GRANT USAGE ON ALL SEQUENCES IN SCHEMA app, billing TO ${r};`, [], dbname);
  return `postgres://${encodeURIComponent(role)}:${encodeURIComponent(password)}@${cluster.host}:${cluster.port}/${encodeURIComponent(dbname)}?sslmode=disable`;
}

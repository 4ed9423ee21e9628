/** The sample database used by tests, the demo and benchmarks: every common type, hostile names. */
import pg from 'pg';
import { loadSql, quoteIdent, quoteLiteral } from '../pg/sql.js';
import type { Cluster } from './cluster.js';

export interface SampleOptions {
  /** Base row count: customers = rows, orders = 2 x rows, invoices = rows, ... (default 1000). */
  rows?: number;
  /**
   * Load as this (existing, non-superuser) role, which then owns everything, as on a managed source. The
   * URL's user (a superuser) creates the sample's roles and makes `owner` a member of sample_app.
   */
  owner?: string;
  /** Also citext, hstore and pgcrypto with a table using them, when the server has them (false by default: copies to servers without contrib would fail). */
  contrib?: boolean;
}

/** The sample's application roles (cluster-wide; created if missing). */
export const SAMPLE_ROLES = ['sample_readers', 'sample_reader', 'sample_app', 'sample_auditor', 'app_writer'] as const;

/** Creates the sample's roles on a cluster (idempotent): the target of a copy has the application's roles. */
export async function createSampleRoles(url: string): Promise<void> {
  const c = new pg.Client({ connectionString: url, application_name: 'cutover-test/sample' });
  c.on('error', () => undefined);
  await c.connect();
  try {
    await c.query(loadSql(import.meta.url, 'sql/sample-roles.sql'));
  } finally {
    await c.end();
  }
}

/** Whether the server at `c` ships the contrib extensions the sample uses. */
async function hasContrib(c: pg.Client): Promise<boolean> {
  const r = await c.query(`SELECT count(*)::int AS n FROM pg_available_extensions WHERE name IN ('citext', 'hstore', 'pgcrypto')`);
  return r.rows[0].n === 3;
}

/** Loads the sample schema and data into the database at `url` (which should be empty). */
export async function createSampleDatabase(url: string, opts: SampleOptions = {}): Promise<void> {
  const rows = Math.max(10, Math.floor(opts.rows ?? 1000));
  const c = new pg.Client({ connectionString: url, application_name: 'cutover-test/sample' });
  c.on('error', () => undefined);
  await c.connect();
  try {
    await c.query(loadSql(import.meta.url, 'sql/sample-roles.sql'));
    if (opts.owner) {
      await c.query(`GRANT sample_app TO ${quoteIdent(opts.owner)}`);
      await c.query(`SET ROLE ${quoteIdent(opts.owner)}`);
    }
    await c.query(loadSql(import.meta.url, 'sql/sample-schema.sql'));
    await c.query(`SET cutover.sample_rows = ${rows}`);
    await c.query(loadSql(import.meta.url, 'sql/sample-data.sql'));
    if (opts.contrib && await hasContrib(c)) await c.query(loadSql(import.meta.url, 'sql/sample-contrib.sql'));
    if (opts.owner) await c.query('RESET ROLE');
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
  else await cluster.query(`ALTER ROLE ${quoteIdent(role)} LOGIN PASSWORD ${quoteLiteral(password)}`);
  const r = quoteIdent(role);
  await cluster.query(`GRANT USAGE ON SCHEMA ${SAMPLE_SCHEMAS} TO ${r};
    GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON ALL TABLES IN SCHEMA ${SAMPLE_SCHEMAS} TO ${r};
    GRANT USAGE ON ALL SEQUENCES IN SCHEMA app, billing TO ${r};`, [], dbname);
  return `postgres://${encodeURIComponent(role)}:${encodeURIComponent(password)}@${cluster.host}:${cluster.port}/${encodeURIComponent(dbname)}?sslmode=disable`;
}

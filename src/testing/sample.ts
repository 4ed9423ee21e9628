/** The sample database used by tests, the demo and benchmarks: every common type, hostile names. */
import pg from 'pg';
import { loadSql } from '../pg/sql.js';

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

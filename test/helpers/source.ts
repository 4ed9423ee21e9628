import { createSampleDatabase, createSampleWriter, type Cluster } from '../../src/testing/index.js';

/**
 * A source database with the sample schema and data, and the application role `app_writer` (password
 * `password`) that may write every sample table and that a write fence stops. Returns that role's URL.
 */
export async function sampleSource(c: Cluster, db: string, rows: number, password: string): Promise<string> {
  await c.createDatabase(db);
  await createSampleDatabase(c.url(db), { rows });
  return createSampleWriter(c, db, 'app_writer', password);
}

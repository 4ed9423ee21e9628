/** ~/.pgpass (or PGPASSFILE) lookup through the `pgpass` package that node-postgres itself uses. */
import { createRequire } from 'node:module';
import type { ConnParams } from './conninfo.js';

const require = createRequire(import.meta.url);
type PgpassFn = (conn: { host: string; port: number; database: string; user: string }, cb: (pw?: string) => void) => void;
const pgpass = require('pgpass') as PgpassFn;

export async function withPgpass(p: ConnParams): Promise<ConnParams> {
  if (p.password !== undefined) return p;
  const pw = await new Promise<string | undefined>((resolve) =>
    pgpass({ host: p.host, port: p.port, database: p.dbname, user: p.user }, resolve));
  return pw === undefined ? p : { ...p, password: pw, passwordSource: 'pgpass' };
}

/**
 * The password file lookup (the connection's `passfile`, else PGPASSFILE, else ~/.pgpass) through the
 * `pgpass` package that node-postgres itself uses: the same matching, and a file readable by group or
 * others ignored as libpq ignores it.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import type { ConnParams } from './conninfo.js';

const require = createRequire(import.meta.url);
type ConnInfo = { host: string; port: number; database: string; user: string };
interface PgpassHelper {
  getFileName(env?: NodeJS.ProcessEnv): string;
  usePgPass(stats: import('node:fs').Stats, fname: string): boolean;
  getPassword(conn: ConnInfo, stream: NodeJS.ReadableStream, cb: (pw?: string) => void): void;
}
const helper = require('pgpass/lib/helper.js') as PgpassHelper;

export async function withPgpass(p: ConnParams): Promise<ConnParams> {
  if (p.password !== undefined) return p;
  const file = p.passfile ?? helper.getFileName();
  const st = await stat(file).catch(() => undefined);
  if (!st || !helper.usePgPass(st, file)) return p;
  const pw = await new Promise<string | undefined>((resolve) =>
    helper.getPassword({ host: p.host, port: p.port, database: p.dbname, user: p.user }, createReadStream(file), resolve));
  return pw === undefined ? p : { ...p, password: pw, passwordSource: 'pgpass' };
}

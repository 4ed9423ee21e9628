/**
 * Credentials for child processes (pg_dump, pg_restore, psql, runbook `sh` steps): connection parameters go
 * in PG* variables and passwords in a 0600 temporary passfile, never in argv (any local user can read argv
 * with `ps`). PGPASSWORD inherited from our own environment is removed so the passfile is what counts.
 * The passfile lives in this process's runtime directory (src/lib/runtime-dir.ts): removed after the
 * child, and with the directory when the process ends in any way; after a SIGKILL, by the next command.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type ConnParams, urlWithoutPassword } from './conninfo.js';
import { applicationName } from './connect.js';
import { OWNER_VAR, ownerMarker, runtimeDir } from '../lib/runtime-dir.js';
import type { Endpoint } from './endpoint.js';

function passfileField(s: string): string {
  return s.replace(/\\/g, '\\\\').replace(/:/g, '\\:');
}

export function passfileLine(p: ConnParams): string | undefined {
  if (p.password === undefined) return undefined;
  return [p.host, String(p.port), p.dbname, p.user, p.password].map(passfileField).join(':');
}

export interface ChildCredentials {
  /** Environment for the child: PGPASSFILE plus, for the primary connection, PGHOST/PGPORT/... */
  env: Record<string, string | undefined>;
  /** Removes the temporary passfile. Always call it (try/finally). */
  cleanup(): Promise<void>;
}

export interface ChildConnection {
  params: Endpoint;
  /** Also exported as `<urlVar>` (a URL without password), e.g. SOURCE_URL for `sh` steps. */
  urlVar?: string;
}

export async function childCredentials(step: string, primary: Endpoint | undefined, others: ChildConnection[] = []): Promise<ChildCredentials> {
  const all = [...(primary ? [{ params: primary }] : []), ...others];
  const dir = await mkdtemp(join(runtimeDir(), 'cred-'));
  const passfile = join(dir, 'pgpass');
  const lines = all.map((c) => passfileLine(c.params)).filter((l): l is string => l !== undefined);
  await writeFile(passfile, lines.join('\n') + '\n', { mode: 0o600 });
  const env: Record<string, string | undefined> = {
    PGPASSWORD: undefined,
    PGPASSFILE: passfile,
    PGAPPNAME: applicationName(step),
    // Marks the child (and its own children) as this process's: the sweep after a SIGKILL ends only these.
    [OWNER_VAR]: ownerMarker(),
  };
  if (primary) {
    Object.assign(env, {
      PGHOST: primary.host,
      PGPORT: String(primary.port),
      PGUSER: primary.user,
      PGDATABASE: primary.dbname,
      PGSSLMODE: primary.sslmode,
      PGSSLROOTCERT: primary.sslrootcert,
      PGSSLCERT: primary.sslcert,
      PGSSLKEY: primary.sslkey,
      PGCONNECT_TIMEOUT: String(primary.connectTimeoutSec),
    });
  }
  for (const c of others) if (c.urlVar) env[c.urlVar] = urlWithoutPassword(c.params);
  return { env, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** A connection URL or key=value string that carries a password. */
const WITH_PASSWORD = /postgres(?:ql)?:\/\/[^/@\s]*:[^@\s]*@|(?:^|\s)password\s*=/i;

/**
 * Inherited variables that hold a password in a connection string (e.g. the SOURCE_URL an `env:` reference
 * read), unset for cutover's own tools: a child's environment is readable in /proc by the same user, and
 * the tools get their credentials from the passfile. (A runbook's `sh` step keeps the user's environment.)
 */
export function withoutInheritedPasswords(env: NodeJS.ProcessEnv = process.env): Record<string, undefined> {
  return Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && WITH_PASSWORD.test(v)).map(([k]) => [k, undefined]));
}

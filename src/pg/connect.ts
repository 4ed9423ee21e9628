/**
 * Opens node-postgres clients from `ConnParams`. Every connection is named `cutover/<step>` so cutover's
 * own sessions can be counted in pg_stat_activity; connection failures become CutoverErrors that say what
 * to do, built from SQLSTATEs and socket error codes, with the password never in the text.
 */
import { readFileSync } from 'node:fs';
import pg from 'pg';
import type { ConnectionOptions } from 'node:tls';
import { CutoverError } from '../errors.js';
import { type ConnParams, redact, scrub } from './conninfo.js';
import { classifySqlState, sqlStateOf } from './sqlstate.js';
import { admitConnections } from './admission.js';
import { taggedName } from './session-tag.js';
import { rememberServer } from './own-sessions.js';
import type { Endpoint } from './endpoint.js';

export type Client = pg.Client;

export interface ConnectOptions {
  /** Extra session settings applied right after connecting (SET name = value). */
  settings?: Record<string, string | number>;
}

export function applicationName(step: string): string {
  // application_name is limited to NAMEDATALEN-1 bytes; keep it short and ASCII. A CLI process adds its
  // session tag (`cutover/<step>#<tag>`) so that its own sessions can be found and cancelled.
  return taggedName(`cutover/${step}`);
}

function sslConfig(p: ConnParams): false | ConnectionOptions {
  switch (p.sslmode) {
    case 'disable':
      return false;
    case 'allow':
    case 'prefer':
    case 'require':
      return { rejectUnauthorized: false };
    case 'verify-ca':
    case 'verify-full': {
      const opts: ConnectionOptions = { rejectUnauthorized: true };
      if (p.sslrootcert) opts.ca = readFileSync(p.sslrootcert, 'utf8');
      if (p.sslcert) opts.cert = readFileSync(p.sslcert, 'utf8');
      if (p.sslkey) opts.key = readFileSync(p.sslkey, 'utf8');
      // verify-ca checks the chain but not the host name, as libpq does.
      if (p.sslmode === 'verify-ca') opts.checkServerIdentity = () => undefined;
      return opts;
    }
  }
}

/** Hosts that answered "no SSL" to an sslmode=prefer attempt: later connections go straight to plain. */
const noSslHosts = new Set<string>();

export function clientConfig(p: ConnParams, step: string, ssl: false | ConnectionOptions): pg.ClientConfig {
  return {
    host: p.host,
    port: p.port,
    user: p.user,
    database: p.dbname,
    // A function, so that a server asking for a password we do not have fails with our message.
    password: p.password !== undefined ? p.password : () => {
      throw new CutoverError('E_AUTH', `${redact(p)}: the server asks for a password and none was given`,
        { hint: 'put it in ~/.pgpass (or PGPASSFILE), in PGPASSWORD, or in the URL' });
    },
    ssl,
    application_name: applicationName(step),
    connectionTimeoutMillis: p.connectTimeoutSec > 0 ? p.connectTimeoutSec * 1000 : undefined,
  };
}

export async function connect(p: Endpoint, step: string, opts: ConnectOptions = {}): Promise<pg.Client> {
  // Counted (and, during a run, admitted by the governor) from before it opens until it has closed.
  const release = await admitConnections(p, 1, applicationName(step));
  try {
    const client = await open(p, step);
    rememberServer(p);
    client.once('end', release);
    return await applySettings(client, opts);
  } catch (e) {
    release();
    throw e;
  }
}

/** A connection outside the run's connection governor: only for cancelling our own work on an interruption. */
export async function connectUnadmitted(p: Endpoint, step: string): Promise<pg.Client> {
  return open(p, step);
}

async function applySettings(client: pg.Client, opts: ConnectOptions): Promise<pg.Client> {
  try {
    if (opts.settings) {
      for (const [k, v] of Object.entries(opts.settings)) {
        await client.query(`SELECT set_config($1, $2, false)`, [k, String(v)]);
      }
    }
    return client;
  } catch (e) {
    await client.end().catch(() => undefined);
    throw e;
  }
}

async function open(p: ConnParams, step: string): Promise<pg.Client> {
  const key = `${p.host}:${p.port}`;
  const wantSsl = sslConfig(p);
  const tryPlainFirst = (p.sslmode === 'allow') || (p.sslmode === 'prefer' && noSslHosts.has(key));
  let client = new pg.Client(clientConfig(p, step, tryPlainFirst ? false : wantSsl));
  try {
    await client.connect();
  } catch (e) {
    // libpq's prefer/allow semantics: fall back to the other mode when the first attempt fails before
    // authentication (the server refused SSL, or demands it). node-postgres reports "no SSL" without a
    // SQLSTATE, so the fallback happens for any non-SQLSTATE failure in these two modes only.
    if ((p.sslmode === 'prefer' || p.sslmode === 'allow') && sqlStateOf(e) === undefined && !(e instanceof CutoverError) && !isSocketError(e)) {
      client = new pg.Client(clientConfig(p, step, tryPlainFirst ? wantSsl : false));
      try {
        await client.connect();
        if (!tryPlainFirst) noSslHosts.add(key);
      } catch (e2) {
        throw connectError(e2, p);
      }
    } else {
      throw connectError(e, p);
    }
  }
  // Connection-level errors after connect (server terminated the session) must not crash the process.
  client.on('error', () => undefined);
  return client;
}

function isSocketError(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^E[A-Z]+$/.test(code);
}

/** Maps a connection failure to a CutoverError with a hint. */
export function connectError(e: unknown, p: ConnParams): CutoverError {
  if (e instanceof CutoverError) return e;
  const where = redact(p);
  const raw = e instanceof Error ? scrub(e.message, [p.password]) : String(e);
  const state = sqlStateOf(e);
  const sock = (e as { code?: unknown } | null)?.code;
  if (state) {
    switch (classifySqlState(state)) {
      case 'auth':
        return new CutoverError('E_AUTH', `${where}: authentication failed (${raw})`, {
          cause: e,
          hint: p.passwordSource === 'none'
            ? 'no password was given: put it in ~/.pgpass, PGPASSWORD or the URL; or check pg_hba.conf'
            : `check the password (taken from ${p.passwordSource === 'conninfo' ? 'the connection string' : p.passwordSource}), that role "${p.user}" exists and pg_hba.conf admits it`,
          details: { sqlstate: state },
        });
      case 'no_database':
        return new CutoverError('E_NO_DATABASE', `${where}: database "${p.dbname}" does not exist`, {
          cause: e, hint: 'create it first, or fix dbname in the connection string', details: { sqlstate: state },
        });
      case 'no_slots':
        return new CutoverError('E_NO_SLOTS', `${where}: the server has no connection slot left (${raw})`, {
          cause: e, hint: 'the server, role or database connection limit is reached; run `cutover budget` to see who holds them',
          details: { sqlstate: state },
        });
      default:
        return new CutoverError('E_UNREACHABLE', `${where}: connection failed (${raw})`, { cause: e, details: { sqlstate: state } });
    }
  }
  if (sock === 'ECONNREFUSED') {
    return new CutoverError('E_UNREACHABLE', `${where}: nothing is listening at ${p.host}:${p.port}`, {
      cause: e, hint: 'check the host and port, and that the server is running and listens on that address',
    });
  }
  if (sock === 'ENOTFOUND' || sock === 'EAI_AGAIN') {
    return new CutoverError('E_UNREACHABLE', `${where}: host name "${p.host}" could not be resolved`, {
      cause: e, hint: 'check the host name and DNS',
    });
  }
  if (sock === 'ETIMEDOUT' || sock === 'EHOSTUNREACH' || sock === 'ENETUNREACH') {
    return new CutoverError('E_UNREACHABLE', `${where}: ${p.host}:${p.port} cannot be reached (${String(sock)})`, {
      cause: e, hint: 'check the network path and firewall rules',
    });
  }
  if (p.sslmode === 'require' || p.sslmode === 'verify-ca' || p.sslmode === 'verify-full') {
    return new CutoverError('E_SSL', `${where}: SSL connection failed (${raw})`, {
      cause: e, hint: `sslmode=${p.sslmode} needs a server with SSL enabled${p.sslmode !== 'require' ? ' and a certificate that sslrootcert trusts' : ''}`,
    });
  }
  return new CutoverError('E_UNREACHABLE', `${where}: connection failed (${raw})`, { cause: e });
}

/** The server process id of a client's session (node-postgres keeps it from BackendKeyData), if connected. */
export function backendPid(c: pg.Client | undefined): number | undefined {
  return (c as { processID?: number | null } | undefined)?.processID ?? undefined;
}

/** Runs fn with a connected client and always closes it. */
/**
 * Ends a session, at most waiting `ms`: node-postgres's end() on a connection that broke may never
 * settle, and a session left open keeps its locks (the applier's advisory lock: the next applier would
 * wait for it forever). After `ms` the socket is destroyed, which ends the backend's session too.
 */
export async function endWithin(c: pg.Client, ms = 5000): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const ended = await Promise.race([
    c.end().then(() => true, () => true),
    new Promise<boolean>((r) => { timer = setTimeout(() => r(false), ms); }),
  ]);
  clearTimeout(timer);
  if (!ended) (c as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy();
}

export async function withClient<T>(p: Endpoint, step: string, fn: (c: pg.Client) => Promise<T>, opts?: ConnectOptions): Promise<T> {
  const c = await connect(p, step, opts);
  try {
    return await fn(c);
  } finally {
    await c.end().catch(() => undefined);
  }
}

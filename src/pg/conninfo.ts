/**
 * Connection strings as libpq accepts them: URLs (postgres:// or postgresql://) and `key=value` strings,
 * completed from PG* environment variables and ~/.pgpass. The result is the only place a password lives;
 * everything that displays a connection goes through `redact`.
 */
import { userInfo } from 'node:os';
import { CutoverError } from '../errors.js';

export const SSL_MODES = ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'] as const;
export type SslMode = (typeof SSL_MODES)[number];

export interface ConnParams {
  host: string;
  port: number;
  user: string;
  dbname: string;
  password?: string;
  /** Where the password came from, for messages ("check the password in PGPASSWORD"). */
  passwordSource: 'conninfo' | 'PGPASSWORD' | 'pgpass' | 'none';
  sslmode: SslMode;
  sslrootcert?: string;
  sslcert?: string;
  sslkey?: string;
  connectTimeoutSec: number;
  /** The password file to look the password up in (libpq's passfile; PGPASSFILE; else ~/.pgpass). */
  passfile?: string;
}

/**
 * Keywords we accept, each honoured; anything else is rejected so a typo does not silently fall back to a
 * default. application_name is refused by name: cutover names its sessions itself (cutover/<step>), which
 * is how it finds, counts and cancels its own.
 */
const KEYWORDS = new Set([
  'host', 'hostaddr', 'port', 'user', 'dbname', 'password', 'sslmode', 'sslrootcert', 'sslcert', 'sslkey',
  'connect_timeout', 'passfile',
]);

/** Parses libpq's keyword/value format: `host=x port=5432 password='it''s' dbname = 'a b'`. */
export function parseKeywordValue(s: string): Record<string, string> {
  const out: Record<string, string> = {};
  let i = 0;
  const n = s.length;
  const skipWs = () => { while (i < n && /\s/.test(s[i]!)) i++; };
  while (true) {
    skipWs();
    if (i >= n) break;
    const k0 = i;
    while (i < n && !/[\s=]/.test(s[i]!)) i++;
    const key = s.slice(k0, i);
    skipWs();
    if (s[i] !== '=') throw new CutoverError('E_CONNINFO', `connection string: missing "=" after "${key}"`);
    i++;
    skipWs();
    let value = '';
    if (s[i] === "'") {
      i++;
      let closed = false;
      while (i < n) {
        const c = s[i]!;
        if (c === '\\' && i + 1 < n) { value += s[i + 1]; i += 2; continue; }
        if (c === "'") { closed = true; i++; break; }
        value += c; i++;
      }
      if (!closed) throw new CutoverError('E_CONNINFO', `connection string: unterminated quoted value for "${key}"`);
    } else {
      while (i < n && !/\s/.test(s[i]!)) {
        if (s[i] === '\\' && i + 1 < n) { value += s[i + 1]; i += 2; continue; }
        value += s[i]; i++;
      }
    }
    out[key] = value;
  }
  return out;
}

function parseUrl(s: string): Record<string, string> {
  let u: URL;
  try {
    u = new URL(s);
  } catch {
    throw new CutoverError('E_CONNINFO', 'connection URL is not a valid URL',
      { hint: 'use postgres://user@host:5432/dbname (percent-encode special characters in the password)' });
  }
  const out: Record<string, string> = {};
  if (u.hostname) out.host = decodeURIComponent(u.hostname.replace(/^\[|\]$/g, ''));
  if (u.port) out.port = u.port;
  if (u.username) out.user = decodeURIComponent(u.username);
  if (u.password) out.password = decodeURIComponent(u.password);
  const db = decodeURIComponent(u.pathname.replace(/^\//, ''));
  if (db) out.dbname = db;
  for (const [k, v] of u.searchParams) out[k] = v;
  return out;
}

export function isUrl(s: string): boolean {
  return /^postgres(ql)?:\/\//i.test(s.trim());
}

export interface ResolveOptions {
  env?: NodeJS.ProcessEnv;
}

/**
 * Turns a connection string into complete parameters: explicit values first, then PG* variables, then
 * libpq's defaults. The password file lookup is separate (`resolveEndpoint`, endpoint.ts) because it reads a file.
 */
/** A connection given as env:NAME whose variable is empty: the same message and remedy on the CLI and in a runbook. */
export function envNotSet(label: string, name: string): CutoverError {
  return new CutoverError('E_USAGE', `${label}: environment variable ${name} is not set`, {
    hint: `export ${name}=postgres://user@host:5432/db (password in ~/.pgpass or PGPASSWORD)`,
  });
}

export function parseConnString(s: string, opts: ResolveOptions = {}): ConnParams {
  const env = opts.env ?? process.env;
  const raw = isUrl(s) ? parseUrl(s.trim()) : parseKeywordValue(s);
  if (raw.application_name !== undefined) {
    throw new CutoverError('E_CONNINFO', 'connection string: application_name is not accepted: cutover names its own sessions (cutover/<step>), which is how it finds, counts and cancels them', {
      hint: 'remove application_name; in pg_stat_activity cutover\'s sessions show as cutover/copy, cutover/apply-source, ...',
    });
  }
  const unknown = Object.keys(raw).filter((k) => !KEYWORDS.has(k));
  if (unknown.length) {
    throw new CutoverError('E_CONNINFO', `connection string: unknown parameter(s) ${unknown.map((k) => `"${k}"`).join(', ')}`,
      { hint: `accepted: ${[...KEYWORDS].join(', ')}` });
  }
  const pick = (key: string, envName: string, dflt?: string): string | undefined =>
    raw[key] !== undefined && raw[key] !== '' ? raw[key] : env[envName] !== undefined && env[envName] !== '' ? env[envName] : dflt;

  const host = pick('hostaddr', 'PGHOSTADDR') ?? pick('host', 'PGHOST', 'localhost')!;
  const portStr = pick('port', 'PGPORT', '5432')!;
  const port = Number(portStr);
  if (!Number.isInteger(port) || port <= 0 || port > 65535) {
    throw new CutoverError('E_CONNINFO', `connection string: port "${portStr}" is not a valid port number`);
  }
  const user = pick('user', 'PGUSER', safeOsUser())!;
  const dbname = pick('dbname', 'PGDATABASE', user)!;
  const sslmodeStr = pick('sslmode', 'PGSSLMODE', 'prefer')!;
  if (!(SSL_MODES as readonly string[]).includes(sslmodeStr)) {
    throw new CutoverError('E_CONNINFO', `connection string: sslmode "${sslmodeStr}" is not one of ${SSL_MODES.join(', ')}`);
  }
  const timeoutStr = pick('connect_timeout', 'PGCONNECT_TIMEOUT', '10')!;
  const connectTimeoutSec = Number(timeoutStr);
  if (!Number.isFinite(connectTimeoutSec) || connectTimeoutSec < 0) {
    throw new CutoverError('E_CONNINFO', `connection string: connect_timeout "${timeoutStr}" is not a number of seconds`);
  }
  let password: string | undefined;
  let passwordSource: ConnParams['passwordSource'] = 'none';
  if (raw.password !== undefined) { password = raw.password; passwordSource = 'conninfo'; }
  else if (env.PGPASSWORD) { password = env.PGPASSWORD; passwordSource = 'PGPASSWORD'; }
  return {
    host, port, user, dbname, password, passwordSource,
    sslmode: sslmodeStr as SslMode,
    sslrootcert: pick('sslrootcert', 'PGSSLROOTCERT'),
    sslcert: pick('sslcert', 'PGSSLCERT'),
    sslkey: pick('sslkey', 'PGSSLKEY'),
    connectTimeoutSec,
    passfile: pick('passfile', 'PGPASSFILE'),
  };
}

function safeOsUser(): string {
  try { return userInfo().username; } catch { return 'postgres'; }
}

/** A URL of these parameters: `password` as given (never the real one), `query` the parameters after `?`. */
function urlOf(p: ConnParams, password: '****' | undefined, query: URLSearchParams): string {
  const host = p.host.includes(':') ? `[${p.host}]` : p.host;
  const auth = encodeURIComponent(p.user) + (password !== undefined ? `:${password}` : '');
  const isSocket = p.host.startsWith('/');
  if (isSocket) query.set('host', p.host);
  if (p.sslmode !== 'prefer') query.set('sslmode', p.sslmode);
  const qs = query.toString();
  return `postgres://${auth}@${isSocket ? '' : host}:${p.port}/${encodeURIComponent(p.dbname)}${qs ? `?${qs}` : ''}`;
}

/** Display form: never contains the password (its presence is shown as ****). */
export function redact(p: ConnParams): string {
  return urlOf(p, p.password !== undefined ? '****' : undefined, new URLSearchParams());
}

/**
 * A URL without the password, for child processes (a runbook's `sh` step: SOURCE_URL, TARGET_URL) that read
 * the password from PGPASSFILE instead: every other parameter that changes how they connect is kept.
 */
export function urlWithoutPassword(p: ConnParams): string {
  const q = new URLSearchParams();
  if (p.sslrootcert) q.set('sslrootcert', p.sslrootcert);
  if (p.sslcert) q.set('sslcert', p.sslcert);
  if (p.sslkey) q.set('sslkey', p.sslkey);
  if (p.connectTimeoutSec !== 10) q.set('connect_timeout', String(p.connectTimeoutSec));
  return urlOf(p, undefined, q);
}

/** Scrubs known secrets and anything shaped like a credential from text we did not write (stderr, errors). */
export function scrub(text: string, secrets: Iterable<string | undefined> = []): string {
  let out = text;
  for (const s of secrets) {
    if (s && s.length > 0) out = out.split(s).join('****');
  }
  out = out.replace(/(postgres(?:ql)?:\/\/[^:/@\s]*:)[^@\s]*@/gi, '$1****@');
  out = out.replace(/(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)/gi, '$1****');
  return out;
}

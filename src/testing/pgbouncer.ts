/**
 * A throwaway PgBouncer for tests, started like the clusters: Debian's `pgbouncer` binary (installed by
 * .ci/run), a free port on 127.0.0.1, its files in a temp dir, run as the unprivileged server user when we
 * are root (PgBouncer refuses root), stopped with the test run (and by a watchdog if the owner dies).
 * Clients authenticate to it with the passwords of its userlist; it logs in to the server with the
 * password given in each database entry (what a typical deployment with a fixed pool user does).
 */
import { spawn } from 'node:child_process';
import { chmod, chown, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { CutoverError } from '../errors.js';
import { parseConnString, type ConnParams } from '../pg/conninfo.js';
import { serverUser } from './run-as.js';
import { freePort } from './cluster.js';

export interface PgBouncerDatabase { host: string; port: number; dbname: string; user: string; password: string }

export interface PgBouncerOptions {
  /** [databases] entries: name -> server. */
  databases: Record<string, PgBouncerDatabase>;
  /** userlist: client user -> password. The admin user is added. */
  users: Record<string, string>;
  poolMode?: 'session' | 'transaction' | 'statement';
  poolSize?: number;
}

export interface PgBouncer {
  readonly host: string;
  readonly port: number;
  /** The pgbouncer.ini, writable by the test process (cutover's `pooler.ini` repoint rewrites it). */
  readonly ini: string;
  readonly adminUser: string;
  /** The admin console (`pgbouncer` database) as a user in admin_users. */
  adminParams(): ConnParams;
  adminUrl(): string;
  /** A client URL through the pooler. */
  url(db: string, user: string): string;
  log(): Promise<string>;
  stop(): Promise<void>;
}

const PGBOUNCER = ['/usr/sbin/pgbouncer', '/usr/bin/pgbouncer'];

export function findPgBouncer(): string | undefined {
  return PGBOUNCER.find((p) => existsSync(p));
}

const WATCHDOG = `
owner=$1; base=$2; pidfile=$3
while kill -0 "$owner" 2>/dev/null && [ -d "$base" ]; do sleep 1; done
[ -f "$pidfile" ] && kill -TERM "$(cat "$pidfile")" 2>/dev/null
sleep 1; rm -rf "$base"
`;

const q = (s: string) => s.replace(/'/g, "\\'");

export async function startPgBouncer(o: PgBouncerOptions): Promise<PgBouncer> {
  const bin = findPgBouncer();
  if (!bin) throw new CutoverError('E_HARNESS', 'pgbouncer is not installed', { hint: 'apt-get install pgbouncer (.ci/run does)' });
  const runAs = await serverUser();
  const base = await mkdtemp(join(tmpdir(), 'cutover-pgbouncer-'));
  const ini = join(base, 'pgbouncer.ini'), userlist = join(base, 'userlist.txt'), pidfile = join(base, 'pgbouncer.pid'), logfile = join(base, 'pgbouncer.log');
  const watchdog = spawn('sh', ['-c', WATCHDOG, 'watchdog', String(process.pid), base, pidfile], { detached: true, stdio: 'ignore' });
  watchdog.unref();
  const adminUser = 'pooler_admin';
  const adminPassword = `adm-${Math.random().toString(36).slice(2)}`;
  const users: Record<string, string> = { ...o.users, [adminUser]: adminPassword };
  await writeFile(userlist, Object.entries(users).map(([u, p]) => `"${u.replace(/"/g, '""')}" "${p.replace(/"/g, '""')}"`).join('\n') + '\n', { mode: 0o600 });
  let lastErr = '';
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort();
    const dbs = Object.entries(o.databases).map(([name, d]) =>
      `${name} = host=${d.host} port=${d.port} dbname=${d.dbname} user=${d.user} password='${q(d.password)}'`);
    await writeFile(ini, [
      '[databases]', ...dbs, '',
      '[pgbouncer]',
      'listen_addr = 127.0.0.1', `listen_port = ${port}`, `unix_socket_dir = ${base}`,
      `auth_type = scram-sha-256`, `auth_file = ${userlist}`, `admin_users = ${adminUser}`,
      `pool_mode = ${o.poolMode ?? 'transaction'}`, `default_pool_size = ${o.poolSize ?? 10}`, 'max_client_conn = 200',
      `logfile = ${logfile}`, `pidfile = ${pidfile}`,
      // node-postgres and pgbench send these at startup.
      'ignore_startup_parameters = extra_float_digits,options',
      'server_reset_query = DISCARD ALL', 'server_check_delay = 0', '',
    ].join('\n'), { mode: 0o600 });
    if (runAs) {
      await chown(base, runAs.uid, runAs.gid);
      for (const f of [ini, userlist]) await chown(f, runAs.uid, runAs.gid);
    }
    await chmod(base, 0o700);
    const r = await execa(bin, ['-d', ini], { reject: false, ...(runAs ? { uid: runAs.uid, gid: runAs.gid } : {}), cwd: base });
    // -d: forks into the background once listening; wait for the pid file.
    for (let i = 0; i < 50 && !existsSync(pidfile); i++) await new Promise((res) => setTimeout(res, 100));
    if (r.exitCode === 0 && existsSync(pidfile)) {
      const b: PgBouncer = {
        host: '127.0.0.1', port, ini, adminUser,
        adminUrl: () => `postgres://${adminUser}:${encodeURIComponent(adminPassword)}@127.0.0.1:${port}/pgbouncer?sslmode=disable`,
        adminParams: () => parseConnString(b.adminUrl(), { env: {} }),
        url: (db, user) => `postgres://${encodeURIComponent(user)}:${encodeURIComponent(users[user] ?? '')}@127.0.0.1:${port}/${encodeURIComponent(db)}?sslmode=disable`,
        log: () => readFile(logfile, 'utf8').catch(() => ''),
        async stop() {
          const pid = Number((await readFile(pidfile, 'utf8').catch(() => '')).trim());
          if (pid) {
            try { process.kill(pid, 'SIGTERM'); } catch { /* gone */ }
            for (let i = 0; i < 30; i++) {
              try { process.kill(pid, 0); } catch { break; }
              await new Promise((res) => setTimeout(res, 100));
            }
          }
          await rm(base, { recursive: true, force: true });
        },
      };
      return b;
    }
    lastErr = `${r.stderr}\n${await readFile(logfile, 'utf8').catch(() => '')}`;
  }
  await rm(base, { recursive: true, force: true });
  throw new CutoverError('E_HARNESS', `pgbouncer did not start: ${lastErr.slice(-2000)}`);
}

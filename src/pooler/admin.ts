/**
 * PgBouncer's admin console (the `pgbouncer` database, a user in admin_users): what cutover needs of it
 * to switch an application between servers without failing its transactions: SHOW DATABASES / CONFIG /
 * CLIENTS, PAUSE, RESUME, RELOAD. The console speaks the simple query protocol only and has no SET, so
 * the client is a plain one: no session settings, no parameters.
 */
import pg from 'pg';
import { CutoverError } from '../errors.js';
import { type ConnParams, redact } from '../pg/conninfo.js';
import { clientConfig, connectError } from '../pg/connect.js';
import { resolveEndpoint } from '../pg/endpoint.js';

export interface PoolerEntry {
  /** The [databases] entry name clients connect to. */
  name: string;
  host: string | null;
  port: number;
  /** The server database it points at. */
  database: string;
  poolMode: string | null;
  paused: boolean;
  /** The user the entry logs in to the server as (user= in [databases]); null: each client's own. */
  user: string | null;
}

export class PgBouncerAdmin {
  private constructor(private readonly c: pg.Client, readonly params: ConnParams) {}

  static async open(given: ConnParams): Promise<PgBouncerAdmin> {
    const p = await resolveEndpoint(given);
    if (p.dbname !== 'pgbouncer') {
      throw new CutoverError('E_USAGE', `the pooler connection must name the admin console database "pgbouncer", not "${p.dbname}" (${redact(p)})`, {
        hint: 'e.g. postgres://pgbouncer_admin@pooler:6432/pgbouncer, as a user listed in admin_users',
      });
    }
    const c = new pg.Client({ ...clientConfig(p, 'pooler', p.sslmode === 'disable' || p.sslmode === 'allow' || p.sslmode === 'prefer' ? false : { rejectUnauthorized: p.sslmode !== 'require' }) });
    try {
      await c.connect();
    } catch (e) {
      throw connectError(e, p);
    }
    c.on('error', () => undefined);
    const a = new PgBouncerAdmin(c, p);
    try {
      await a.databases();
    } catch (e) {
      await a.close();
      throw new CutoverError('E_PRIVILEGE', `${redact(p)}: not an admin of the pooler (${(e as Error).message})`, {
        cause: e, hint: `add "${p.user}" to admin_users in pgbouncer.ini (stats_users can only read)`,
      });
    }
    return a;
  }

  async databases(): Promise<PoolerEntry[]> {
    const { rows } = await this.c.query<Record<string, string | null>>('SHOW DATABASES');
    return rows.map((r) => ({
      name: r.name!, host: r.host ?? null, port: Number(r.port), database: r.database!, poolMode: r.pool_mode ?? null, paused: r.paused === '1',
      user: r.force_user || null,
    }));
  }

  async entry(name: string): Promise<PoolerEntry> {
    const all = await this.databases();
    const e = all.find((d) => d.name === name);
    if (!e) {
      throw new CutoverError('E_USAGE', `the pooler has no database entry "${name}" (it has: ${all.map((d) => d.name).filter((n) => n !== 'pgbouncer').join(', ') || 'none'})`, {
        hint: 'pooler.database names the [databases] entry the application connects to',
      });
    }
    return e;
  }

  async config(): Promise<Map<string, string>> {
    const { rows } = await this.c.query<{ key: string; value: string }>('SHOW CONFIG');
    return new Map(rows.map((r) => [r.key, r.value]));
  }

  /** Clients of a database entry and the longest a waiting one has waited (ms). */
  async clients(db: string): Promise<{ clients: number; waiting: number; maxWaitMs: number }> {
    const { rows } = await this.c.query<Record<string, string | null>>('SHOW CLIENTS');
    const mine = rows.filter((r) => r.database === db);
    const waits = mine.filter((r) => r.state === 'waiting' || r.state === 'cl_waiting')
      .map((r) => Number(r.wait ?? 0) * 1000 + Math.round(Number(r.wait_us ?? 0) / 1000));
    return { clients: mine.length, waiting: waits.length, maxWaitMs: waits.length ? Math.max(...waits) : 0 };
  }

  /** PAUSE waits until every server connection of the entry is idle (in-flight transactions ended). */
  async pause(db: string): Promise<void> { await this.c.query(`PAUSE ${ident(db)}`); }
  async resume(db: string): Promise<void> { await this.c.query(`RESUME ${ident(db)}`); }
  async reload(): Promise<void> { await this.c.query('RELOAD'); }

  async close(): Promise<void> { await this.c.end().catch(() => undefined); }
}

/** The console's parser takes a bare word or a double-quoted name. */
function ident(name: string): string {
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(name) ? name : `"${name.replace(/"/g, '""')}"`;
}

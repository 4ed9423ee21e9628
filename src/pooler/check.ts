/**
 * doctor's pooler checks (fence: pooler): reachable, admin rights, where the application's entry points,
 * pool mode and what it means for a pause, server_reset_query, and whether the entry's user can log in to
 * the target. Reads only: SHOW commands, and a catalog query on the target.
 */
import { describeError, isCutoverError } from '../errors.js';
import type { ConnParams } from '../pg/conninfo.js';
import { PgBouncerAdmin } from './admin.js';
import { pointsAt } from './switch.js';
import { withClient } from '../pg/connect.js';
import { resolveEndpoint } from '../pg/endpoint.js';

export interface PoolerCheck { id: string; status: 'ok' | 'warn' | 'fail'; message: string; hint?: string }

export async function checkPooler(o: { admin: ConnParams; database?: string; source: ConnParams; target: ConnParams }): Promise<PoolerCheck[]> {
  let a: PgBouncerAdmin;
  try {
    a = await PgBouncerAdmin.open(o.admin);
  } catch (e) {
    return [{ id: 'pooler', status: 'fail', message: isCutoverError(e) ? e.message : describeError(e), hint: isCutoverError(e) ? e.hint : undefined }];
  }
  try {
    const out: PoolerCheck[] = [];
    const entries = (await a.databases()).filter((d) => d.name !== 'pgbouncer');
    const cfg = await a.config();
    const where = (d: { host: string | null; port: number; database: string }) => `${d.host ?? '(socket)'}:${d.port}/${d.database}`;
    const onSource = entries.filter((d) => pointsAt(d, o.source));
    out.push({ id: 'pooler', status: 'ok', message: `pooler admin console reachable as ${o.admin.user}; entries: ${entries.map((d) => `${d.name} -> ${where(d)}`).join(', ') || 'none'}` });
    const entry = o.database ? entries.find((d) => d.name === o.database) : onSource[0];
    if (!entry) {
      out.push({
        id: 'pooler-entry', status: 'fail',
        message: o.database ? `the pooler has no entry "${o.database}"` : `no pooler entry points at the source (${o.source.host}:${o.source.port}/${o.source.dbname})`,
        hint: 'name the [databases] entry the application connects to (pooler.database)',
      });
      return out;
    }
    out.push(pointsAt(entry, o.source)
      ? { id: 'pooler-entry', status: 'ok', message: `entry "${entry.name}" points at the source (${where(entry)}); the switch repoints it to ${o.target.host}:${o.target.port}/${o.target.dbname}` }
      : { id: 'pooler-entry', status: 'fail', message: `entry "${entry.name}" points at ${where(entry)}, not at the source (${o.source.host}:${o.source.port}/${o.source.dbname})`, hint: 'fence: pooler refuses to start; name the entry the application uses for the source' });
    const mode = entry.poolMode ?? cfg.get('pool_mode') ?? 'session';
    out.push(mode === 'session'
      ? { id: 'pool-mode', status: 'warn', message: `entry "${entry.name}" uses session pooling: PAUSE waits until every client disconnects, which long-lived application connections never do`,
        hint: 'switch the entry to pool_mode=transaction for the cutover, or expect the pause to time out and resume on the source' }
      : { id: 'pool-mode', status: 'ok', message: `entry "${entry.name}" uses ${mode} pooling: PAUSE waits only for running ${mode === 'transaction' ? 'transactions' : 'statements'}; new ones queue in the pooler` });
    const reset = cfg.get('server_reset_query') ?? '';
    const always = cfg.get('server_reset_query_always') === '1';
    out.push({
      id: 'server-reset-query', status: 'ok',
      message: `server_reset_query = ${reset ? `'${reset}'` : '(none)'}${mode === 'transaction' && !always ? ' (not run in transaction pooling)' : ''}; ` +
        `cutover cannot see the pooler's network: the pooler host must reach ${o.target.host}:${o.target.port}, and the entry's user must be able to log in there`,
    });
    out.push(await checkTargetLogin(entry.user, o.target));
    return out;
  } finally {
    await a.close();
  }
}

/**
 * After the switch the pooler logs in to the target as the entry's user: that role must exist there, be
 * able to log in and connect to the database (checked through cutover's own target connection; whether
 * the pooler's host reaches the target's network, and the password in its auth file, cutover cannot see).
 */
async function checkTargetLogin(user: string | null, target: ConnParams): Promise<PoolerCheck> {
  if (!user) {
    return { id: 'pooler-target-login', status: 'warn', message: 'the entry has no user=: clients log in to the server with their own users, and each must exist on the target with the same password',
      hint: 'check the application\'s roles exist on the target (cutover copy brings grants, not roles or passwords)' };
  }
  const r = (await withClient(await resolveEndpoint(target), 'doctor-pooler', (c) => c.query<{ login: boolean; connect: boolean }>(
    `SELECT rolcanlogin AS login, has_database_privilege(oid, current_database(), 'CONNECT') AS connect FROM pg_roles WHERE rolname = $1`, [user]))).rows[0];
  if (r?.login && r.connect) {
    return { id: 'pooler-target-login', status: 'ok', message: `the entry's user ${user} exists on the target and may log in to ${target.dbname} (its password there must match the pooler's auth file)` };
  }
  return {
    id: 'pooler-target-login', status: 'fail',
    message: `after the switch the pooler logs in to the target as ${user}, which ${!r ? 'does not exist there' : !r.login ? 'cannot log in there (NOLOGIN)' : `may not connect to ${target.dbname}`}: every client would fail`,
    hint: `create the role on the target with the password the pooler uses (CREATE ROLE ${user} LOGIN PASSWORD ...), or repoint with a command that writes the target's credentials`,
  };
}

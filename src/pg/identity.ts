/**
 * Which database a connection reaches, readable without superuser. Used to refuse a source that is the
 * target (verify, copy, dump/restore, replicate, doctor) and to bind journals to the databases they
 * describe (resume against another database is refused).
 *
 * - `systemId`: pg_control_system().system_identifier, the cluster's identity from initdb (null where
 *   the function is not executable). A physical clone (a rehearsal copy made from a base backup) shares it.
 * - `startedAt`: pg_postmaster_start_time(), microseconds: two running servers practically never share it,
 *   so "same start time and same database oid" means the same database even when URLs differ
 *   (localhost vs 127.0.0.1, a DNS alias, a pooler). It changes when the server restarts, so journals bind
 *   to `systemId` + `dbOid` + `dbName` instead (see `sameBinding`).
 */
import type pg from 'pg';
import { CutoverError } from '../errors.js';
import type { ConnParams } from './conninfo.js';
import { redact } from './conninfo.js';

export interface DbIdentity {
  systemId: string | null;
  startedAt: string;
  dbOid: number;
  dbName: string;
  /** As given in the connection parameters (for messages). */
  host: string;
  port: number;
  serverVersionNum: number;
}

export async function databaseIdentity(c: pg.Client, p: Pick<ConnParams, 'host' | 'port'>): Promise<DbIdentity> {
  const { rows } = await c.query<{ started: string; oid: number; name: string; v: number; can: boolean }>(
    `SELECT (extract(epoch FROM pg_postmaster_start_time()) * 1000000)::bigint::text AS started,
            d.oid::int AS oid, d.datname AS name, current_setting('server_version_num')::int AS v,
            has_function_privilege('pg_control_system()', 'EXECUTE') AS can
       FROM pg_database d WHERE d.datname = current_database()`);
  const r = rows[0]!;
  let systemId: string | null = null;
  if (r.can) {
    systemId = (await c.query<{ id: string }>('SELECT system_identifier::text AS id FROM pg_control_system()')).rows[0]?.id ?? null;
  }
  return { systemId, startedAt: r.started, dbOid: r.oid, dbName: r.name, host: p.host, port: p.port, serverVersionNum: r.v };
}

/** The same database of the same running server (whatever URLs reached it). */
export function sameDatabase(a: DbIdentity, b: DbIdentity): boolean {
  return a.startedAt === b.startedAt && a.dbOid === b.dbOid && (a.systemId === null || b.systemId === null || a.systemId === b.systemId);
}

/** The identity a journal records: stable across server restarts. */
export interface DbBinding { systemId: string | null; dbOid: number; dbName: string; host: string; port: number }

export function bindingOf(id: DbIdentity): DbBinding {
  return { systemId: id.systemId, dbOid: id.dbOid, dbName: id.dbName, host: id.host, port: id.port };
}

/** Does `now` reach the database a journal recorded as `was`? Without a system id, host and port decide. */
export function sameBinding(was: DbBinding, now: DbBinding): boolean {
  if (was.dbOid !== now.dbOid || was.dbName !== now.dbName) return false;
  if (was.systemId && now.systemId) return was.systemId === now.systemId;
  return was.host === now.host && was.port === now.port;
}

export function describeBinding(b: DbBinding): string {
  return `database "${b.dbName}" (oid ${b.dbOid}) on ${b.host}:${b.port}${b.systemId ? `, system ${b.systemId}` : ''}`;
}

/** Throws before anything runs when source and target are one database. Never suggests dropping it. */
export function refuseSameDatabase(source: DbIdentity, target: DbIdentity, what: string, p: { source: ConnParams; target: ConnParams }): void {
  if (!sameDatabase(source, target)) return;
  throw new CutoverError('E_USAGE', `${what}: the source and the target are the same database ("${source.dbName}" on one server: ${redact(p.source)} and ${redact(p.target)})`, {
    hint: 'point --target (or the runbook\'s connections.target) at the new server; nothing was changed',
    details: { database: source.dbName, dbOid: source.dbOid },
  });
}

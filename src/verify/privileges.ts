/**
 * Owners and privileges (table, column, schema, sequence, function, type and default privileges) compared
 * as sets of lines, the source's role names mapped through the role map first (a role renamed on the
 * target is not a difference; a grant missing on the target is).
 */
import type pg from 'pg';
import { loadSql, unquoteIdent } from '../pg/sql.js';
import { type RoleMap, mapRole } from '../pg/role-map.js';

export interface PrivilegeDifference {
  object: string;
  /**
   * "owner alice" or "alice SELECT" (" WITH GRANT OPTION", " GRANTED BY bob" when bob, not the object's
   * owner, made the grant), in the target's role names.
   */
  entry: string;
  change: 'missing on target' | 'extra on target';
}

export interface PrivilegeResult {
  /** Lines compared (owners and grants, source side). */
  compared: number;
  differences: PrivilegeDifference[];
}

/** grantor: set only when a grant was made by a role other than the object's owner. */
interface Row { object: string; kind: 'owner' | 'grant'; role: string; privilege: string; grantable: boolean; initdb?: boolean; grantor?: string | null }


interface Line { object: string; entry: string; privilege: string; initdb: boolean }

async function lines(c: pg.Client, map: RoleMap | undefined, side: 'source' | 'target'): Promise<Map<string, Line>> {
  const { rows } = await c.query<Row>(loadSql(import.meta.url, 'sql/privileges.sql'));
  // A side in a cutover's write fence lacks the write privileges the fence revoked (until unfenced): they
  // count as its own (the source in a cutover; the old source, fenced since, in a rollback).
  if ((await c.query<{ ok: boolean }>(loadSql(import.meta.url, 'sql/fence-readable.sql'))).rows[0]!.ok) {
    rows.push(...(await c.query<Row>(loadSql(import.meta.url, 'sql/fence-revoked.sql'))).rows);
  }
  const out = new Map<string, Line>();
  for (const r of rows) {
    // Default privileges are labelled by the role they belong to: that name is mapped too (and written
    // the same way on both sides, unquoted).
    r.object = r.object.replace(/^default privileges of ("(?:[^"]|"")*"|[^\s"]+)/, (_m, q: string) =>
      `default privileges of ${map ? mapRole(map, unquoteIdent(q)) : unquoteIdent(q)}`);
    const role = map && r.role !== 'PUBLIC' ? mapRole(map, r.role) : r.role;
    const by = r.grantor ? ` GRANTED BY ${map ? mapRole(map, r.grantor) : r.grantor}` : '';
    const entry = r.kind === 'owner' ? `owner ${role}` : `${role} ${r.privilege}${r.grantable ? ' WITH GRANT OPTION' : ''}${by}`;
    out.set(`${r.object}\u0000${entry}`, { object: r.object, entry, privilege: r.privilege, initdb: r.initdb === true });
  }
  return out;
}

/** The privilege types this server knows (17 added MAINTAIN): what an owner has by default on each kind. */
async function known(c: pg.Client): Promise<Set<string>> {
  const { rows } = await c.query<{ p: string }>(
    `SELECT DISTINCT x.privilege_type AS p FROM unnest('{r,s,f,n,T}'::"char"[]) k CROSS JOIN LATERAL aclexplode(acldefault(k, 10)) x`);
  return new Set(rows.map((r) => r.p));
}

export async function comparePrivileges(source: pg.Client, target: pg.Client, roleMap?: RoleMap): Promise<PrivilegeResult> {
  const [s, t] = await Promise.all([lines(source, roleMap, 'source'), lines(target, undefined, 'target')]);
  // A privilege one server does not have (MAINTAIN before 17) cannot be missing on it.
  const [ks, kt] = [await known(source), await known(target)];
  const both = (v: { privilege: string }) => !v.privilege || (ks.has(v.privilege) && kt.has(v.privilege));
  for (const m of [s, t]) for (const [k, v] of m) if (!both(v)) m.delete(k);
  // The public schema as initdb made it on both sides (each its own version's default) is not a difference;
  // when either side's was changed, both are compared line by line.
  const atDefault = (m: Map<string, Line>) => [...m.values()].some((v) => v.initdb);
  if (atDefault(s) && atDefault(t)) for (const m of [s, t]) for (const [k, v] of m) if (v.initdb) m.delete(k);
  const differences: PrivilegeDifference[] = [];
  for (const [k, v] of s) if (!t.delete(k)) differences.push({ object: v.object, entry: v.entry, change: 'missing on target' });
  for (const v of t.values()) differences.push({ object: v.object, entry: v.entry, change: 'extra on target' });
  differences.sort((a, b) => a.object.localeCompare(b.object) || a.entry.localeCompare(b.entry));
  return { compared: s.size, differences };
}

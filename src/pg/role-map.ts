/**
 * The role map: source role name -> target role name, for owners, grants and default privileges
 * (copy, dump/restore, verify). A role without an entry maps to itself. From the runbook
 * (`roles: { map: { u4f8a: app } }`) or the CLI (`--role-map u4f8a=app`, repeatable).
 */
import { CutoverError } from '../errors.js';

export type RoleMap = ReadonlyMap<string, string>;

export const EMPTY_ROLE_MAP: RoleMap = new Map();

export function mapRole(map: RoleMap, role: string): string {
  return map.get(role) ?? role;
}

/** `old=new` pairs; every malformed pair and every role mapped twice is reported at once. */
export function parseRoleMapArgs(pairs: readonly string[]): RoleMap {
  const map = new Map<string, string>();
  const problems: string[] = [];
  for (const p of pairs) {
    const i = p.indexOf('=');
    const from = i > 0 ? p.slice(0, i) : '';
    const to = i > 0 ? p.slice(i + 1) : '';
    if (!from || !to) { problems.push(`"${p}" is not old=new`); continue; }
    if (map.has(from) && map.get(from) !== to) { problems.push(`"${from}" is mapped twice (${map.get(from)}, ${to})`); continue; }
    map.set(from, to);
  }
  if (problems.length) throw new CutoverError('E_USAGE', `--role-map: ${problems.join('; ')}`, { hint: 'e.g. --role-map u4f8a=app --role-map u4f8a_ro=app_readonly' });
  return map;
}

/** The copy's map the other way (new name -> old); a name mapped from two roles goes back to the first. */
export function invertRoleMap(map: RoleMap): RoleMap {
  const out = new Map<string, string>();
  for (const [from, to] of map) if (!out.has(to)) out.set(to, from);
  return out;
}

export function roleMapFromObject(o: Record<string, string> | undefined): RoleMap {
  return new Map(Object.entries(o ?? {}));
}

/**
 * What to do with roles that owners and grants need on the target: map them, create the missing ones
 * (NOLOGIN), or leave out the grants of missing ones. Without create or dropUnmapped, a missing role
 * stops a copy or restore before it starts.
 */
export interface RolesPolicy {
  map: RoleMap;
  create?: boolean;
  dropUnmapped?: boolean;
}

export const DEFAULT_ROLES_POLICY: RolesPolicy = { map: EMPTY_ROLE_MAP };

/**
 * Which roles the owners and grants of an archive need on the target, what to do about the missing ones
 * (refuse, create NOLOGIN, or leave their grants out), and applying the mapped statements. Planned from
 * the dump directory before anything is restored, so a copy or restore refuses before touching the
 * target; applied after the objects exist (owners, then grants, then default privileges).
 */
import { writeFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type pg from 'pg';
import { CutoverError } from '../errors.js';
import { loadSql, quoteIdent } from '../pg/sql.js';
import { classifySqlState, sqlStateOf } from '../pg/sqlstate.js';
import { runTool } from '../pg/run-tool.js';
import { type RolesPolicy, mapRole } from '../pg/role-map.js';
import { filterToc, parseToc } from './toc.js';
import { missingRolesError, neededRoles, type PrivilegeStatement, privilegeStatements, rewriteStatement } from './privileges.js';
import type { Endpoint } from '../pg/endpoint.js';

/** TOC entries holding data, not definitions: left out when rendering the owner and grant statements. */
const DATA_DESCS = new Set(['TABLE DATA', 'SEQUENCE SET', 'BLOBS', 'BLOB DATA', 'MATERIALIZED VIEW DATA', 'STATISTICS DATA']);

export interface PrivilegePlan {
  statements: PrivilegeStatement[];
  /**
   * Grants pg_dump attributes to another grantor (SET SESSION AUTHORIZATION): applied as that grantor
   * (mapped) where the target role may SET ROLE to it, else as granted by the owner (reported).
   */
  sessionAuthorizations: number;
  /** Target role names to create (NOLOGIN), with their source names. */
  create: { target: string; source: string }[];
  /** Source role names whose grants are left out (drop_unmapped). */
  drop: Set<string>;
  /** What the plan decided, for the log. */
  notes: string[];
}

export interface PlanOptions {
  dir: string;
  toolPath: string;
  target: Endpoint;
  policy: RolesPolicy;
  dropManagedHazards?: boolean;
  dropExtensions?: boolean;
  dropObjects?: Set<string>;
  /** The target session used to look roles up. */
  targetClient: pg.Client;
  /** Statements from elsewhere (the copy's large objects), planned with the archive's. */
  extra?: PrivilegeStatement[];
}

/** Renders the archive's owner and grant statements (pg_restore -l, then -f - of the definitions). */
export async function renderPrivilegeStatements(o: Omit<PlanOptions, 'targetClient' | 'policy' | 'extra'>): Promise<{ statements: PrivilegeStatement[]; sessionAuthorizations: number }> {
  const full = (await runTool(o.toolPath, ['-l', o.dir], o.target, 'privileges-list')).stdout;
  const { list } = filterToc(full, { dropManagedHazards: o.dropManagedHazards ?? true, dropExtensions: o.dropExtensions ?? false, dropObjects: o.dropObjects });
  const data = new Set(parseToc(list).filter((e) => DATA_DESCS.has(e.desc)).map((e) => e.line));
  const listFile = join(o.dir, '.privileges.list');
  await writeFile(listFile, list.split('\n').map((l) => (data.has(l) ? `;${l}` : l)).join('\n'));
  let script: string;
  try {
    script = (await runTool(o.toolPath, ['-f', '-', '-L', listFile, '--no-tablespaces', o.dir], o.target, 'privileges-render')).stdout;
  } finally {
    await rm(listFile, { force: true });
  }
  return privilegeStatements(script);
}

/** Renders the archive's owner and grant statements and decides what to do about every role they need. */
export async function planPrivileges(o: PlanOptions): Promise<PrivilegePlan> {
  const { statements, sessionAuthorizations } = await renderPrivilegeStatements(o);
  const all = [...statements, ...(o.extra ?? [])];
  return { ...(await decideRoles(neededRoles(all, o.policy.map), sessionAuthorizations, o.policy, o.targetClient)), statements: all };
}

export type RoleDecision = Omit<PrivilegePlan, 'statements'>;

/**
 * The roles a source database's objects need (owners, grantees, default privileges, policies, large
 * objects), read from its catalogs: quick, so a copy can refuse before anything else happens.
 */
export async function neededRolesFromCatalog(src: pg.Client, map: RolesPolicy['map']): Promise<Map<string, { source: string; uses: string[] }>> {
  const { rows } = await src.query<{ role: string; how: string; object: string }>(loadSql(import.meta.url, 'sql/roles-used.sql'));
  const out = new Map<string, { source: string; uses: string[] }>();
  for (const r of rows) {
    const t = mapRole(map, r.role);
    const e = out.get(t) ?? { source: r.role, uses: [] };
    e.uses.push(`${r.how} ${r.object}`);
    out.set(t, e);
  }
  return out;
}

/**
 * Roles (target names) that own something and exist on the target but that the connected role cannot
 * give ownership to (not a member; PostgreSQL 16+: without SET): the owners' statements would fail at the
 * end of a copy or restore, after all the data.
 */
export async function unreachableOwners(c: pg.Client, needed: Map<string, { source: string; uses: string[] }>): Promise<{ target: string; source: string; uses: string[] }[]> {
  const owners = [...needed].filter(([, v]) => v.uses.some((u) => u.startsWith('owns ')));
  if (!owners.length) return [];
  const { rows } = await c.query<{ role: string }>(loadSql(import.meta.url, 'sql/owner-roles-unreachable.sql'), [owners.map(([t]) => t)]);
  const bad = new Set(rows.map((r) => r.role));
  return owners.filter(([t]) => bad.has(t)).map(([target, v]) => ({ target, source: v.source, uses: v.uses.filter((u) => u.startsWith('owns ')) }));
}

export function unreachableOwnersError(bad: { target: string; source: string; uses: string[] }[], me: string): CutoverError {
  return new CutoverError('E_PRIVILEGE', `${me} cannot make ${bad.length} role(s) owners on the target (it is not a member of them, with SET on PostgreSQL 16+): ` +
    bad.map((b) => `${b.target}${b.source !== b.target ? ` (for ${b.source})` : ''}: ${b.uses.slice(0, 3).join('; ')}${b.uses.length > 3 ? `; ... (${b.uses.length} in all)` : ''}`).join('; '), {
    hint: `GRANT ${bad.map((b) => quoteIdent(b.target)).join(', ')} TO ${quoteIdent(me)} on the target as an administrator, map the owners to roles ${me} may become (roles: { map }), or copy without privileges; nothing was copied`,
  });
}

export async function decideRoles(needed: Map<string, { source: string; uses: string[] }>, sessionAuthorizations: number, policy: RolesPolicy, c: pg.Client): Promise<RoleDecision> {
  const { rows } = await c.query<{ rolname: string }>('SELECT rolname::text AS rolname FROM pg_roles WHERE rolname = ANY($1::text[])', [[...needed.keys()]]);
  const have = new Set(rows.map((r) => r.rolname));
  // Owners the connected role cannot become fail the owner statements at the very end: refused now.
  const bad = await unreachableOwners(c, needed);
  if (bad.length) throw unreachableOwnersError(bad, (await c.query<{ me: string }>('SELECT current_user::text AS me')).rows[0]!.me);
  const missing = [...needed].filter(([t]) => !have.has(t)).map(([target, v]) => ({ target, ...v }));
  const plan: RoleDecision = { sessionAuthorizations, create: [], drop: new Set(), notes: [] };
  if (sessionAuthorizations) plan.notes.push(`${sessionAuthorizations} grant(s) made on the source by a role other than the object's owner: applied as granted by that role (mapped) where the target role may SET ROLE to it, otherwise as granted by the owner (each reported)`);
  if (!missing.length) return plan;
  // A role mapped to a name the target lacks is a mistake in the map: never created or dropped silently.
  const badMap = missing.filter((m) => policy.map.has(m.source));
  if (badMap.length) {
    throw new CutoverError('E_PREFLIGHT', `the role map names role(s) that do not exist on the target: ${badMap.map((m) => `${m.source} -> ${m.target}`).join(', ')}`, {
      hint: 'create those roles on the target first, or correct the role map',
    });
  }
  if (policy.create) {
    const me = (await c.query<{ ok: boolean; name: string }>('SELECT (rolsuper OR rolcreaterole) AS ok, rolname::text AS name FROM pg_roles WHERE rolname = current_user')).rows[0]!;
    if (!me.ok) {
      throw new CutoverError('E_PRIVILEGE', `roles: create needs CREATEROLE on the target, which ${me.name} lacks (missing: ${missing.map((m) => m.target).join(', ')})`, {
        hint: `ALTER ROLE ${quoteIdent(me.name)} CREATEROLE as an administrator, create the roles yourself, or map them`,
      });
    }
    plan.create = missing.map((m) => ({ target: m.target, source: m.source }));
    plan.notes.push(`creating ${missing.length} role(s) on the target as NOLOGIN: ${missing.map((m) => m.target).join(', ')}`);
    return plan;
  }
  if (policy.dropUnmapped) {
    plan.drop = new Set(missing.map((m) => m.source));
    plan.notes.push(`leaving out the ownership and grants of ${missing.length} role(s) missing on the target: ` +
      missing.map((m) => `${m.source} (${m.uses.length} statement(s))`).join(', ') + '; objects they owned belong to the migrating role');
    return plan;
  }
  throw missingRolesError(missing, 'target');
}

export interface SourceRole { name: string; attrs: string[]; connLimit: number; inherit: boolean; memberOf: string[] }

/** Attributes of the source's roles, for creating missing ones (read without superuser: pg_roles). */
export async function sourceRoles(c: pg.Client, names: string[]): Promise<Map<string, SourceRole>> {
  const { rows } = await c.query<{ name: string; super: boolean; createrole: boolean; createdb: boolean; replication: boolean; bypassrls: boolean; login: boolean; inherit: boolean; connlimit: number; member_of: string[] }>(
    loadSql(import.meta.url, 'sql/source-roles.sql'), [names]);
  return new Map(rows.map((r) => [r.name, {
    name: r.name, connLimit: r.connlimit, inherit: r.inherit, memberOf: r.member_of,
    attrs: [r.super && 'SUPERUSER', r.createrole && 'CREATEROLE', r.createdb && 'CREATEDB', r.replication && 'REPLICATION', r.bypassrls && 'BYPASSRLS', r.login && 'LOGIN'].filter((x): x is string => !!x),
  }]));
}

/**
 * A created role gets the memberships it had on the source (groups mapped; privileges that reach it
 * through a group are part of what the copy must bring). A group missing on the target, or one the
 * migrating role may not grant (16+: it needs ADMIN OPTION on it), is reported, not forced.
 */
async function grantMemberships(c: pg.Client, role: string, groups: string[], policy: RolesPolicy): Promise<string[]> {
  const notes: string[] = [];
  for (const g of groups.map((x) => mapRole(policy.map, x))) {
    if (!(await c.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [g])).rowCount) {
      notes.push(`role ${role}: member of ${g} on the source, which does not exist on the target: not made a member`);
      continue;
    }
    if ((await c.query('SELECT 1 FROM pg_auth_members m WHERE m.roleid = to_regrole($1) AND m.member = to_regrole($2)', [quoteIdent(g), quoteIdent(role)])).rowCount) continue;
    try {
      await c.query(`GRANT ${quoteIdent(g)} TO ${quoteIdent(role)}`);
      notes.push(`role ${role}: made a member of ${g}, as on the source`);
    } catch (e) {
      notes.push(`role ${role}: not made a member of ${g} (${(e as Error).message}): grant it as a role with ADMIN OPTION on ${g}`);
    }
  }
  return notes;
}

export interface ApplyResult {
  owners: number; grants: number; defaultPrivileges: number; policies: number; rolesCreated: string[]; skipped: number; notes: string[];
  /** Grants made on the source by a non-owner grantor: applied as that grantor (mapped), or as the owner's (each in notes). */
  grantors: { kept: number; asOwner: number };
}

// Warnings a GRANT/REVOKE gives instead of failing when the role running it lacks the grant option:
// privilege_not_granted, privilege_not_revoked.
const NOT_GRANTED = new Set(['01007', '01006']);

/**
 * Runs a grant as `grantor` (SET ROLE inside a savepoint), so that the target's ACL names the grantor the
 * source's does. Returns why it could not (nothing changed then), or undefined when it was applied.
 */
async function grantAs(c: pg.Client, grantor: string, sql: string): Promise<string | undefined> {
  const may = (await c.query<{ exists: boolean; may: boolean }>(
    `SELECT r.oid IS NOT NULL AS exists, coalesce(pg_has_role(r.oid, 'MEMBER'), false) AS may FROM (SELECT to_regrole($1) AS oid) r`, [quoteIdent(grantor)])).rows[0]!;
  if (!may.exists) return `role ${grantor} does not exist on the target`;
  if (!may.may) return `the target role is not a member of ${grantor} (nor a superuser), so it cannot SET ROLE to it`;
  const warnings: string[] = [];
  const onNotice = (n: { code?: string; message?: string }) => { if (n.code && NOT_GRANTED.has(n.code)) warnings.push(n.message ?? n.code); };
  c.on('notice', onNotice);
  await c.query('SAVEPOINT cutover_grantor');
  try {
    await c.query(`SET ROLE ${quoteIdent(grantor)}`);
    await c.query(sql);
    await c.query('RESET ROLE');
    if (warnings.length) throw Object.assign(new Error(`${grantor} lacks the grant option on the target: ${warnings.join('; ')}`), { notGranted: true });
    await c.query('RELEASE SAVEPOINT cutover_grantor');
    return undefined;
  } catch (e) {
    const state = sqlStateOf(e);
    if (!(e as { notGranted?: boolean }).notGranted && !['privilege', 'undefined_object'].includes(classifySqlState(state))) throw e;
    await c.query('ROLLBACK TO SAVEPOINT cutover_grantor');
    await c.query('RELEASE SAVEPOINT cutover_grantor');
    return (e as Error).message;
  } finally {
    c.off('notice', onNotice);
  }
}

/**
 * Creates the planned roles (NOLOGIN, never a password; elevated attributes reported, not attempted;
 * memberships granted where the group exists and may be granted), then applies owners, grants and default privileges with the roles mapped, in one
 * transaction.
 */
export async function applyPrivileges(c: pg.Client, plan: PrivilegePlan, policy: RolesPolicy, source?: Map<string, SourceRole>): Promise<ApplyResult> {
  const r: ApplyResult = { owners: 0, grants: 0, defaultPrivileges: 0, policies: 0, rolesCreated: [], skipped: 0, notes: [...plan.notes], grantors: { kept: 0, asOwner: 0 } };
  for (const role of plan.create) {
    const s = source?.get(role.source);
    const exists = (await c.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [role.target])).rowCount;
    if (!exists) {
      await c.query(`CREATE ROLE ${quoteIdent(role.target)} NOLOGIN${s && !s.inherit ? ' NOINHERIT' : ''}${s && s.connLimit >= 0 ? ` CONNECTION LIMIT ${s.connLimit}` : ''}`);
      r.rolesCreated.push(role.target);
    }
    if (s?.attrs.length) r.notes.push(`role ${role.target}: not given ${s.attrs.join(', ')} (the source's attributes; set them by hand if needed; LOGIN needs a password you choose)`);
    if (s?.memberOf.length) r.notes.push(...await grantMemberships(c, role.target, s.memberOf, policy));
  }
  await c.query('BEGIN');
  try {
    // Policies first: they are created by the table's owner, which is the migrating role until the
    // owner statements give the tables away.
    for (const kind of ['policy', 'owner', 'acl', 'default-acl'] as const) {
      for (const st of plan.statements.filter((x) => x.kind === kind)) {
        const sql = rewriteStatement(st, policy.map, plan.drop);
        if (sql === undefined) { r.skipped++; continue; }
        // A policy is created, not granted: a second run (a resume) finds it there.
        if (st.policy && (await c.query('SELECT 1 FROM pg_policy WHERE polrelid = $1::regclass AND polname = $2', [st.policy.table, st.policy.name])).rowCount) {
          r.policies++;
          continue;
        }
        try {
          // A grant made by another grantor on the source is made by it (mapped) here, where the target
          // role may become it; otherwise, as before, by the owner, and said so.
          let applied = false;
          if (kind === 'acl' && st.grantor !== undefined) {
            const grantor = mapRole(policy.map, st.grantor);
            const why = plan.drop.has(st.grantor) ? `${st.grantor}'s own privileges were left out (drop_unmapped)` : await grantAs(c, grantor, sql);
            if (why === undefined) { applied = true; r.grantors.kept++; } else {
              r.grantors.asOwner++;
              r.notes.push(`privileges on ${st.object} granted by ${st.grantor}${grantor !== st.grantor ? ` (${grantor} on the target)` : ''} on the source: applied as granted by the owner (${why})`);
            }
          }
          if (!applied) await c.query(sql);
        } catch (e) {
          const what = kind === 'owner' ? `the owner of ${st.object}` : kind === 'policy' ? st.object : `privileges on ${st.object}`;
          throw new CutoverError('E_SQL', `applying ${what} failed: ${(e as Error).message}\n  ${sql}`, {
            hint: kind === 'owner'
              ? `the target role must be a member of ${st.roles.map((x) => mapRole(policy.map, x)).join(', ')} (or a superuser) to give it objects`
              : 'the target role must own the object or be a member of its owner',
            cause: e,
          });
        }
        if (kind === 'owner') r.owners++; else if (kind === 'acl') r.grants++; else if (kind === 'policy') r.policies++; else r.defaultPrivileges++;
      }
    }
    await c.query('COMMIT');
  } catch (e) {
    await c.query('ROLLBACK').catch(() => undefined);
    throw e;
  }
  return r;
}

/**
 * Doctor's checks for what a copy must bring besides rows: the roles that owners and grants need on the
 * target (mapped, created or dropped), tables whose rows row-level security hides from the migrating
 * role, and extensions at the source's version on the target.
 */
import type { Check } from './doctor.js';
import type { Endpoint } from '../pg/endpoint.js';
import { withClient } from '../pg/connect.js';
import { loadSql, qualify } from '../pg/sql.js';
import { mapRole, type RolesPolicy } from '../pg/role-map.js';
import { describeSetting, readDbSettings, rlsBlockedTables, rlsRemedy } from '../dump/copy/fidelity.js';
import { unreachableOwners, unreachableOwnersError } from '../dump/roles.js';

const short = (xs: string[], max = 5) => xs.slice(0, max).join('; ') + (xs.length > max ? `; ... (${xs.length} in all)` : '');

export async function checkRoles(source: Endpoint, target: Endpoint, policy: RolesPolicy | undefined, checks: Check[]): Promise<void> {
  const map = policy?.map ?? new Map<string, string>();
  const uses = await withClient(source, 'doctor-roles', async (c) =>
    (await c.query<{ role: string; how: string; object: string }>(loadSql(import.meta.url, '../dump/sql/roles-used.sql'))).rows);
  const byRole = new Map<string, string[]>();
  for (const u of uses) byRole.set(u.role, [...(byRole.get(u.role) ?? []), `${u.how} ${u.object}`]);
  const needed = new Map<string, { source: string; uses: string[] }>();
  for (const [r, u] of byRole) needed.set(mapRole(map, r), { source: r, uses: [...(needed.get(mapRole(map, r))?.uses ?? []), ...u] });
  const { have, canCreate, me, unreachable } = await withClient(target, 'doctor-roles', async (c) => {
    const r = await c.query<{ rolname: string }>('SELECT rolname::text AS rolname FROM pg_roles');
    const m = (await c.query<{ ok: boolean; name: string }>('SELECT (rolsuper OR rolcreaterole) AS ok, rolname::text AS name FROM pg_roles WHERE rolname = current_user')).rows[0]!;
    return { have: new Set(r.rows.map((x) => x.rolname)), canCreate: m.ok, me: m.name, unreachable: await unreachableOwners(c, needed) };
  });
  // The copy's and restore's owner statements come last, after the data: a role the target's role cannot
  // become would fail them then (the copy now refuses it before starting).
  if (unreachable.length) {
    const e = unreachableOwnersError(unreachable, me);
    checks.push({ id: 'role-ownership', side: 'target', status: 'fail', message: e.message, hint: e.hint });
  }
  const missing = [...byRole.keys()].filter((r) => !have.has(mapRole(map, r)));
  const badMap = missing.filter((r) => map.has(r));
  const unmapped = missing.filter((r) => !map.has(r));
  const mapped = [...byRole.keys()].filter((r) => map.has(r) && have.has(mapRole(map, r)));
  if (badMap.length) {
    checks.push({
      id: 'role-map', side: 'target', status: 'fail',
      message: `the role map names role(s) missing on the target: ${badMap.map((r) => `${r} -> ${mapRole(map, r)}`).join(', ')}`,
      hint: 'create them on the target first, or correct the map',
    });
  }
  if (!unmapped.length) {
    checks.push({ id: 'roles', side: 'target', status: 'ok', message: `every role that owns or is granted something (${byRole.size}) exists on the target${mapped.length ? ` (${mapped.length} through the role map)` : ''}` });
    return;
  }
  const list = unmapped.map((r) => `${r}: ${short(byRole.get(r)!)}`).join('\n  ');
  if (policy?.create) {
    checks.push(canCreate
      ? { id: 'roles', side: 'target', status: 'warn', message: `${unmapped.length} role(s) missing on the target will be created NOLOGIN (roles: create):\n  ${list}` }
      : {
        id: 'roles', side: 'target', status: 'fail',
        message: `roles: create needs CREATEROLE on the target, which ${me} lacks; missing:\n  ${list}`,
        hint: `ALTER ROLE ${me} CREATEROLE as an administrator, create the roles yourself, or map them`,
      });
    return;
  }
  if (policy?.dropUnmapped) {
    checks.push({ id: 'roles', side: 'target', status: 'warn', message: `${unmapped.length} role(s) missing on the target: their ownership and grants will be left out (roles: drop_unmapped):\n  ${list}` });
    return;
  }
  checks.push({
    id: 'roles', side: 'target', status: 'fail',
    message: `${unmapped.length} role(s) own or are granted objects on the source but do not exist on the target:\n  ${list}`,
    hint: 'map them (roles: { map: { old: new } } / --role-map old=new), create them (roles: { create: true }, needs CREATEROLE), or leave their grants out (roles: { drop_unmapped: true })',
  });
}

export async function checkRowSecurity(source: Endpoint, checks: Check[]): Promise<void> {
  const { blocked, role } = await withClient(source, 'doctor-rls', async (c) => ({
    blocked: await rlsBlockedTables(c), role: (await c.query<{ r: string }>('SELECT current_user::text AS r')).rows[0]!.r,
  }));
  checks.push(blocked.length
    ? {
      id: 'row-security', side: 'source', status: 'fail',
      message: `row-level security hides rows of ${blocked.length} table(s) from ${role}: ${blocked.map((t) => `${qualify(t.schema, t.name)}${t.forced && t.isOwner ? ' (FORCE applies to its owner)' : ` (owned by ${t.owner})`}`).join(', ')}; the copy would refuse them`,
      hint: rlsRemedy(role, blocked),
    }
    : { id: 'row-security', side: 'source', status: 'ok', message: `${role} reads every row of every table (no row-level security applies to it)` });
}

export async function checkExtensionVersions(source: Endpoint, target: Endpoint, checks: Check[]): Promise<void> {
  const exts = await withClient(source, 'doctor-ext', async (c) =>
    (await c.query<{ name: string; version: string; trusted_needed: boolean }>(loadSql(import.meta.url, 'sql/extensions-source.sql'))).rows);
  if (!exts.length) return;
  const avail = await withClient(target, 'doctor-ext', async (c) =>
    (await c.query<{ name: string; version: string; superuser: boolean; trusted: boolean; me_super: boolean }>(
      loadSql(import.meta.url, 'sql/extensions-available.sql'), [exts.map((e) => e.name)])).rows);
  const problems: string[] = [], notes: string[] = [];
  for (const e of exts) {
    const vs = avail.filter((a) => a.name === e.name);
    if (!vs.length) continue; // the extensions check reports it
    const same = vs.find((v) => v.version === e.version);
    const v = same ?? vs[0]!;
    if (v.superuser && !v.trusted && !v.me_super) problems.push(`${e.name} needs a superuser to create on the target (not trusted)`);
    if (!same) notes.push(`${e.name} ${e.version} is not available on the target (it has ${vs.map((x) => x.version).join(', ')}): the copy creates its default version`);
  }
  checks.push(problems.length
    ? { id: 'extension-versions', side: 'target', status: 'fail', message: problems.join('; '), hint: 'install or allow-list them on the target, or drop them on the source' }
    : notes.length
      ? { id: 'extension-versions', side: 'target', status: 'warn', message: notes.join('; '), hint: 'check the extension\'s upgrade notes; ALTER EXTENSION ... UPDATE on the source first if you want the same version' }
      : { id: 'extension-versions', side: 'target', status: 'ok', message: `every source extension is available at the same version on the target and creatable (${exts.map((e) => `${e.name} ${e.version}`).join(', ')})` });
}

/** Database/role settings (reported; applied with settings: apply) and objects a managed target refuses. */
export async function checkSettingsAndHazards(source: Endpoint, target: Endpoint | undefined, policy: RolesPolicy | undefined, checks: Check[]): Promise<void> {
  const { settings, hazards } = await withClient(source, 'doctor-settings', async (c) => ({
    settings: await readDbSettings(c),
    hazards: (await c.query<{ kind: string; object: string; owner: string }>(loadSql(import.meta.url, 'sql/managed-hazards.sql'))).rows,
  }));
  if (settings.length) {
    checks.push({
      id: 'settings', side: 'source', status: 'warn',
      message: `${settings.length} database/role setting(s) on the source: ${short(settings.map(describeSetting), 8)}`,
      hint: 'the copy reports them; `settings: apply` (copy --apply-settings) applies them on the target, roles mapped',
    });
  }
  const cfun = hazards.filter((h) => h.kind === 'c-function').map((h) => h.object);
  if (cfun.length) {
    checks.push({
      id: 'c-functions', side: 'source', status: 'fail',
      message: `${cfun.length} function(s) in C not provided by an extension: ${short(cfun)}; creating them needs superuser, so the schema restore stops on the first`,
      hint: 'install the extension or library that provides them on the target (or drop them on the source), then copy',
    });
  }
  const left = hazards.filter((h) => h.kind === 'left-out').map((h) => h.object);
  if (left.length) {
    checks.push({
      id: 'left-out', side: 'source', status: 'warn',
      message: `${left.length} object(s) a managed target refuses to an ordinary role are left out of the copy (never half-created): ${short(left)}`,
      hint: 'recreate them on the target by hand, as a role allowed to, after the move (pg_dump --schema-only of the source has their definitions)',
    });
  }
  const su = hazards.filter((h) => h.kind === 'superuser-owned');
  if (su.length) {
    const owners = [...new Set(su.map((h) => h.owner))];
    let targetHas = new Set<string>();
    if (target) {
      targetHas = await withClient(target, 'doctor-settings', async (c) =>
        new Set((await c.query<{ r: string }>(`SELECT rolname::text AS r FROM pg_roles WHERE rolname = ANY($1::text[])`, [owners.map((o) => mapRole(policy?.map ?? new Map(), o))])).rows.map((x) => x.r)));
    }
    checks.push({
      id: 'superuser-owned', side: 'source', status: 'warn',
      message: `${su.length} object(s) owned by a superuser (${owners.join(', ')}): ${short(su.map((h) => h.object))}; on the target they are given to ` +
        owners.map((o) => `${mapRole(policy?.map ?? new Map(), o)}${targetHas.has(mapRole(policy?.map ?? new Map(), o)) ? '' : ' (missing there: see the roles check)'}`).join(', '),
      hint: 'map the superuser to the application\'s owner role on the target (roles: { map: { postgres: app } }) if the managed target has no such superuser',
    });
  }
}

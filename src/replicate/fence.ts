/**
 * The write fence of a cutover (sql/fence.sql): statement triggers on every table of the source database
 * that refuse writes from anyone, whatever role or grant they write through, plus a witness trigger that
 * notes a write that got past. Kinds:
 *   triggers   the fence alone (the default: it depends on no list of roles);
 *   revoke     also REVOKE the write privileges of `roles` (validated: they exist and hold some);
 *   read-only  also make `roles` read only by default and end their sessions (reconnections pick it up);
 *   manual     the operator stopped writes; cutover installs only the witness and fails the cutover if
 *              anything is written after the confirmation;
 *   pooler     PgBouncer pauses the application first (src/pooler/switch.ts), then the same triggers.
 * Everything is planned and checked before anything changes (`planFence`); the fence lives in its own
 * schema so that it outlives teardown, and `unfence` lifts exactly what it set.
 */
import { FENCE_SCHEMA } from '../pg/private-schema.js';
import type pg from 'pg';
import { CutoverError } from '../errors.js';
import type { ConnParams } from '../pg/conninfo.js';
import { withClient } from '../pg/connect.js';
import { resolveEndpoint } from '../pg/endpoint.js';
import { loadSql } from '../pg/sql.js';
import { closeMatches } from '../lib/similar.js';
import { classifySqlState, sqlStateOf } from '../pg/sqlstate.js';
import { withLock } from './lock.js';

export const FENCES = ['triggers', 'revoke', 'read-only', 'manual', 'pooler'] as const;
/** A fence's kind (the name is the library's: `CutoverOptions.fence`). */
export type Fence = (typeof FENCES)[number];

/**
 * The write fence as the cutover (and doctor, unfence, rollback) use it: planned and checked before
 * anything changes, installed, asked what got past it, lifted. The pooler's pause (fence 'pooler') is
 * src/pooler/switch.ts, which the cutover runs before `install`. A new kind is a member of FENCES plus
 * its branch in `planFence`/`installFence` and sql/fence.sql; the cutover needs no change.
 */
export interface WriteFence {
  /** Who and what the fence would stop, and every reason it would not hold (nothing changes). */
  plan(c: pg.Client, kind: Fence, roles?: readonly string[]): Promise<FencePlan>;
  /** Refuses (E_FENCE) a plan with problems. */
  assert(plan: FencePlan): void;
  /** Installs the planned fence (idempotent: one in place is completed). */
  install(c: pg.Client, plan: FencePlan, o: { waitMs: number; note: (m: string) => void }): Promise<InstalledFence>;
  /** Writes seen after the fence held. */
  breaches(c: pg.Client): Promise<Breach[]>;
  /** The fence on this server, or none. */
  state(c: pg.Client): Promise<FenceState | undefined>;
  /** The statements that lift it (for journals). */
  liftStatements(c: pg.Client): Promise<string[]>;
  /** Lifts exactly what it set. */
  lift(source: ConnParams, o?: { note?: (m: string) => void; window?: boolean }): Promise<UnfenceResult>;
}

export interface FenceTable {
  rel: string;
  owner: string;
  /** The connected role owns it (or is a member of its owner): it can add the fence's triggers and drop them again. */
  canFence: boolean;
  /** Owned: the fence is ENABLE ALWAYS (fires under session_replication_role = replica too). */
  owned: boolean;
  extensionMember: boolean;
  publicWrites: boolean;
  /** Login roles (not superusers) that can write it, through any grant. */
  writers: string[];
}

export interface FenceRole { name: string; exists: boolean; superuser: boolean | null; revocable: number }

export interface FencePlan {
  kind: Fence;
  tables: FenceTable[];
  roles: FenceRole[];
  /** Each makes the fence refuse to start (nothing changed). */
  problems: string[];
  /** Said, not refused (extension tables that cannot be fenced, manual fences that cannot watch a table). */
  warnings: string[];
}

/** Which roles can write how many tables: "app_writer (9 tables), PUBLIC (1 table: app.x)". */
export function describeWriters(tables: FenceTable[]): string {
  const by = new Map<string, string[]>();
  for (const t of tables) {
    for (const w of t.writers) by.set(w, [...(by.get(w) ?? []), t.rel]);
    if (t.publicWrites) by.set('PUBLIC', [...(by.get('PUBLIC') ?? []), t.rel]);
  }
  if (!by.size) return 'no login role other than superusers can write any table';
  return [...by].sort((a, b) => b[1].length - a[1].length || a[0].localeCompare(b[0]))
    .map(([r, ts]) => `${r} (${ts.length} table${ts.length === 1 ? '' : 's'}${ts.length <= 3 ? `: ${ts.join(', ')}` : ''})`).join(', ');
}

export async function planFence(c: pg.Client, kind: Fence, roles: readonly string[] = []): Promise<FencePlan> {
  const tables = (await c.query<{ rel: string; owner: string; can_fence: boolean; owned: boolean; extension_member: boolean; public_writes: boolean; writers: string[] }>(
    loadSql(import.meta.url, 'sql/fence-plan.sql'))).rows.map((r): FenceTable => ({
    rel: r.rel, owner: r.owner, canFence: r.can_fence, owned: r.owned, extensionMember: r.extension_member, publicWrites: r.public_writes, writers: r.writers,
  }));
  const problems: string[] = [];
  const warnings: string[] = [];
  let fenceRoles: FenceRole[] = [];
  if (kind === 'revoke' || kind === 'read-only') {
    if (!roles.length) problems.push(`fence "${kind}" needs the roles to ${kind === 'revoke' ? 'revoke writes from' : 'make read only'} (roles: [...] / --role), or use fence: triggers, which needs none`);
    fenceRoles = (await c.query<{ role_name: string; exists: boolean; superuser: boolean | null; revocable: number }>(
      loadSql(import.meta.url, 'sql/fence-roles.sql'), [[...roles]])).rows.map((r) => ({ name: r.role_name, exists: r.exists, superuser: r.superuser, revocable: r.revocable }));
    const logins = (await c.query<{ rolname: string }>('SELECT rolname FROM pg_roles')).rows.map((r) => r.rolname);
    // A cutover tried again after a failed one: what the fence already took counts as taken.
    const taken = new Set((await c.query<{ r: string | null }>(`SELECT to_regclass('${FENCE_SCHEMA}.revoked')::text AS r`)).rows[0]!.r
      ? (await c.query<{ role_name: string }>(`SELECT DISTINCT role_name FROM ${FENCE_SCHEMA}.revoked`)).rows.map((r) => r.role_name) : []);
    for (const r of fenceRoles) {
      if (!r.exists) {
        const near = closeMatches(r.name, logins);
        problems.push(`no role "${r.name}" exists on the source${near.length ? ` (did you mean ${near.map((n) => `"${n}"`).join(', ')}?)` : ''}`);
      } else if (r.superuser) {
        problems.push(`role "${r.name}" is a superuser: no privilege or setting fences it`);
      } else if (kind === 'revoke' && r.revocable === 0 && !taken.has(r.name)) {
        problems.push(`role "${r.name}" holds no write privilege of its own on any table (it writes through PUBLIC or a role it is a member of): revoking from it would take nothing`);
      }
    }
  }
  for (const t of tables.filter((x) => !x.canFence)) {
    const what = `cannot put the fence's triggers on ${t.rel} (owned by ${t.owner}; the connected role is neither its owner nor a member of the owner, and only the owner can drop the triggers again)`;
    if (t.extensionMember) warnings.push(`${what}: an extension's table, not fenced`);
    else if (kind === 'manual') warnings.push(`${what}: a write to it after the confirmation cannot be detected`);
    else problems.push(what);
  }
  return { kind, tables, roles: fenceRoles, problems, warnings };
}

/** Throws E_FENCE with every problem and who can write what, before anything changed. */
export function assertFencePlan(plan: FencePlan): void {
  if (!plan.problems.length) return;
  throw new CutoverError('E_FENCE', `the write fence would not hold; nothing was changed:\n  ${plan.problems.join('\n  ')}\nroles that can write on the source: ${describeWriters(plan.tables)}`, {
    hint: plan.tables.some((t) => !t.canFence)
      ? 'connect as the tables\' owner, or GRANT the owner role to the role cutover connects as (GRANT owner TO cutover_role)'
      : 'correct the roles, or use fence: triggers (it stops every writer, whatever its role)',
    details: { problems: plan.problems },
  });
}

export interface InstalledFence { kind: Fence; fencedAt: string; newTables: number; tables: number; revoked: number; terminated: number; already: boolean }

/**
 * Installs the fence in one transaction: waits (in short lock_timeout slices) until no writer is in
 * flight on any table, then puts the triggers on all of them, and for revoke/read-only takes the roles'
 * privileges or sets them read only. Idempotent: a fence already in place is completed, not doubled.
 */
export async function installFence(c: pg.Client, plan: FencePlan, o: { waitMs: number; note: (m: string) => void }): Promise<InstalledFence> {
  assertFencePlan(plan);
  await c.query(loadSql(import.meta.url, 'sql/fence.sql'));
  const prior = (await c.query<{ kind: string }>(`SELECT kind FROM ${FENCE_SCHEMA}.state`)).rows[0];
  const first = plan.tables.find((t) => t.canFence)?.rel ?? `${FENCE_SCHEMA}.state`;
  let newTables = 0, revoked = 0, terminated = 0;
  await fenceErrors(() => withLock(c, first, { lockTimeoutMs: 2000, maxLockWaitMs: o.waitMs }, o.note, async () => {
    // One transaction: a failure leaves nothing behind (withLock rolls back).
    newTables = (await c.query(`SELECT * FROM ${FENCE_SCHEMA}.install($1, $2)`, [plan.kind, plan.kind !== 'manual'])).rowCount ?? 0;
    const names = plan.roles.map((r) => r.name);
    if (plan.kind === 'revoke') revoked = (await c.query<{ n: number }>(`SELECT ${FENCE_SCHEMA}.revoke($1::name[]) AS n`, [names])).rows[0]!.n;
    if (plan.kind === 'read-only') terminated = (await c.query<{ n: number }>(`SELECT ${FENCE_SCHEMA}.read_only($1::name[]) AS n`, [names])).rows[0]!.n;
  }));
  const st = (await fenceState(c))!;
  return { kind: plan.kind, fencedAt: st.fencedAt.toISOString(), newTables, tables: st.tables, revoked, terminated, already: prior !== undefined };
}

/** A privilege error while fencing (a table's owner changed since the plan, no CREATEROLE for read-only): nothing changed. */
async function fenceErrors<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (classifySqlState(sqlStateOf(e)) === 'privilege') {
      const pe = e as { message: string; hint?: string };
      throw new CutoverError('E_FENCE', `cannot fence writes on the source: ${pe.message}`, { cause: e, hint: `${pe.hint ? `${pe.hint}; ` : ''}nothing was changed` });
    }
    throw e;
  }
}

export interface Breach { rel: string; op: string; role: string; pid: number; events: number; applicationName: string | null }

/** Writes the witness trigger saw after the fence (none while the refusing trigger holds). */
export async function fenceBreaches(c: pg.Client): Promise<Breach[]> {
  if (!(await hasFence(c))) return [];
  return (await c.query<{ rel: string; op: string; role_name: string; pid: number; n: number; application_name: string | null }>(
    `SELECT rel, op, role_name, pid, count(*)::int AS n, max(application_name) AS application_name
       FROM ${FENCE_SCHEMA}.breaches WHERE at >= (SELECT checked_from FROM ${FENCE_SCHEMA}.state)
      GROUP BY rel, op, role_name, pid ORDER BY min(at)`)).rows
    .map((r) => ({ rel: r.rel, op: r.op, role: r.role_name, pid: r.pid, events: r.n, applicationName: r.application_name }));
}

export function describeBreach(b: Breach): string {
  return `${b.op} on ${b.rel} by role ${b.role} (backend pid ${b.pid}${b.applicationName ? `, application_name "${b.applicationName}"` : ''}${b.events > 1 ? `, ${b.events} statements` : ''})`;
}

async function hasFence(c: pg.Client): Promise<boolean> {
  return (await c.query<{ r: string | null }>(`SELECT to_regclass('${FENCE_SCHEMA}.state')::text AS r`)).rows[0]!.r !== null;
}

export interface FenceState { fencedAt: Date; tables: number; windowOpen: boolean }

/** The fence on this server (since when, on how many tables, whether it guards a rollback window), or none. */
export async function fenceState(c: pg.Client): Promise<FenceState | undefined> {
  if (!(await hasFence(c))) return undefined;
  const r = (await c.query<{ at: Date; n: number; w: boolean }>(`SELECT s.fenced_at AS at, (SELECT count(*)::int FROM ${FENCE_SCHEMA}.tables) AS n,
      coalesce((to_jsonb(s) ->> 'window_open')::boolean, false) AS w FROM ${FENCE_SCHEMA}.state s`)).rows[0];
  return r && { fencedAt: r.at, tables: r.n, windowOpen: r.w };
}

/** The statements that lift the fence (teardown journals them; unfence runs them). Empty: no fence. */
export async function liftStatements(c: pg.Client): Promise<string[]> {
  if (!(await hasFence(c))) return [];
  return (await c.query<{ s: string }>(loadSql(import.meta.url, 'sql/fence-lift.sql'))).rows.map((r) => r.s);
}

export interface UnfenceResult { tables: number; privileges: number; roles: number; statements: string[] }

export function describeUnfence(r: UnfenceResult): string {
  if (!r.statements.length) return 'nothing was fenced';
  return `fence lifted: triggers removed from ${r.tables} table(s)${r.privileges ? `, ${r.privileges} privilege(s) granted back` : ''}${r.roles ? `, read-only default reset for ${r.roles} role(s)` : ''}`;
}

/** Lifts exactly what the fence set, in one transaction; works before and after teardown. Idempotent. */
export async function unfence(source: ConnParams, o: { note?: (m: string) => void; window?: boolean } = {}): Promise<UnfenceResult> {
  return withClient(await resolveEndpoint(source), 'replicate-unfence', async (c) => {
    const statements = await liftStatements(c);
    if (!statements.length) return { tables: 0, privileges: 0, roles: 0, statements };
    // `window`: the rollback's own unfence, once the old source is verified equal.
    if (!o.window && (await fenceState(c))?.windowOpen) {
      throw new CutoverError('E_USAGE', 'a rollback window is open with this server as its old source: unfenced, it would take the application\'s writes while the new server takes them too, and the window\'s applier would write over them; nothing was changed', {
        hint: 'to go back, `cutover replicate rollback` (it lifts this fence once the old source is verified equal); to stay on the new server, `cutover replicate finish` first, then unfence',
      });
    }
    const counts = (await c.query<{ t: number; p: number; r: number }>(
      `SELECT (SELECT count(*)::int FROM ${FENCE_SCHEMA}.tables WHERE EXISTS (SELECT 1 FROM pg_class WHERE oid = relid)) AS t,
              (SELECT count(*)::int FROM ${FENCE_SCHEMA}.revoked) AS p, (SELECT count(*)::int FROM ${FENCE_SCHEMA}.read_only) AS r`)).rows[0]!;
    const first = (await c.query<{ r: string | null }>(`SELECT min(relid::regclass::text) AS r FROM ${FENCE_SCHEMA}.tables`)).rows[0]!.r ?? `${FENCE_SCHEMA}.state`;
    await withLock(c, first, { lockTimeoutMs: 2000, maxLockWaitMs: 60_000 }, o.note ?? (() => undefined), async () => {
      for (const s of statements) await c.query(s);
    });
    return { tables: counts.t, privileges: counts.p, roles: counts.r, statements };
  });
}

/** The note that the source stays fenced: the way to lift it, and the first statements (all are in the result). */
export function fenceStaysNote(statements: readonly string[]): string {
  const shown = statements.slice(0, 5);
  return `the write fence stays on the source (the old database must not take writes); \`cutover replicate unfence\` lifts it, or these ${statements.length} statement(s):\n  ` +
    `${shown.join(';\n  ')};${statements.length > shown.length ? `\n  ... (${statements.length - shown.length} more: in the journal, or the command's --json)` : ''}`;
}

/** The write fence of sql/fence.sql: triggers on every table, with the kinds' role changes. */
export const writeFence: WriteFence = {
  plan: planFence, assert: assertFencePlan, install: installFence, breaches: fenceBreaches, state: fenceState, liftStatements, lift: unfence,
};

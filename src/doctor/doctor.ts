/**
 * `cutover doctor`: every check that can be made before anything is touched, all reported at once.
 * A failed connection skips the checks that need it; nothing here writes to either server.
 */
import { displayName } from '../pg/table-name.js';
import type pg from 'pg';
import { describeError, isCutoverError } from '../errors.js';
import { type ConnParams, redact } from '../pg/conninfo.js';
import { connect } from '../pg/connect.js';
import { type ServerFacts, type TableFacts, serverFacts, tableFacts } from '../pg/facts.js';
import { type Endpoint, resolveEndpoint } from '../pg/endpoint.js';
import { requireClientTool } from '../pg/tools.js';
import { type Capacity, type Headroom, capacity, describeCapacity } from '../budget/capacity.js';
import { describeWriters, type Fence, type FencePlan, planFence } from '../replicate/fence.js';
import { checkPooler } from '../pooler/check.js';
import { type DbIdentity, databaseIdentity, sameDatabase } from '../pg/identity.js';
import { type RlsFiltered, describeRlsFiltered, RLS_HINT, rlsFilteredTables } from '../pg/rls.js';
import type { RolesPolicy } from '../pg/role-map.js';
import { checkRoles, checkRowSecurity, checkExtensionVersions, checkSettingsAndHazards } from './fidelity-checks.js';

export type CheckStatus = 'ok' | 'warn' | 'fail' | 'skip';
export type Side = 'source' | 'target' | 'client' | 'pooler';

export interface Check {
  id: string;
  side: Side;
  status: CheckStatus;
  message: string;
  hint?: string;
}

export interface SideReport {
  connection: string;
  version?: string;
  major?: number;
  role?: string;
  superuser?: boolean;
  capacity?: Capacity;
  tables?: number;
  bytes?: number;
}

export interface DoctorReport {
  ok: boolean;
  checks: Check[];
  source: SideReport;
  target: SideReport;
}

export interface DoctorOptions {
  source: ConnParams;
  target: ConnParams;
  /** Connections to keep free for the application on each side. */
  headroom?: Headroom;
  /** Where pg_dump/pg_restore live (else PATH and /usr/lib/postgresql/*). */
  binDir?: string;
  /** Only a copy is planned (no trigger replication): tables without a primary key are a warning. */
  copyOnly?: boolean;
  /** The cutover's write fence to predict (default: fence triggers, unless copyOnly). */
  fence?: { kind: Fence; roles?: string[] };
  /** A PgBouncer in front of the source (fence: pooler): its admin console and the application's entry. */
  pooler?: { admin: ConnParams; database?: string };
  /** Role map and what to do with missing roles (the copy's owners and grants follow it). */
  roles?: RolesPolicy;
}

/** Minimum connections a migration needs on a side: one worker plus one control connection. */
export const MIN_CONNECTIONS = 2;

interface Probe { facts: ServerFacts; tables: TableFacts[]; identity: DbIdentity; rls: RlsFiltered[]; fence?: FencePlan }

async function probe(p: Endpoint, side: Side, checks: Check[], fence?: DoctorOptions['fence']): Promise<Probe | undefined> {
  let c: pg.Client | undefined;
  try {
    c = await connect(p, `doctor-${side}`);
    const facts = await serverFacts(c);
    const tables = await tableFacts(c);
    const identity = await databaseIdentity(c, p);
    const rls = await rlsFilteredTables(c);
    checks.push({ id: 'connect', side, status: 'ok', message: `connected to ${redact(p)} as ${facts.role.name}` });
    return { facts, tables, identity, rls, fence: fence ? await planFence(c, fence.kind, fence.roles) : undefined };
  } catch (e) {
    checks.push({
      id: 'connect', side, status: 'fail',
      message: isCutoverError(e) ? e.message : describeError(e),
      hint: isCutoverError(e) ? e.hint : undefined,
    });
    return undefined;
  } finally {
    await c?.end().catch(() => undefined);
  }
}

const qname = displayName;
const list = (xs: string[], max = 8) => xs.slice(0, max).join(', ') + (xs.length > max ? `, ... (${xs.length} in all)` : '');

export async function doctor(opts: DoctorOptions): Promise<DoctorReport> {
  // Credentials resolved once (the password file read here), every check then uses these endpoints.
  const source = await resolveEndpoint(opts.source), target = await resolveEndpoint(opts.target);
  const checks: Check[] = [];
  // Probe both sides at once, but report in a fixed order (source first).
  const srcChecks: Check[] = [], tgtChecks: Check[] = [];
  const fence = opts.fence ?? (opts.copyOnly ? undefined : { kind: 'triggers' as const });
  const [src, tgt] = await Promise.all([probe(source, 'source', srcChecks, fence), probe(target, 'target', tgtChecks)]);
  checks.push(...srcChecks, ...tgtChecks);
  const headroom = opts.headroom ?? 0;
  const report: DoctorReport = {
    ok: false, checks,
    source: { connection: redact(opts.source) },
    target: { connection: redact(opts.target) },
  };
  for (const [side, pr, rep] of [['source', src, report.source], ['target', tgt, report.target]] as const) {
    if (!pr) continue;
    Object.assign(rep, {
      version: pr.facts.version, major: pr.facts.major, role: pr.facts.role.name, superuser: pr.facts.role.isSuperuser,
      capacity: capacity(pr.facts, headroom), tables: pr.tables.length, bytes: pr.facts.database.bytes,
    });
    checkHeadroom(side, rep.capacity!, checks);
  }

  if (src && tgt && sameDatabase(src.identity, tgt.identity)) {
    checks.push({
      id: 'same-database', side: 'target', status: 'fail',
      message: `the source and the target are the same database ("${src.identity.dbName}" on one server: ${redact(opts.source)} and ${redact(opts.target)})`,
      hint: 'point --target (or the runbook\'s connections.target) at the new server; nothing was changed',
    });
  }
  for (const [side, pr] of [['source', src], ['target', tgt]] as const) {
    if (pr?.rls.length) {
      checks.push({
        id: 'row-level-security', side, status: side === 'source' ? 'fail' : 'warn',
        message: `row-level security hides rows of ${pr.rls.length} table(s) from ${pr.facts.role.name}: ${list(pr.rls.map(describeRlsFiltered))}; ` +
          `a copy would read only the rows the policies let through, and verify refuses them`,
        hint: RLS_HINT,
      });
    }
  }

  if (src && tgt) {
    const s = src.facts.major, t = tgt.facts.major;
    checks.push(t >= s
      ? { id: 'versions', side: 'target', status: 'ok', message: `source PostgreSQL ${src.facts.version}, target ${tgt.facts.version}` }
      : {
        id: 'versions', side: 'target', status: 'warn',
        message: `target PostgreSQL ${tgt.facts.version} is older than source ${src.facts.version}: a downgrade`,
        hint: 'objects using features newer than the target will fail to restore; rehearse first',
      });
  }

  if (src) {
    await checkClientTools(src.facts.major, opts.binDir, checks);
    checkSourcePrivileges(src, checks, opts.copyOnly ?? false);
    checkPrimaryKeys(src.tables, checks, opts.copyOnly ?? false);
    checkManagedTargetHazards(src.facts, tgt?.facts, checks, fence?.kind);
    if (src.fence) checkFence(src.fence, checks);
  } else {
    checks.push({ id: 'client-tools', side: 'client', status: 'skip', message: 'needs the source server version' });
  }
  if (tgt) checkTarget(tgt, checks);
  if (opts.pooler) {
    for (const c of await checkPooler({ ...opts.pooler, source: opts.source, target: opts.target })) checks.push({ ...c, side: 'pooler' });
  }
  // Catalog checks that need sessions on both sides: roles owners and grants need, rows hidden by
  // row-level security, extension versions.
  if (src) {
    await checkRowSecurity(source, checks);
    await checkSettingsAndHazards(source, tgt ? target : undefined, opts.roles, checks);
    if (tgt) {
      await checkRoles(source, target, opts.roles, checks);
      await checkExtensionVersions(source, target, checks);
    }
  }

  report.ok = !checks.some((c) => c.status === 'fail');
  return report;
}

function checkHeadroom(side: Side, cap: Capacity, checks: Check[]): void {
  const detail = describeCapacity(cap).replace(/^\d+ available \((.*)\)$/, '$1');
  if (cap.available < MIN_CONNECTIONS) {
    checks.push({
      id: 'connections', side, status: 'fail',
      message: `only ${cap.available} connection(s) available to cutover (${detail}); at least ${MIN_CONNECTIONS} are needed`,
      hint: 'stop some clients, lower the application headroom, or raise the limit',
    });
  } else {
    checks.push({
      id: 'connections', side, status: cap.available < 4 ? 'warn' : 'ok',
      message: `${cap.available} connections available to cutover (${detail})`,
      hint: cap.available < 4 ? 'parallelism will be low; the copy will be slow' : undefined,
    });
  }
}

async function checkClientTools(sourceMajor: number, binDir: string | undefined, checks: Check[]): Promise<void> {
  for (const tool of ['pg_dump', 'pg_restore'] as const) {
    try {
      const t = await requireClientTool(tool, sourceMajor, binDir);
      checks.push({ id: tool, side: 'client', status: 'ok', message: `${tool} ${t.version} (${t.path})` });
    } catch (e) {
      checks.push({ id: tool, side: 'client', status: 'fail', message: describeErrorMessage(e), hint: isCutoverError(e) ? e.hint : undefined });
    }
  }
}

function describeErrorMessage(e: unknown): string {
  return isCutoverError(e) ? e.message : describeError(e);
}

function checkSourcePrivileges(src: Probe, checks: Check[], copyOnly: boolean): void {
  const { facts, tables } = src;
  if (facts.role.isSuperuser) {
    checks.push({ id: 'privileges', side: 'source', status: 'ok', message: `${facts.role.name} is a superuser` });
    return;
  }
  const unreadable = tables.filter((t) => !t.canSelect).map(qname);
  if (unreadable.length) {
    checks.push({
      id: 'select', side: 'source', status: 'fail',
      message: `${facts.role.name} cannot read ${unreadable.length} table(s): ${list(unreadable)}`,
      hint: 'GRANT SELECT on them to this role, or exclude them',
    });
  }
  if (copyOnly) return;
  const noTrigger = tables.filter((t) => !t.owned && !t.canTrigger).map(qname);
  checks.push(noTrigger.length
    ? {
      id: 'trigger', side: 'source', status: 'fail',
      message: `change capture needs to own or have TRIGGER on every replicated table; missing on ${list(noTrigger)}`,
      hint: 'GRANT TRIGGER ON those tables, run as their owner, or exclude them from replication',
    }
    : { id: 'trigger', side: 'source', status: 'ok', message: `${facts.role.name} owns or may add triggers to all ${tables.length} tables` });
  checks.push(facts.database.canCreateSchema
    ? { id: 'create-schema', side: 'source', status: 'ok', message: 'may create the change-capture schema' }
    : {
      id: 'create-schema', side: 'source', status: 'fail',
      message: `${facts.role.name} cannot create a schema in "${facts.database.name}" (needed for change capture)`,
      hint: `GRANT CREATE ON DATABASE ${facts.database.name} TO ${facts.role.name}`,
    });
}

/** The cutover's write fence predicted: which roles can write which tables, and whether the fence stops them all. */
function checkFence(plan: FencePlan, checks: Check[]): void {
  const writers = describeWriters(plan.tables);
  if (plan.problems.length) {
    checks.push({
      id: 'fence', side: 'source', status: 'fail',
      message: `the write fence (${plan.kind}) would not hold: ${plan.problems.join('; ')}. Roles that can write: ${writers}`,
      hint: 'correct the roles, or use fence: triggers (stops every writer whatever its role); run the cutover as the tables\' owner',
    });
    return;
  }
  checks.push({
    id: 'fence', side: 'source', status: plan.warnings.length ? 'warn' : 'ok',
    message: `the write fence (${plan.kind}) ${plan.kind === 'manual' ? 'watches' : 'stops every writer of'} all ${plan.tables.length - plan.tables.filter((t) => !t.canFence).length} tables; roles that can write: ${writers}` +
      `${plan.warnings.length ? `; ${plan.warnings.join('; ')}` : ''}`,
    hint: plan.kind === 'manual' ? 'with fence: manual you stop the writers; the cutover fails if any still write' : undefined,
  });
}

function checkPrimaryKeys(tables: TableFacts[], checks: Check[], copyOnly: boolean): void {
  // Partitioned roots without a key are reported through their leaves.
  const noPk = tables.filter((t) => t.kind === 'r' && !t.primaryKey).map(qname);
  if (!noPk.length) {
    checks.push({ id: 'primary-keys', side: 'source', status: 'ok', message: 'every table has a primary key' });
    return;
  }
  // Change capture replicates them with the whole row as identity (docs/replicate.md, "Tables without a key").
  checks.push({
    id: 'primary-keys', side: 'source', status: 'warn',
    message: `${noPk.length} table(s) without a primary key: ${list(noPk)}` +
      (copyOnly ? ' (copied whole, compared as a multiset)' : '; change capture replicates them with the whole row as identity (an update or delete there reads the table on the target)'),
    hint: 'add a primary key, or declare a unique key for them in the runbook, where updates and deletes are frequent',
  });
}

function checkManagedTargetHazards(s: ServerFacts, t: ServerFacts | undefined, checks: Check[], fence?: string): void {
  if (t) {
    const builtin = new Set(['plpgsql']);
    const missing = s.extensions.filter((e) => !builtin.has(e.name) && !t.availableExtensions.includes(e.name)).map((e) => e.name);
    checks.push(missing.length
      ? {
        id: 'extensions', side: 'target', status: 'fail',
        message: `extension(s) used on the source are not available on the target: ${list(missing)}`,
        hint: 'install or allow-list them on the target (managed services list supported extensions), or drop them on the source',
      }
      : { id: 'extensions', side: 'target', status: 'ok', message: `all ${s.extensions.length} source extension(s) are available on the target` });
  }
  if (s.eventTriggers > 0) {
    checks.push({
      id: 'event-triggers', side: 'source', status: 'warn',
      message: `${s.eventTriggers} event trigger(s) on the source: creating them needs superuser on the target`,
      hint: 'recreate them by hand after the copy, or drop them; cutover does not copy event triggers',
    });
  }
  const allTables = s.publications.filter((p) => p.all_tables).map((p) => p.name);
  if (s.publications.length) {
    checks.push({
      id: 'publications', side: 'source', status: 'warn',
      message: `${s.publications.length} publication(s) on the source${allTables.length ? ` (FOR ALL TABLES, which needs superuser: ${list(allTables)})` : ''}`,
      hint: 'they are not copied; recreate what you need on the target',
    });
  }
  if (s.largeObjects > 0) {
    const fenced = fence && fence !== 'pooler' && fence !== 'read-only';
    checks.push({
      id: 'large-objects', side: 'source', status: 'warn',
      message: `${s.largeObjects} large object(s) on the source: copied separately and slowly (one at a time); no trigger sees them, so replication ` +
        `does not carry them: the cutover compares every one (owner, ACL, content hash) and copies what differs inside the write outage, ` +
        `and verify compares their contents` +
        (fenced ? `; the ${fence} fence cannot stop lo_* writes: one after that sync is copied again when verify finds it (up to 3 rounds, with a WARNING), one after the last comparison stays on the old source` : ''),
      hint: fenced
        ? 'expect extra copy and outage time; stop the application\'s large-object writes before the fence, or fence read-only (the roles that write them) or pooler'
        : 'expect extra copy and outage time in proportion to their total size',
    });
  }
  if (s.customTablespaces.length || (s.database.tablespace && s.database.tablespace !== 'pg_default')) {
    checks.push({
      id: 'tablespaces', side: 'source', status: 'warn',
      message: `custom tablespace(s) on the source: ${list([...s.customTablespaces, ...(s.database.tablespace !== 'pg_default' ? [s.database.tablespace] : [])])}`,
      hint: 'managed targets have no custom tablespaces: cutover restores with --no-tablespaces',
    });
  }
}

function checkTarget(t: Probe, checks: Check[]): void {
  if (!t.facts.role.isSuperuser && !t.facts.database.canCreateSchema) {
    checks.push({
      id: 'create-schema', side: 'target', status: 'fail',
      message: `${t.facts.role.name} cannot create schemas in "${t.facts.database.name}" on the target`,
      hint: `GRANT CREATE ON DATABASE ${t.facts.database.name} TO ${t.facts.role.name}, or connect as the database owner`,
    });
  }
  if (t.tables.length) {
    checks.push({
      id: 'target-empty', side: 'target', status: 'warn',
      message: `the target database already holds ${t.tables.length} table(s): ${list(t.tables.map(qname), 5)}`,
      hint: 'a copy into a non-empty database fails on existing objects; use an empty database',
    });
  } else {
    checks.push({ id: 'target-empty', side: 'target', status: 'ok', message: 'the target database is empty' });
  }
}

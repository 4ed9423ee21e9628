/**
 * What the streaming copy does beyond tables and indexes: the row-level-security pre-flight (a read that
 * policies would filter must fail, never copy part of a table), materialized views refreshed after the
 * data, and the large objects' owners and grants as statements mapped like pg_dump's.
 */
import type pg from 'pg';
import { CutoverError } from '../../errors.js';
import { loadSql, qualify, quoteIdent } from '../../pg/sql.js';
import { privilegeStatements, type PrivilegeStatement } from '../privileges.js';
import { splitQualified, type SelectionOptions } from '../options.js';

export interface RlsBlocked { schema: string; name: string; owner: string; forced: boolean; isOwner: boolean }

/** Tables whose rows the session's role cannot all read (row-level security applies to it). */
export async function rlsBlockedTables(c: pg.Client): Promise<RlsBlocked[]> {
  const { rows } = await c.query<{ schema: string; name: string; owner: string; forced: boolean; is_owner: boolean }>(loadSql(import.meta.url, '../sql/rls-blocked.sql'));
  return rows.map((r) => ({ schema: r.schema, name: r.name, owner: r.owner, forced: r.forced, isOwner: r.is_owner }));
}

/** What to do about a table row-level security hides rows of (doctor and copy say the same). */
export function rlsRemedy(role: string, t: RlsBlocked[]): string {
  const forced = t.filter((x) => x.forced && x.isOwner);
  return [
    `run the copy as a role with BYPASSRLS (ALTER ROLE ${quoteIdent(role)} BYPASSRLS, by a superuser)`,
    forced.length ? `or, for the duration of the copy, ALTER TABLE ... NO FORCE ROW LEVEL SECURITY on ${forced.map((x) => qualify(x.schema, x.name)).join(', ')} (and FORCE again after)` : '',
    'or exclude those tables and move them another way',
  ].filter(Boolean).join(', ');
}

/** Whether a table is in the copy's selection (exact names, as pg_dump -n/-N/-t/-T are given them). */
export function selected(s: SelectionOptions, t: { schema: string; name: string }): boolean {
  const eq = (q: string) => { const p = splitQualified(q); return p.name === t.name && (p.schema === undefined || p.schema === t.schema); };
  if (s.schemas?.length && !s.schemas.includes(t.schema)) return false;
  if (s.excludeSchemas?.includes(t.schema)) return false;
  if (s.tables?.length && !s.tables.some(eq)) return false;
  if (s.excludeTables?.some(eq)) return false;
  return true;
}

/** Refuses, before anything is copied, when a selected table's rows are not all readable. */
export async function requireReadableRows(c: pg.Client, s: SelectionOptions): Promise<void> {
  const blocked = (await rlsBlockedTables(c)).filter((t) => selected(s, t));
  if (!blocked.length) return;
  const role = (await c.query<{ r: string }>('SELECT current_user::text AS r')).rows[0]!.r;
  throw new CutoverError('E_PRIVILEGE',
    `row-level security hides rows of ${blocked.length} table(s) from ${role}: ${blocked.map((t) => `${qualify(t.schema, t.name)} (${t.forced && t.isOwner ? 'FORCE ROW LEVEL SECURITY applies to its owner' : `owned by ${t.owner}`})`).join(', ')}; ` +
    'copying them would move only the rows the policies allow, so nothing was copied', { hint: rlsRemedy(role, blocked) });
}

export interface Matview { schema: string; name: string; populated: boolean; reads: string[] }

export async function readMatviews(c: pg.Client): Promise<Matview[]> {
  const { rows } = await c.query<Matview>(loadSql(import.meta.url, '../sql/copy-matviews.sql'));
  return rows;
}

/**
 * Refreshes the populated materialized views after their sources (a matview reading another waits for
 * it), `run` executing each REFRESH on a free session. One unpopulated on the source stays so.
 */
export async function refreshMatviews(views: Matview[], run: (sql: string, key: string) => Promise<void>): Promise<number> {
  const todo = views.filter((v) => v.populated);
  const key = (v: Matview) => `${quoteIdent(v.schema)}.${quoteIdent(v.name)}`;
  const done = new Map<string, Promise<void>>();
  const start = (v: Matview): Promise<void> => {
    const k = key(v);
    let p = done.get(k);
    if (!p) {
      const deps = todo.filter((d) => v.reads.includes(key(d)));
      p = Promise.all(deps.map(start)).then(() => run(`REFRESH MATERIALIZED VIEW ${qualify(v.schema, v.name)}`, k));
      done.set(k, p);
    }
    return p;
  };
  await Promise.all(todo.map(start));
  return todo.length;
}

/** The source's large-object owners and grants, as statements the role map applies to like pg_dump's. */
export async function largeObjectPrivileges(c: pg.Client): Promise<PrivilegeStatement[]> {
  const { rows } = await c.query<{ sql: string }>(loadSql(import.meta.url, '../sql/large-object-privileges.sql'));
  return privilegeStatements(rows.map((r) => r.sql).join('\n')).statements;
}

/**
 * What the streaming copy does beyond tables and indexes: the row-level-security pre-flight (a read that
 * policies would filter must fail, never copy part of a table), when each materialized view can be
 * refreshed, and the large objects' owners and grants as statements mapped like pg_dump's.
 */
import type pg from 'pg';
import { CutoverError } from '../../errors.js';
import { loadSql, qualify, quoteIdent, quoteLiteral } from '../../pg/sql.js';
import { privilegeStatements, type PrivilegeStatement } from '../privileges.js';
import { splitQualified, type SelectionOptions } from '../../pg/select-tables.js';

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

export interface Matview {
  schema: string;
  name: string;
  populated: boolean;
  /** Tables (partitions and inheritance children of a parent it reads included) and matviews its query reads, as tableKey()s. */
  reads: string[];
  /** It calls a function whose body may read any table: it waits for every table. */
  readsAll: boolean;
}

export async function readMatviews(c: pg.Client): Promise<Matview[]> {
  const { rows } = await c.query<{ schema: string; name: string; populated: boolean; reads: string[]; reads_all: boolean }>(loadSql(import.meta.url, '../sql/copy-matviews.sql'));
  return rows.map((r) => ({ schema: r.schema, name: r.name, populated: r.populated, reads: r.reads, readsAll: r.reads_all }));
}

/**
 * When each materialized view populated on the source can be refreshed: once every table it reads has its
 * data (the copy says so with `arrived`) and every populated matview it reads is refreshed (`arrived` too).
 * Tables outside the copy are not waited for (they get no data); an unpopulated matview is not refreshed, so
 * one reading it does not wait for it. `ready` is called once per populated matview, at the earliest
 * moment: at `start` for one that reads nothing the copy brings.
 */
export class MatviewSchedule {
  private readonly pending = new Map<string, { view: Matview; waits: Set<string> }>();
  private readonly arrivedKeys = new Set<string>();

  constructor(views: readonly Matview[], tables: ReadonlySet<string>, private readonly ready: (v: Matview) => void) {
    const refreshed = new Set(views.filter((v) => v.populated).map((v) => qualify(v.schema, v.name)));
    for (const v of views.filter((x) => x.populated)) {
      const waits = new Set([...(v.readsAll ? tables : []), ...v.reads.filter((k) => tables.has(k) || refreshed.has(k))]);
      waits.delete(qualify(v.schema, v.name));
      this.pending.set(qualify(v.schema, v.name), { view: v, waits });
    }
  }

  /** Hands out those that wait for nothing; call once, after the copy's own callbacks are in place. */
  start(): void { this.release(); }

  /** A table's data (or a matview's refresh) is in place. */
  arrived(key: string): void {
    if (this.arrivedKeys.has(key)) return;
    this.arrivedKeys.add(key);
    for (const p of this.pending.values()) p.waits.delete(key);
    this.release();
  }

  private release(): void {
    for (const [k, p] of [...this.pending]) {
      if (p.waits.size) continue;
      this.pending.delete(k);
      this.ready(p.view);
    }
  }

  /** Matviews still waiting, with what for (empty once everything arrived). */
  get waiting(): { view: Matview; waits: string[] }[] {
    return [...this.pending.values()].map((p) => ({ view: p.view, waits: [...p.waits] }));
  }
}

/** The source's large-object owners and grants, as statements the role map applies to like pg_dump's. */
export async function largeObjectPrivileges(c: pg.Client): Promise<PrivilegeStatement[]> {
  const { rows } = await c.query<{ sql: string }>(loadSql(import.meta.url, '../sql/large-object-privileges.sql'));
  return privilegeStatements(rows.map((r) => r.sql).join('\n')).statements;
}

/**
 * pg_dump creates extensions without a version, so the target installs its default. Where the source's
 * version differs and the target has an update path to it, the extension is moved to that version;
 * otherwise the copy says which version it used. Returns one note per extension whose version differs.
 */
export async function alignExtensionVersions(src: pg.Client, dst: pg.Client): Promise<string[]> {
  const versions = async (c: pg.Client) => new Map((await c.query<{ n: string; v: string }>(`SELECT extname::text AS n, extversion::text AS v FROM pg_extension`)).rows.map((r) => [r.n, r.v]));
  const [s, t] = await Promise.all([versions(src), versions(dst)]);
  const notes: string[] = [];
  for (const [name, want] of s) {
    const have = t.get(name);
    if (have === undefined || have === want) continue;
    const path = (await dst.query(`SELECT 1 FROM pg_extension_update_paths($1) WHERE source = $2 AND target = $3 AND path IS NOT NULL`, [name, have, want])).rowCount;
    if (path) {
      await dst.query(`ALTER EXTENSION ${quoteIdent(name)} UPDATE TO ${quoteLiteral(want)}`);
      notes.push(`extension ${name}: created at ${have}, updated to the source's ${want}`);
    } else {
      notes.push(`extension ${name}: the source has ${want}, the target has no path to it: created at ${have}`);
    }
  }
  return notes;
}

export interface DbSetting { role: string | null; name: string; value: string }

export async function readDbSettings(c: pg.Client): Promise<DbSetting[]> {
  return (await c.query<DbSetting>(loadSql(import.meta.url, '../sql/db-settings.sql'))).rows;
}

export const describeSetting = (s: DbSetting) => `${s.role === null ? 'ALTER DATABASE' : `ALTER ROLE ${quoteIdent(s.role)} IN DATABASE`} ... SET ${s.name} = ${s.value}`;

/**
 * Applies the source database's settings on the target database, roles mapped. The value is set in the
 * session first (set_config parses it as SET would, lists included) and stored with SET ... FROM CURRENT.
 * A setting that fails (unknown on the target, superuser-only) is reported, not fatal.
 */
export async function applyDbSettings(dst: pg.Client, settings: DbSetting[], map: ReadonlyMap<string, string>): Promise<string[]> {
  const notes: string[] = [];
  const db = (await dst.query<{ d: string }>('SELECT current_database() AS d')).rows[0]!.d;
  for (const s of settings) {
    const role = s.role === null ? null : (map.get(s.role) ?? s.role);
    const target = role === null ? `ALTER DATABASE ${quoteIdent(db)}` : `ALTER ROLE ${quoteIdent(role)} IN DATABASE ${quoteIdent(db)}`;
    try {
      await dst.query('BEGIN');
      await dst.query('SELECT set_config($1, $2, true)', [s.name, s.value]);
      await dst.query(`${target} SET ${quoteIdent(s.name)} FROM CURRENT`);
      await dst.query('COMMIT');
      notes.push(`applied: ${target} SET ${s.name} = ${s.value}`);
    } catch (e) {
      await dst.query('ROLLBACK').catch(() => undefined);
      notes.push(`not applied: ${target} SET ${s.name} = ${s.value}: ${(e as Error).message}`);
    }
  }
  return notes;
}

/**
 * Schema comparison as a readable diff of (kind, name) -> definition lines.
 *
 * Both sides are read with search_path = pg_catalog, so every user object in a definition is
 * schema-qualified the same way whatever each role's search_path is. Definitions the server deparses
 * (views, materialized views) changed text across major versions (16 dropped table qualifiers from
 * single-table views): when the two servers' majors differ, a view whose text differs is deparsed again
 * on the newer server (a temporary view from the older side's text, in a transaction rolled back) and
 * compared with what that server prints for its own, so identical schemas show no false differences.
 */
import type pg from 'pg';
import type { ConnParams } from '../pg/conninfo.js';
import { withClient } from '../pg/connect.js';
import { resolveEndpoint } from '../pg/endpoint.js';
import { loadSql, quoteIdent, unquoteIdent } from '../pg/sql.js';
import { type RoleMap, mapRole } from '../pg/role-map.js';

export interface SchemaDifference {
  kind: string;
  name: string;
  change: 'missing on target' | 'extra on target' | 'differs';
  source?: string;
  target?: string;
}

export interface SchemaComparison { compared: number; differences: SchemaDifference[]; deparsed: number; note?: string }

type Obj = { kind: string; name: string; def: string };
const DEPARSED = new Set(['view', 'materialized view']);

async function objects(c: pg.Client): Promise<Map<string, Obj>> {
  // set_config(..., true) lasts until the snapshot transaction ends; restored right after.
  const was = (await c.query<{ p: string }>(`SELECT current_setting('search_path') AS p, set_config('search_path', 'pg_catalog', true)`)).rows[0]!.p;
  try {
    const { rows } = await c.query<Obj>(loadSql(import.meta.url, 'sql/schema-objects.sql'));
    // Collapse whitespace: definitions are printed slightly differently across major versions.
    return new Map(rows.map((r) => [`${r.kind} ${r.name}`, { ...r, def: normalise(r.def) }]));
  } finally {
    await c.query(`SELECT set_config('search_path', $1, true)`, [was]);
  }
}

const normalise = (d: string | null) => (d ?? '').replace(/\s+/g, ' ').trim().replace(/;$/, '');

async function major(c: pg.Client): Promise<number> {
  return Math.floor(Number((await c.query<{ v: string }>(`SELECT current_setting('server_version_num') AS v`)).rows[0]!.v) / 10000);
}

/**
 * Deparses view definitions (older server's text) on `p`'s server: CREATE TEMP VIEW from each text and
 * pg_get_viewdef of it, all in one transaction that is rolled back. A text that does not parse there
 * keeps its own form (and shows as a difference).
 */
async function deparseOn(p: ConnParams, defs: Map<string, string>): Promise<{ out: Map<string, string>; note?: string }> {
  const out = new Map<string, string>();
  if (!defs.size) return { out };
  try {
    await withClient(await resolveEndpoint(p), 'verify-deparse', async (c) => {
      await c.query(`BEGIN; SET LOCAL search_path = pg_catalog`);
      try {
        for (const [k, def] of defs) {
          await c.query('SAVEPOINT d');
          try {
            await c.query(`CREATE TEMP VIEW cutover_verify_deparse AS ${def}`);
            out.set(k, normalise((await c.query<{ d: string }>(`SELECT pg_get_viewdef('pg_temp.cutover_verify_deparse'::regclass) AS d`)).rows[0]!.d));
          } catch { /* keeps its own text */ }
          await c.query('ROLLBACK TO SAVEPOINT d');
        }
      } finally {
        await c.query('ROLLBACK').catch(() => undefined);
      }
    });
    return { out };
  } catch (e) {
    return { out, note: `view definitions compared as printed by each server (could not deparse them on one: ${(e as Error).message})` };
  }
}

/**
 * A policy's TO list in one form on both sides: each role mapped (the source's, through the copy's role
 * map) and the list sorted, so a renamed role is not a difference and the servers' collations do not
 * order it.
 */
function normalisePolicyRoles(objs: Map<string, { kind: string; def: string }>, map: RoleMap | undefined): void {
  for (const o of objs.values()) {
    if (o.kind !== 'policy') continue;
    o.def = o.def.replace(/ TO ((?:"(?:[^"]|"")*"|[^ ,"]+)(?:,(?:"(?:[^"]|"")*"|[^ ,"]+))*)/, (_m, list: string) => {
      const roles = (list.match(/"(?:[^"]|"")*"|[^,]+/g) ?? []).map((r) => (r === 'PUBLIC' ? r
        : quoteIdent(mapRole(map ?? new Map(), unquoteIdent(r)))));
      return ` TO ${roles.sort().join(',')}`;
    });
  }
}

export async function compareSchemaObjects(source: pg.Client, target: pg.Client, conn?: { source: ConnParams; target: ConnParams }, roleMap?: RoleMap): Promise<SchemaComparison> {
  const s = await objects(source);
  const t = await objects(target);
  normalisePolicyRoles(s, roleMap);
  normalisePolicyRoles(t, undefined);
  const compared = s.size;
  let deparsed = 0, note: string | undefined;
  if (conn) {
    const [sm, tm] = [await major(source), await major(target)];
    if (sm !== tm) {
      // The older side's differing view texts, deparsed by the newer server.
      const [older, newer, newerConn] = sm < tm ? [s, t, conn.target] : [t, s, conn.source];
      const todo = new Map<string, string>();
      for (const [k, o] of older) {
        const n = newer.get(k);
        if (DEPARSED.has(o.kind) && n && n.def !== o.def) todo.set(k, o.def);
      }
      const r = await deparseOn(newerConn, todo);
      note = r.note;
      for (const [k, d] of r.out) { older.get(k)!.def = d; deparsed++; }
    }
  }
  const out: SchemaDifference[] = [];
  for (const [k, a] of s) {
    const b = t.get(k);
    t.delete(k);
    if (!b) out.push({ kind: a.kind, name: a.name, change: 'missing on target', source: a.def });
    else if (a.def !== b.def) out.push({ kind: a.kind, name: a.name, change: 'differs', source: a.def, target: b.def });
  }
  for (const b of t.values()) out.push({ kind: b.kind, name: b.name, change: 'extra on target', target: b.def });
  return { compared, differences: out, deparsed, note };
}

export async function compareSchema(source: pg.Client, target: pg.Client): Promise<SchemaDifference[]> {
  return (await compareSchemaObjects(source, target)).differences;
}

/**
 * Fingerprints of a whole database computed by the tests' own SQL (never cutover's): every table's rows,
 * materialized views (or that they are unpopulated), large objects with owner, grants and comment, the
 * catalog description in catalog-print.sql, and `pg_dump --schema-only`. Role names are rewritten through
 * a map, as word-bounded renames, for comparing a source with a target whose roles were renamed.
 */
import { readFileSync } from 'node:fs';
import { execa } from 'execa';
import pg from 'pg';

export type Renames = Record<string, string>;

export function renameRoles(text: string, renames: Renames): string {
  let out = text;
  for (const [from, to] of Object.entries(renames)) out = out.replace(new RegExp(`(?<![A-Za-z0-9_$])${from}(?![A-Za-z0-9_$])`, 'g'), to);
  return out;
}

/** A fingerprint line with roles renamed and its privilege lists (acl=a,b,c) sorted again after the rename. */
export function renameLine(line: string, renames: Renames): string {
  // PostgreSQL 17 added MAINTAIN to an owner's default table privileges: an owner's own MAINTAIN (granted
  // by itself) is left out so that 15 and 17 compare; a MAINTAIN granted to another role still counts.
  // A policy's roles are a set: their order (by oid) changes with a rename.
  return renameRoles(line, renames).replace(/acl=([^ ]*)/g, (_m, l: string) =>
    `acl=${l.split(',').filter((x) => !/^([^:]+):MAINTAIN:f:\1$/.test(x)).sort().join(',')}`)
    .replace(/ roles=\{([^}]*)\}/, (_m, l: string) => ` roles={${l.split(',').sort().join(',')}}`);
}

async function withDb<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: url });
  c.on('error', () => undefined); // a server stopped under a failed test must not crash the run
  await c.connect();
  try {
    await c.query(`SET TimeZone = 'UTC'; SET DateStyle = 'ISO'; SET extra_float_digits = 3; SET IntervalStyle = 'postgres'; SET row_security = off`);
    return await fn(c);
  } finally {
    await c.end();
  }
}

/** "schema.table" -> "rows:md5 of the sorted row hashes" for every table and matview ("unpopulated" for those). */
export function rowPrint(url: string): Promise<Record<string, string>> {
  return withDb(url, async (c) => {
    const rels = (await c.query<{ q: string; kind: string; populated: boolean }>(
      `SELECT format('%I.%I', n.nspname, c.relname) AS q, c.relkind::text AS kind, c.relispopulated AS populated FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'm') AND n.nspname NOT IN ('pg_catalog', 'information_schema', '_cutover') AND n.nspname !~ '^pg_toast'
          AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype = 'e')`)).rows;
    const out: Record<string, string> = {};
    for (const r of rels) {
      if (r.kind === 'm' && !r.populated) { out[r.q] = 'unpopulated'; continue; }
      const x = (await c.query<{ n: string; h: string | null }>(`SELECT count(*)::text AS n, md5(string_agg(md5(t::text), '' ORDER BY md5(t::text))) AS h FROM ONLY ${r.q} t`)).rows[0]!;
      out[r.q] = `${x.n}:${x.h ?? ''}`;
    }
    return out;
  });
}

/** Large objects: oid -> md5 of the contents, owner, sorted grants (grantee:privilege:grantable:grantor), comment. */
export function largeObjectPrint(url: string): Promise<string[]> {
  return withDb(url, async (c) => (await c.query<{ line: string }>(
    `SELECT format('%s md5=%s owner=%s acl=%s comment=%s', m.oid, md5(lo_get(m.oid)), pg_get_userbyid(m.lomowner),
            (SELECT string_agg(format('%s:%s:%s:%s', CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(a.grantee) END, a.privilege_type, a.is_grantable, pg_get_userbyid(a.grantor)), ',' ORDER BY format('%s:%s:%s:%s', CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(a.grantee) END, a.privilege_type, a.is_grantable, pg_get_userbyid(a.grantor)))
               FROM aclexplode(coalesce(m.lomacl, acldefault('L'::"char", m.lomowner))) a), obj_description(m.oid, 'pg_largeobject')) AS line
       FROM pg_largeobject_metadata m ORDER BY m.oid`)).rows.map((r) => r.line));
}

export function catalogPrint(url: string): Promise<string[]> {
  const sql = readFileSync(new URL('./catalog-print.sql', import.meta.url), 'utf8');
  return withDb(url, async (c) => (await c.query<{ line: string }>(sql)).rows.map((r) => r.line));
}

/** pg_dump --schema-only, without comments, SET lines and blank lines (what differs between runs). */
export async function schemaDump(url: string): Promise<string> {
  const r = await execa('pg_dump', ['--schema-only', '--no-tablespaces', '-d', url]);
  return r.stdout.split('\n')
    .filter((l) => !/^--/.test(l) && !/^SET /.test(l) && !/^SELECT pg_catalog\.set_config/.test(l) && l.trim() !== '' && !/^\\(un)?restrict /.test(l))
    .join('\n');
}

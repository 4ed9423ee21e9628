/**
 * Following schema changes without superuser (`ddl: follow` / `--follow-ddl`). When the applier sees a
 * replicated table's shape change on the source, it diffs the source's catalog against the target's and
 * plans the additive changes: new enum types and labels (in their place), new columns that are nullable
 * or have a default. Anything else (a dropped or retyped column, a removed or reordered label, a column
 * NOT NULL without a default, a generated or identity column, a changed key, partitions, domains,
 * composites) is refused with the statements the diff suggests for the target. The applier applies the
 * plan, then requires the source's and target's shapes to be equal before it accepts them.
 *
 * New indexes (planIndexes): the source's valid indexes on replicated tables that the target lacks by
 * name are built CONCURRENTLY on the target (a UNIQUE constraint's index then attached with ADD CONSTRAINT
 * ... USING INDEX); a new primary key or exclusion constraint is refused. New tables (tableStatements, and
 * captureNewTables in capture.ts): the DDL that creates one on the target from the source's catalog,
 * before and after its rows are copied. The applier (apply.ts followNewObjects, copyNewTables) decides
 * when; docs/replicate.md has the rules.
 */
import type pg from 'pg';
import { loadSql, quoteIdent, quoteLiteral } from '../pg/sql.js';
import { withPinnedSettings } from './catalog.js';
import { EMPTY_ROLE_MAP, type RoleMap } from '../pg/role-map.js';

export interface DdlPlan { statements: string[]; refused: string[]; suggested: string[] }

interface Col { name: string; type: string; notnull: boolean; def: string | null; generated: string; identity: string }

const COLUMNS = `SELECT quote_ident(a.attname) AS name, format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull AS notnull,
    pg_get_expr(d.adbin, d.adrelid) AS def, a.attgenerated::text AS generated, a.attidentity::text AS identity
  FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
 WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`;
const ENUMS = `SELECT format('%I.%I', n.nspname, t.typname) AS name, array_agg(e.enumlabel::text ORDER BY e.enumsortorder) AS labels
  FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace JOIN pg_enum e ON e.enumtypid = t.oid
 WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', '_cutover') GROUP BY 1`;

async function read(c: pg.Client, tables: string[]): Promise<{ cols: Map<string, Col[]>; enums: Map<string, string[]> }> {
  return withPinnedSettings(c, async () => {
    const cols = new Map<string, Col[]>();
    for (const t of tables) cols.set(t, (await c.query<Col>(COLUMNS, [t])).rows);
    const enums = new Map((await c.query<{ name: string; labels: string[] }>(ENUMS)).rows.map((r) => [r.name, r.labels]));
    return { cols, enums };
  });
}

/** The additive statements that make the target's tables (qualified, quoted names) and enums follow the source's. */
export async function planDdl(src: pg.Client, tgt: pg.Client, tables: string[]): Promise<DdlPlan> {
  const s = await read(src, tables), t = await read(tgt, tables);
  const plan: DdlPlan = { statements: [], refused: [], suggested: [] };
  for (const [name, labels] of s.enums) {
    const have = t.enums.get(name);
    if (!have) {
      plan.statements.push(`CREATE TYPE ${name} AS ENUM (${labels.map(quoteLiteral).join(', ')})`);
      continue;
    }
    // The target's labels must appear in the source's, in the same order: then only additions are missing.
    let i = 0;
    for (const l of labels) if (l === have[i]) i++;
    if (i !== have.length) {
      plan.refused.push(`enum ${name}: labels removed, renamed or reordered on the source (source: ${labels.join(', ')}; target: ${have.join(', ')})`);
      continue;
    }
    const now = [...have];
    labels.forEach((l, k) => {
      if (now.includes(l)) return;
      const prev = labels.slice(0, k).reverse().find((x) => now.includes(x));
      plan.statements.push(`ALTER TYPE ${name} ADD VALUE IF NOT EXISTS ${quoteLiteral(l)} ${prev !== undefined ? `AFTER ${quoteLiteral(prev)}` : `BEFORE ${quoteLiteral(now[0]!)}`}`);
      now.splice(prev !== undefined ? now.indexOf(prev) + 1 : 0, 0, l);
    });
  }
  for (const table of tables) {
    const sc = s.cols.get(table) ?? [], tc = new Map((t.cols.get(table) ?? []).map((c) => [c.name, c]));
    for (const c of sc) {
      const there = tc.get(c.name);
      const add = `ALTER TABLE ${table} ADD COLUMN ${c.name} ${c.type}${c.def !== null && !c.generated ? ` DEFAULT ${c.def}` : ''}${c.notnull ? ' NOT NULL' : ''}`;
      if (!there) {
        if (c.generated || c.identity) {
          plan.refused.push(`${table}: new ${c.generated ? 'generated' : 'identity'} column ${c.name}`);
          plan.suggested.push(`${add} -- as declared on the source`);
        } else if (c.notnull && c.def === null) {
          plan.refused.push(`${table}: new column ${c.name} is NOT NULL without a default`);
          plan.suggested.push(add);
        } else plan.statements.push(add);
      } else if (there.type !== c.type) {
        plan.refused.push(`${table}: column ${c.name} changed type (${there.type} on the target, ${c.type} on the source)`);
        plan.suggested.push(`ALTER TABLE ${table} ALTER COLUMN ${c.name} TYPE ${c.type}`);
      }
    }
    for (const name of tc.keys()) {
      if (!sc.some((c) => c.name === name)) {
        plan.refused.push(`${table}: column ${name} was dropped or renamed on the source`);
        plan.suggested.push(`ALTER TABLE ${table} DROP COLUMN ${name} -- or RENAME, as on the source`);
      }
    }
  }
  return plan;
}

interface Index {
  table_name: string; schema_name: string; index_name: string; def: string; shape: string; valid: boolean; partitioned: boolean;
  contype: 'p' | 'u' | 'x' | null; conname: string | null; condef: string | null; deferrable: boolean; deferred: boolean;
}

/** One index the target lacks: what creates it there, and the constraint it then backs (if any). */
export interface IndexAction { table: string; name: string; qualified: string; create: string; concurrently: boolean; attach?: string; dropInvalid: boolean }

export interface IndexPlan {
  create: IndexAction[]; refused: string[]; suggested: string[];
  /** The target's valid indexes the source does not have (qualified names), the baseline of the next plans. */
  targetOnly: string[];
}

async function readIndexes(c: pg.Client, relids: number[]): Promise<Index[]> {
  return withPinnedSettings(c, async () => (await c.query<Index>(loadSql(import.meta.url, 'sql/indexes.sql'), [relids])).rows);
}

/**
 * The source's valid indexes on replicated tables that the target lacks (by table and name): plain and
 * UNIQUE indexes are built `CONCURRENTLY` (plainly on a partitioned table, where CONCURRENTLY does not
 * exist); a UNIQUE constraint is built as its index, then attached (ADD CONSTRAINT ... USING INDEX), as the
 * copy does. Refused: a new primary key (the replication key would change) and a new exclusion constraint.
 * An index the source is still building (not yet valid) waits for a later tick.
 *
 * Indexes only the target has: those it had when ddl: follow first looked (`known`: the target's own,
 * e.g. built there for the new server) are left alone. One that appears later was dropped or renamed on
 * the source: refused (a UNIQUE one would refuse rows the source now takes; either would leave the schema
 * different after the switch), with the statement that does the same on the target. A rename is told
 * from a drop by the definition without the name; its new name is then not built as a second index.
 */
export async function planIndexes(src: pg.Client, tgt: pg.Client, srcRelids: number[], tgtRelids: number[], known?: ReadonlySet<string>): Promise<IndexPlan> {
  const s = await readIndexes(src, srcRelids), t = await readIndexes(tgt, tgtRelids);
  // Index names are unique in their schema: the qualified name identifies one (and can be stored).
  const key = (x: Index) => `${quoteIdent(x.schema_name)}.${quoteIdent(x.index_name)}`;
  const have = new Set(t.filter((x) => x.valid).map(key));
  const onSource = new Set(s.map(key));
  // An INVALID index of that name on the target: a build of ours that did not finish (connection lost).
  const invalid = new Set(t.filter((x) => !x.valid).map(key));
  const targetOnly = t.filter((x) => x.valid && !onSource.has(key(x)));
  const plan: IndexPlan = { create: [], refused: [], suggested: [], targetOnly: targetOnly.map(key) };
  const renamedTo = new Set<string>();
  for (const x of targetOnly) {
    if (!known || known.has(key(x))) continue;
    const qualified = `${quoteIdent(x.schema_name)}.${quoteIdent(x.index_name)}`;
    const renamed = s.find((y) => y.valid && y.table_name === x.table_name && y.shape === x.shape && !have.has(key(y)));
    if (renamed) {
      renamedTo.add(key(renamed));
      plan.refused.push(`${x.table_name}: index ${quoteIdent(x.index_name)} was renamed on the source to ${quoteIdent(renamed.index_name)}`);
      plan.suggested.push(x.conname
        ? `ALTER TABLE ${x.table_name} RENAME CONSTRAINT ${quoteIdent(x.conname)} TO ${quoteIdent(renamed.conname ?? renamed.index_name)}`
        : `ALTER INDEX ${qualified} RENAME TO ${quoteIdent(renamed.index_name)}`);
    } else {
      plan.refused.push(`${x.table_name}: ${x.conname ? `constraint ${quoteIdent(x.conname)}` : `${/^CREATE UNIQUE/.test(x.def) ? 'UNIQUE ' : ''}index ${quoteIdent(x.index_name)}`} was dropped on the source`);
      plan.suggested.push(x.conname ? `ALTER TABLE ${x.table_name} DROP CONSTRAINT ${quoteIdent(x.conname)}` : `DROP INDEX CONCURRENTLY ${qualified}`);
    }
  }
  for (const x of s) {
    if (!x.valid || have.has(key(x)) || renamedTo.has(key(x))) continue;
    const qualified = `${quoteIdent(x.schema_name)}.${quoteIdent(x.index_name)}`;
    if (x.contype === 'p' || x.contype === 'x') {
      plan.refused.push(`${x.table_name}: new ${x.contype === 'p' ? 'primary key' : 'exclusion constraint'} ${quoteIdent(x.conname!)}`);
      plan.suggested.push(`ALTER TABLE ${x.table_name} ADD CONSTRAINT ${quoteIdent(x.conname!)} ${x.condef}`);
      continue;
    }
    // pg_get_indexdef() begins "CREATE [UNIQUE] INDEX <name> ON ...".
    const create = x.partitioned ? x.def : x.def.replace(/^CREATE (UNIQUE )?INDEX /, (m) => `${m}CONCURRENTLY `);
    plan.create.push({
      table: x.table_name, name: x.index_name, qualified, create, concurrently: !x.partitioned, dropInvalid: invalid.has(key(x)),
      attach: x.contype === 'u'
        ? `ALTER TABLE ${x.table_name} ADD CONSTRAINT ${quoteIdent(x.conname!)} UNIQUE USING INDEX ${quoteIdent(x.index_name)}${x.deferrable ? ` DEFERRABLE INITIALLY ${x.deferred ? 'DEFERRED' : 'IMMEDIATE'}` : ''}`
        : undefined,
    });
  }
  return plan;
}

/**
 * Statements that create a new table on the target: `before` its rows are copied, `after` (indexes, foreign
 * keys), `finish` (comments, triggers, row-level security and policies, owner, grants through the role map:
 * each may fail alone).
 */
export async function tableStatements(src: pg.Client, relid: number, roleMap: RoleMap = EMPTY_ROLE_MAP): Promise<{ before: string[]; after: string[]; finish: string[] }> {
  const rows = await withPinnedSettings(src, async () => (await src.query<{ phase: 'before' | 'after' | 'finish'; stmt: string }>(loadSql(import.meta.url, 'sql/table-ddl.sql'),
    [relid, JSON.stringify(Object.fromEntries(roleMap))])).rows);
  const of = (phase: string) => rows.filter((r) => r.phase === phase).map((r) => r.stmt);
  return { before: of('before'), after: of('after'), finish: of('finish') };
}

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
import { CUTOVER_SCHEMA } from '../pg/private-schema.js';
import type pg from 'pg';
import { loadSql, quoteIdent, quoteLiteral } from '../pg/sql.js';
import { withPinnedSettings } from './catalog.js';
import { EMPTY_ROLE_MAP, type RoleMap } from '../pg/role-map.js';

export interface DdlPlan {
  statements: string[]; refused: string[]; suggested: string[];
  /**
   * Tables (qualified, quoted) a new column was added to whose existing rows' values the target cannot
   * compute: the source column has a default (volatile, stable or since changed or dropped: the values the
   * source's ALTER gave its rows are not what the target's would), so the applier reads them again in full.
   */
  refresh: string[];
}

// Compared by their names as stored (quote_ident() and format('%I') quote by each server's own keyword
// list, which differs between major versions); written into statements with every identifier quoted.
interface Col { name: string; type: string; notnull: boolean; def: string | null; generated: string; identity: string; missing: boolean }

const COLUMNS = `SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull AS notnull,
    pg_get_expr(d.adbin, d.adrelid) AS def, a.attgenerated::text AS generated, a.attidentity::text AS identity, a.atthasmissing AS missing
  FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
 WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`;
const ENUMS = `SELECT n.nspname AS schema, t.typname AS type, format('%I.%I', n.nspname, t.typname) AS name, array_agg(e.enumlabel::text ORDER BY e.enumsortorder) AS labels
  FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace JOIN pg_enum e ON e.enumtypid = t.oid
 WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', '${CUTOVER_SCHEMA}') GROUP BY 1, 2, 3`;

interface Enum { schema: string; type: string; name: string; labels: string[] }

async function read(c: pg.Client, tables: string[]): Promise<{ cols: Map<string, Col[]>; enums: Map<string, Enum> }> {
  return withPinnedSettings(c, async () => {
    const cols = new Map<string, Col[]>();
    for (const t of tables) cols.set(t, (await c.query<Col>(COLUMNS, [t])).rows);
    const enums = new Map((await c.query<Enum>(ENUMS)).rows.map((r) => [`${r.schema}\u0000${r.type}`, r]));
    return { cols, enums };
  });
}

/** The additive statements that make the target's tables (qualified, quoted names) and enums follow the source's. */
export async function planDdl(src: pg.Client, tgt: pg.Client, tables: string[]): Promise<DdlPlan> {
  const s = await read(src, tables), t = await read(tgt, tables);
  const plan: DdlPlan = { statements: [], refused: [], suggested: [], refresh: [] };
  const schemas = new Set([...t.enums.values()].map((e) => e.schema));
  for (const [key, { schema, type, name, labels }] of s.enums) {
    const have = t.enums.get(key)?.labels;
    if (!have) {
      // A new type may live in a new schema (its tables' schema is created later, with them).
      if (!schemas.has(schema)) plan.statements.push(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(schema)}`);
      schemas.add(schema);
      plan.statements.push(`CREATE TYPE ${quoteIdent(schema)}.${quoteIdent(type)} AS ENUM (${labels.map(quoteLiteral).join(', ')})`);
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
      const add = `ALTER TABLE ${table} ADD COLUMN ${quoteIdent(c.name)} ${c.type}${c.def !== null && !c.generated ? ` DEFAULT ${c.def}` : ''}${c.notnull ? ' NOT NULL' : ''}`;
      if (!there) {
        if (c.generated || c.identity) {
          plan.refused.push(`${table}: new ${c.generated ? 'generated' : 'identity'} column ${quoteIdent(c.name)}`);
          plan.suggested.push(`${add} -- as declared on the source`);
        } else if (c.notnull && c.def === null) {
          plan.refused.push(`${table}: new column ${quoteIdent(c.name)} is NOT NULL without a default`);
          plan.suggested.push(add);
        } else {
          plan.statements.push(add);
          // The rows the source had got the default as its ALTER computed it (or a value since dropped).
          if ((c.def !== null || c.missing) && !plan.refresh.includes(table)) plan.refresh.push(table);
        }
      } else if (there.type !== c.type) {
        plan.refused.push(`${table}: column ${quoteIdent(c.name)} changed type (${there.type} on the target, ${c.type} on the source)`);
        plan.suggested.push(`ALTER TABLE ${table} ALTER COLUMN ${quoteIdent(c.name)} TYPE ${c.type}`);
      }
    }
    for (const name of tc.keys()) {
      if (!sc.some((c) => c.name === name)) {
        plan.refused.push(`${table}: column ${quoteIdent(name)} was dropped or renamed on the source`);
        plan.suggested.push(`ALTER TABLE ${table} DROP COLUMN ${quoteIdent(name)} -- or RENAME, as on the source`);
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
  /** The source's indexes now (qualified names): what the next plans know the source had. */
  sourceIndexes: string[];
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
 * Indexes only the target has: one the source had (`seen`: the source's indexes since ddl: follow first
 * looked) was dropped or renamed there: refused (a UNIQUE one would refuse rows the source now takes;
 * either would leave the schema different after the switch), with the statement that does the same on
 * the target. A rename is told from a drop by the definition without the name; its new name is then not
 * built as a second index. One the source never had is the target's own (built there for the new
 * server): left alone. The same name with another definition is refused too.
 */
export async function planIndexes(src: pg.Client, tgt: pg.Client, srcRelids: number[], tgtRelids: number[], seen?: ReadonlySet<string>): Promise<IndexPlan> {
  const s = await readIndexes(src, srcRelids), t = await readIndexes(tgt, tgtRelids);
  // Index names are unique in their schema: the qualified name identifies one (and can be stored).
  const key = (x: Index) => `${quoteIdent(x.schema_name)}.${quoteIdent(x.index_name)}`;
  const have = new Set(t.filter((x) => x.valid).map(key));
  const onSource = new Set(s.map(key));
  // An INVALID index of that name on the target: a build of ours that did not finish (connection lost).
  const invalid = new Set(t.filter((x) => !x.valid).map(key));
  const targetOnly = t.filter((x) => x.valid && !onSource.has(key(x)));
  const plan: IndexPlan = { create: [], refused: [], suggested: [], sourceIndexes: s.map(key) };
  const renamedTo = new Set<string>();
  for (const x of targetOnly) {
    if (!seen?.has(key(x))) continue;
    const qualified = `${quoteIdent(x.schema_name)}.${quoteIdent(x.index_name)}`;
    // Each source index pairs with one target index at most (two identical indexes both renamed).
    const renamed = s.find((y) => y.valid && y.table_name === x.table_name && y.shape === x.shape && !have.has(key(y)) && !renamedTo.has(key(y)));
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
  // The same name with another definition: dropped and created again (or renamed, and another one given
  // its old name) on the source.
  const onTarget = new Map(t.filter((x) => x.valid).map((x) => [key(x), x]));
  for (const x of s) {
    const there = onTarget.get(key(x));
    if (!x.valid || !there || there.shape === x.shape) continue;
    plan.refused.push(`${x.table_name}: index ${quoteIdent(x.index_name)} has another definition on the source (${x.def}) than on the target (${there.def})`);
    plan.suggested.push(`DROP INDEX CONCURRENTLY ${quoteIdent(x.schema_name)}.${quoteIdent(x.index_name)}`, x.def);
  }
  // A target-only index of the same definition (the operator kept the old name after a rename, or built
  // it there): the source's is not built again under its name.
  const sameOnTarget = (x: Index) => !x.contype && targetOnly.some((y) => !y.contype && y.table_name === x.table_name && y.shape === x.shape);
  for (const x of s) {
    if (!x.valid || have.has(key(x)) || renamedTo.has(key(x)) || sameOnTarget(x)) continue;
    const qualified = `${quoteIdent(x.schema_name)}.${quoteIdent(x.index_name)}`;
    if (x.contype === 'p' || x.contype === 'x') {
      plan.refused.push(`${x.table_name}: new ${x.contype === 'p' ? 'primary key' : 'exclusion constraint'} ${quoteIdent(x.conname!)}`);
      plan.suggested.push(`ALTER TABLE ${x.table_name} ADD CONSTRAINT ${quoteIdent(x.conname!)} ${x.condef}`);
      continue;
    }
    if (x.partitioned && x.contype === 'u') {
      // A partitioned table's UNIQUE constraint cannot be attached USING INDEX: added as on the source
      // (its index on every partition comes with it).
      plan.create.push({ table: x.table_name, name: x.index_name, qualified, create: `ALTER TABLE ${x.table_name} ADD CONSTRAINT ${quoteIdent(x.conname!)} ${x.condef}`,
        concurrently: false, dropInvalid: invalid.has(key(x)) });
      continue;
    }
    // pg_get_indexdef() begins "CREATE [UNIQUE] INDEX <name> ON ..." ("ON ONLY" for a partitioned table's
    // index: built here on the partitions too, as the source's were attached).
    const create = x.partitioned ? x.def.replace(/^(CREATE (?:UNIQUE )?INDEX \S+|CREATE (?:UNIQUE )?INDEX "(?:[^"]|"")+") ON ONLY /, '$1 ON ')
      : x.def.replace(/^CREATE (UNIQUE )?INDEX /, (m) => `${m}CONCURRENTLY `);
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
export async function tableStatements(src: pg.Client, relid: number, roleMap: RoleMap = EMPTY_ROLE_MAP): Promise<{ before: string[]; after: string[]; finish: FinishStatement[] }> {
  const rows = await withPinnedSettings(src, async () => (await src.query<{ phase: 'before' | 'after' | 'finish'; stmt: string; ord: number }>(loadSql(import.meta.url, 'sql/table-ddl.sql'),
    [relid, JSON.stringify(Object.fromEntries(roleMap))])).rows);
  const of = (phase: string) => rows.filter((r) => r.phase === phase);
  // Triggers and their states (8, 9), row-level security (10) and restrictive policies (11): left out,
  // they would change rows after the switch or widen who sees them. The rest only narrows or describes.
  const must = (r: { ord: number; stmt: string }) => r.ord === 8 || r.ord === 9 || r.ord === 10 || (r.ord === 11 && / AS RESTRICTIVE FOR /.test(r.stmt));
  return { before: of('before').map((r) => r.stmt), after: of('after').map((r) => r.stmt), finish: of('finish').map((r) => ({ sql: r.stmt, required: must(r) })) };
}

/** A statement of a new table's definition after its rows; `required` ones halt when the target refuses them. */
export interface FinishStatement { sql: string; required: boolean }

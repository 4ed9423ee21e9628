/**
 * Resolves a table selection (`tables` / `exclude_tables`, CLI and runbook) against the source catalog.
 * A selection that names nothing is an error, never "0 tables, identical":
 * - every name must exist, or the command fails listing the unknown names with close matches;
 * - `schema.table` (either part may be double-quoted; an unquoted part matches as typed, else folded to
 *   lower case as SQL would) or the exact text `schema.table` of a catalog name;
 * - an unqualified name resolves the way search_path would (the first schema on the session's path that
 *   has it); off the path it resolves when exactly one schema has it, and is refused as ambiguous when
 *   several do (the candidates are listed);
 * - a selection that leaves zero tables fails.
 * A partitioned table selects its partitions (the tables that hold its rows).
 */
import { displayName as plainName, messageName as displayName } from './table-name.js';
import type pg from 'pg';
import { CutoverError } from '../errors.js';
import { loadSql, qualify } from './sql.js';
import { editDistance } from '../lib/similar.js';

export interface TableSelection {
  /** Only these (default: every table). */
  tables?: readonly string[];
  excludeTables?: readonly string[];
}

export interface CatalogRelation {
  schema: string;
  name: string;
  kind: 'r' | 'p' | 'm';
  /** For a partitioned table: its leaf partitions. */
  leaves: { schema: string; name: string }[];
}

export interface ResolvedSelection {
  /** Selected relations and their leaves, as the raw key `schema.name` (no quoting). */
  keys: Set<string>;
  /** The selected relations, schema-qualified and quoted. */
  qualified: string[];
  /** The names as given, each resolved to the relation it names (qualified, quoted), for engines that take names. */
  resolved: { tables?: string[]; excludeTables?: string[] };
}

export const relKey = plainName;

export { displayName };

interface NamePart { text: string; quoted: boolean }

/** Splits `a.b`, `"a.b"."c"` into parts; `""` inside quotes is one quote. */
export function parseName(s: string): NamePart[] {
  const parts: NamePart[] = [];
  let cur = '', inQ = false, quoted = false;
  for (let i = 0; i < s.length; i++) {
    const ch = s[i]!;
    if (inQ) {
      if (ch === '"' && s[i + 1] === '"') { cur += '"'; i++; } else if (ch === '"') inQ = false; else cur += ch;
    } else if (ch === '"') { inQ = true; quoted = true; } else if (ch === '.') { parts.push({ text: cur, quoted }); cur = ''; quoted = false; } else cur += ch;
  }
  parts.push({ text: cur, quoted });
  return parts;
}

/** Up to three catalog names close to `name` (edit distance, or same letters in another case). */
export function closeMatches(name: string, catalog: readonly CatalogRelation[]): string[] {
  const want = name.toLowerCase();
  const bare = (parseName(name).at(-1)?.text ?? name).toLowerCase();
  const scored = catalog.map((t) => {
    const full = relKey(t).toLowerCase();
    const d = Math.min(editDistance(want, full), editDistance(bare, t.name.toLowerCase()));
    return { t, d };
  }).filter((x) => x.d <= Math.max(2, Math.floor(bare.length / 3)));
  scored.sort((a, b) => a.d - b.d || relKey(a.t).localeCompare(relKey(b.t)));
  return scored.slice(0, 3).map((x) => displayName(x.t));
}

type Lookup = { found: CatalogRelation } | { problem: string };

function lookup(raw: string, catalog: readonly CatalogRelation[], searchPath: readonly string[]): Lookup {
  // The exact text of a catalog name (as reports print it) first.
  const exact = catalog.find((t) => relKey(t) === raw);
  if (exact) return { found: exact };
  const parts = parseName(raw.trim());
  const matches = (p: NamePart, v: string) => p.text === v || (!p.quoted && p.text.toLowerCase() === v);
  const pick = (cands: CatalogRelation[], p: NamePart) => {
    const asTyped = cands.filter((t) => t.name === p.text);
    return asTyped.length ? asTyped : cands;
  };
  if (parts.length === 2) {
    const [s, n] = parts as [NamePart, NamePart];
    const c = catalog.filter((t) => matches(s, t.schema) && matches(n, t.name));
    if (c.length === 1) return { found: c[0]! };
    if (c.length > 1) {
      const best = pick(c.filter((t) => t.schema === s.text || c.every((x) => x.schema !== s.text)), n);
      if (best.length === 1) return { found: best[0]! };
    }
    return { problem: `"${raw}" not found` };
  }
  if (parts.length === 1) {
    const [n] = parts as [NamePart];
    const cands = pick(catalog.filter((t) => matches(n, t.name)), n);
    if (!cands.length) return { problem: `"${raw}" not found` };
    for (const s of searchPath) {
      const onPath = cands.find((t) => t.schema === s);
      if (onPath) return { found: onPath };
    }
    if (cands.length === 1) return { found: cands[0]! };
    return { problem: `"${raw}" is ambiguous: ${cands.map(displayName).join(', ')} (none on the search_path ${searchPath.join(', ') || '(empty)'}); name the schema` };
  }
  return { problem: `"${raw}" is not a table name (schema.table)` };
}

/** Pure resolution (testable without a server): every problem collected, then one error. */
export function resolveSelection(catalog: readonly CatalogRelation[], searchPath: readonly string[], sel: TableSelection, what: string): ResolvedSelection {
  const problems: string[] = [];
  const resolve = (names: readonly string[] | undefined, option: string): CatalogRelation[] => {
    const out: CatalogRelation[] = [];
    for (const raw of names ?? []) {
      const r = lookup(raw, catalog, searchPath);
      if ('found' in r) { out.push(r.found); continue; }
      const close = r.problem.includes('not found') ? closeMatches(raw, catalog) : [];
      problems.push(`${option} ${r.problem}${close.length ? ` (did you mean ${close.join(', ')}?)` : ''}`);
    }
    return out;
  };
  const included = sel.tables ? resolve(sel.tables, 'tables:') : [...catalog];
  const excluded = resolve(sel.excludeTables, 'exclude_tables:');
  if (problems.length) {
    throw new CutoverError('E_USAGE', `${what}: the table selection names tables the source does not have:\n  ${problems.join('\n  ')}`, {
      hint: 'name tables as schema.table (quote parts with unusual characters: "My Schema"."Orders"); nothing was read or changed',
      details: { problems },
    });
  }
  const keysOf = (t: CatalogRelation) => [relKey(t), ...t.leaves.map(relKey)];
  const out = new Set(included.flatMap(keysOf));
  for (const t of excluded) for (const k of keysOf(t)) out.delete(k);
  const chosen = catalog.filter((t) => out.has(relKey(t)));
  if (!chosen.length) {
    throw new CutoverError('E_USAGE', `${what}: the table selection leaves no table to work on` +
      `${catalog.length ? '' : ' (the source has no tables)'}`, {
      hint: 'check tables / exclude_tables (a verify over nothing proves nothing); nothing was read or changed',
    });
  }
  const q = (t: CatalogRelation) => qualify(t.schema, t.name);
  return {
    keys: out, qualified: chosen.map(q),
    resolved: { tables: sel.tables ? included.map(q) : undefined, excludeTables: sel.excludeTables ? excluded.map(q) : undefined },
  };
}

export async function readCatalog(c: pg.Client): Promise<{ catalog: CatalogRelation[]; searchPath: string[] }> {
  const { rows } = await c.query<{ schema: string; name: string; kind: 'r' | 'p' | 'm'; leaf_schemas: string[]; leaf_names: string[]; search_path: string[] }>(
    loadSql(import.meta.url, 'sql/select-tables.sql'));
  return {
    catalog: rows.map((r) => ({ schema: r.schema, name: r.name, kind: r.kind, leaves: r.leaf_schemas.map((s, i) => ({ schema: s, name: r.leaf_names[i]! })) })),
    searchPath: rows[0]?.search_path ?? [],
  };
}

/** Resolves a selection on the source (`c`); undefined when there is none (everything is selected). */
export async function selectTables(c: pg.Client, sel: TableSelection, what: string): Promise<ResolvedSelection | undefined> {
  if (!sel.tables && !sel.excludeTables?.length) return undefined;
  const { catalog, searchPath } = await readCatalog(c);
  return resolveSelection(catalog, searchPath, sel, what);
}

/** What a dump, copy, restore or capture includes (pg_dump's -n/-N/-t/-T). */
export interface SelectionOptions {
  /** Only these schemas (pg_dump -n). */
  schemas?: string[];
  excludeSchemas?: string[];
  /** Only these tables, "schema.table" (pg_dump -t). */
  tables?: string[];
  excludeTables?: string[];
}

/** "schema.table" where either part may be double-quoted ("a.b"."c"). */
export function splitQualified(s: string): { schema?: string; name: string } {
  const parts: string[] = [];
  let cur = '', inQ = false;
  for (let i = 0; i < s.length; i++) {
    const ch = s[i]!;
    if (inQ) {
      if (ch === '"' && s[i + 1] === '"') { cur += '"'; i++; }
      else if (ch === '"') inQ = false;
      else cur += ch;
    } else if (ch === '"') inQ = true;
    else if (ch === '.') { parts.push(cur); cur = ''; }
    else cur += ch;
  }
  parts.push(cur);
  return parts.length >= 2 ? { schema: parts.slice(0, -1).join('.'), name: parts.at(-1)! } : { name: parts[0]! };
}

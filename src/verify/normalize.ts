/**
 * The text each row is hashed over. Sessions are pinned (UTC, ISO dates, IntervalStyle=postgres,
 * extra_float_digits=3, hex bytea: see READ_SETTINGS) so two servers of different major versions that
 * hold the same data print it the same way. json columns are compared as jsonb (key order and whitespace
 * do not matter); every other type's output function is canonical for a given value (a numeric's scale is
 * part of its value: a different typmod is a schema difference, reported by the schema comparison).
 * Record text keeps NULL and '' apart.
 */
import { quoteIdent } from '../pg/sql.js';

export interface ColumnInfo {
  name: string;
  type: string;
  base_type: string;
  category: string;
  element_type: string;
}

export function needsNormalising(c: ColumnInfo): boolean {
  return c.base_type === 'json' || c.base_type === '_json';
}

export function columnExpr(c: ColumnInfo, alias?: string): string {
  const q = alias ? `${alias}.${quoteIdent(c.name)}` : quoteIdent(c.name);
  if (c.base_type === 'json') return `(${q})::jsonb::text`;
  if (c.base_type === '_json') return `(${q})::jsonb[]::text`;
  return `(${q})::text`;
}

/**
 * The row's text. With `wholeRow`, the table alias's own record text (one output call per column, the
 * cheapest form); otherwise ROW(col::text, ...) over the given columns, normalising json.
 */
export function rowText(cols: ColumnInfo[], alias: string, wholeRow: boolean): string {
  if (wholeRow) return `${alias}::text`;
  if (cols.length === 0) return `''`;
  return `ROW(${cols.map((c) => columnExpr(c, alias)).join(', ')})::text`;
}

/**
 * 64-bit hash of the row text, summed per chunk (as numeric: order-independent, no overflow).
 * hashtextextended is the hash behind hash partitioning, kept stable across versions for pg_upgrade.
 */
export function rowHash64(rowTextExpr: string): string {
  return `hashtextextended(${rowTextExpr}, 0)`;
}

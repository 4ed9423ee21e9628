/**
 * The text each row is hashed over. Sessions are pinned (UTC, ISO dates, IntervalStyle=postgres,
 * extra_float_digits=3, hex bytea: see READ_SETTINGS) so two servers of different major versions that
 * hold the same data print it the same way. json is compared as its exact text (json stores the text as
 * given: whitespace, key order and duplicate keys are part of it, and applications can depend on them);
 * every other type's output function is canonical for a given value (a numeric's scale is part of its
 * value: a different typmod is a schema difference, reported by the schema comparison).
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

/** No type needs normalising today (json used to be compared as jsonb); kept as the one place to add one. */
export function needsNormalising(_c: ColumnInfo): boolean {
  return false;
}

export function columnExpr(c: ColumnInfo, alias?: string): string {
  const q = alias ? `${alias}.${quoteIdent(c.name)}` : quoteIdent(c.name);
  return `(${q})::text`;
}

/**
 * The row's text. With `wholeRow`, the table alias's own record text (one output call per column, the
 * cheapest form); otherwise ROW(col::text, ...) over the given columns.
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

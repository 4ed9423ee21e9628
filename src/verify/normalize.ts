/**
 * The normalised text form each row is hashed over. Sessions are pinned (UTC, ISO dates,
 * extra_float_digits=3, hex bytea: see READ_SETTINGS) so two servers of different major versions that
 * hold the same data produce the same text; json is compared as jsonb (key order and whitespace do not
 * matter) and numerics in canonical form (trailing zeros trimmed). ROW(...)::text keeps NULL and '' apart.
 */
import { quoteIdent } from '../pg/sql.js';

export interface ColumnInfo {
  name: string;
  type: string;
  base_type: string;
  category: string;
  element_type: string;
}

export function columnExpr(c: ColumnInfo, serverMajor: number): string {
  const q = quoteIdent(c.name);
  if (c.base_type === 'json') return `(${q})::jsonb::text`;
  if (c.base_type === '_json') return `(${q})::jsonb[]::text`;
  // trim_scale exists from PostgreSQL 13.
  if (c.base_type === 'numeric' && serverMajor >= 13) return `trim_scale(${q})::text`;
  return `(${q})::text`;
}

/** ROW(expr, ...)::text over the given columns: the canonical text of a row. */
export function rowText(cols: ColumnInfo[], serverMajor: number): string {
  if (cols.length === 0) return `''`;
  return `ROW(${cols.map((c) => columnExpr(c, serverMajor)).join(', ')})::text`;
}

/** A 64-bit signed integer from the row text's md5: summed (as numeric) it is order-independent. */
export function rowHash64(rowTextExpr: string): string {
  return `('x' || substr(md5(${rowTextExpr}), 1, 16))::bit(64)::bigint`;
}

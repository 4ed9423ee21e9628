/**
 * Tables without a key are replicated with the whole row as their identity (like logical replication's
 * REPLICA IDENTITY FULL): capture logs whole rows, the applier applies each row value's net count, and
 * matches the target's rows by the columns that have an equality operator. A table none of whose
 * columns has one (only `point`, `json`, ...) cannot be matched and is refused by name.
 */
import type pg from 'pg';
import { qualify, quoteIdent } from '../pg/sql.js';

/**
 * The columns of a table that `IS NOT DISTINCT FROM` can compare, found by asking the server to plan
 * exactly that comparison (operator resolution covers domains, enums, arrays and extension types).
 * Generated columns are left out: the target computes them from the others.
 */
export async function equalityColumns(c: pg.Client, schema: string, name: string, only?: readonly string[]): Promise<string[]> {
  const cols = (await c.query<{ name: string }>(
    `SELECT a.attname AS name FROM pg_attribute a WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = '' ORDER BY a.attnum`,
    [qualify(schema, name)])).rows.map((r) => r.name).filter((n) => !only || only.includes(n));
  const out: string[] = [];
  if (!cols.length) return out;
  await c.query('BEGIN');
  try {
    for (const col of cols) {
      await c.query('SAVEPOINT eq');
      try {
        await c.query(`EXPLAIN SELECT 1 FROM ${qualify(schema, name)} x WHERE x.${quoteIdent(col)} IS NOT DISTINCT FROM x.${quoteIdent(col)}`);
        out.push(col);
      } catch {
        // 42883 (no operator) and the like: this column cannot take part in matching.
      }
      await c.query('ROLLBACK TO SAVEPOINT eq');
    }
  } finally {
    await c.query('ROLLBACK');
  }
  return out;
}

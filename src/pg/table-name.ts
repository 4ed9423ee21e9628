/**
 * A table (or any relation) by name: the one identity type, with its one display form and its one map key.
 * Engines keep their richer shapes (plans, facts, captured tables) and extend this one.
 */
import { qualify } from './sql.js';

export interface TableName { schema: string; name: string }

/** How reports, progress lines and messages show a table: schema.name as the catalogs spell it. */
export const displayName = (t: TableName): string => `${t.schema}.${t.name}`;

/**
 * How messages name a table the operator may type back (`--table`, `tables:`): a part is quoted only when
 * it must be, so the text selects exactly that table.
 */
export function messageName(t: TableName): string {
  const part = (s: string) => (/^[a-z_][a-z0-9_$]*$/.test(s) ? s : `"${s.replace(/"/g, '""')}"`);
  return `${part(t.schema)}.${part(t.name)}`;
}

/** A key no two tables share (names may hold dots and quotes): the quoted, qualified name, as SQL takes it. */
export const tableKey = (t: TableName): string => qualify(t.schema, t.name);

/**
 * Tables whose rows row-level security hides from the connected role. verify (which reads with
 * row_security = off, so such a read is an error rather than a silently partial comparison) refuses
 * them before reading anything; doctor reports them before anything is copied.
 */
import type pg from 'pg';
import { loadSql } from './sql.js';
import { displayName } from './select-tables.js';

export interface RlsFiltered { schema: string; name: string; forced: boolean; owned: boolean; owner: string }

export async function rlsFilteredTables(c: pg.Client): Promise<RlsFiltered[]> {
  return (await c.query<RlsFiltered>(loadSql(import.meta.url, 'sql/rls-filtered.sql'))).rows;
}

/** One line per table, saying why its rows are filtered. */
export function describeRlsFiltered(t: RlsFiltered): string {
  return `${displayName(t)} (${t.forced && t.owned ? 'FORCE ROW LEVEL SECURITY: even its owner is filtered' : `row-level security; owner ${t.owner}`})`;
}

export const RLS_HINT = 'connect as a role with BYPASSRLS (ALTER ROLE ... BYPASSRLS, or a superuser); a table\'s owner also reads every ' +
  'row unless the table has FORCE ROW LEVEL SECURITY (then only BYPASSRLS does, or ALTER TABLE ... NO FORCE ROW LEVEL SECURITY ' +
  'for the duration and FORCE again after)';

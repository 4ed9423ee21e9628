/**
 * Checks a command makes at its entry, before anything runs: source and target are not one database,
 * and a table selection names tables the source has (one call each at copy, dump, restore, replicate,
 * doctor; verify makes them inside its session).
 */
import type { ConnParams } from './conninfo.js';
import { withClient } from './connect.js';
import { resolveEndpoint } from './endpoint.js';
import { databaseIdentity, refuseSameDatabase } from './identity.js';
import { selectTables, type TableSelection } from './select-tables.js';

/**
 * Refuses source == target (same server and database, whatever the URLs say). With `sourceOptional`
 * (restore: the source only matters if it is still there), an unreachable source skips the check.
 */
export async function refuseSameDatabaseAt(what: string, source: ConnParams, target: ConnParams, o: { sourceOptional?: boolean } = {}): Promise<void> {
  const [s, t] = [await resolveEndpoint(source), await resolveEndpoint(target)];
  const si = await withClient(s, `${what}-identity`, (c) => databaseIdentity(c, s)).catch((e: unknown) => {
    if (o.sourceOptional) return undefined;
    throw e;
  });
  if (!si) return;
  const ti = await withClient(t, `${what}-identity`, (c) => databaseIdentity(c, t));
  refuseSameDatabase(si, ti, what, { source, target });
}

/**
 * Resolves `tables` / `excludeTables` on the source: fails listing unknown or ambiguous names, or a
 * selection that leaves no table (see select-tables.ts). Returns them schema-qualified and quoted, each
 * naming exactly the table it resolved to, to be passed on instead of the names as typed.
 */
export async function resolveTableSelection(what: string, source: ConnParams, sel: TableSelection): Promise<{ tables?: string[]; excludeTables?: string[] }> {
  // An empty list means "no filter" to these engines (pg_dump -t, capture).
  if (!sel.tables?.length && !sel.excludeTables?.length) return {};
  const s = await resolveEndpoint(source);
  const r = await withClient(s, `${what}-selection`, (c) => selectTables(c, { tables: sel.tables?.length ? sel.tables : undefined, excludeTables: sel.excludeTables }, what));
  return r!.resolved;
}

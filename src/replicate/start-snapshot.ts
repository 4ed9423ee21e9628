/**
 * The consistent start: when change capture is installed on the source, the initial copy (streaming copy
 * or dump) records the snapshot it reads as the point replication starts from. Transactions that
 * snapshot shows are in the copy; the applier applies the others. Only the first copy's snapshot is kept:
 * a resumed copy that had to take a newer one is still covered, because applying a key's current state
 * again is harmless.
 */
import type pg from 'pg';
import { withClient } from '../pg/connect.js';
import { captureInstalled, readStorage } from './catalog.js';
import type { Endpoint } from '../pg/endpoint.js';

/** `reader` must be inside the copy's REPEATABLE READ transaction. Returns the recorded snapshot, if any. */
export async function recordStartSnapshot(source: Endpoint, reader: pg.Client, note: (m: string) => void = () => undefined): Promise<string | undefined> {
  if (!(await captureInstalled(reader))) return undefined;
  const { snap, at } = (await reader.query<{ snap: string; at: Date }>('SELECT pg_current_snapshot()::text AS snap, now() AS at')).rows[0]!;
  // The tables' storage as this snapshot sees it (what the copy reads): recorded with the snapshot.
  const tables = (await reader.query<{ tableid: number; relid: string }>('SELECT tableid, relid::int8 AS relid FROM _cutover.tables')).rows;
  const storage = Object.fromEntries(await readStorage(reader, tables.map((x) => ({ tableid: x.tableid, relid: Number(x.relid) }))));
  const kept = await withClient(source, 'replicate-mark', async (c) => (await c.query<{ s: string }>(
    `UPDATE _cutover.state SET start_snapshot = coalesce(start_snapshot, $1::pg_snapshot), start_snapshot_at = coalesce(start_snapshot_at, $2),
       storage = CASE WHEN start_snapshot IS NULL THEN $3::jsonb ELSE storage END
     RETURNING start_snapshot::text AS s`, [snap, at, JSON.stringify(storage)])).rows[0]?.s);
  note(kept === snap
    ? `change capture is on: replication will start from this copy's snapshot (${snap})`
    : `change capture is on: replication starts from an earlier copy's snapshot (${kept}); applying from there is safe`);
  return kept;
}

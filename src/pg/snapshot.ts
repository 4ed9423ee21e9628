/**
 * A group of sessions on one server that all read the same snapshot: a leader opens a REPEATABLE READ
 * transaction and exports its snapshot; each worker imports it. The leader must stay open until the
 * workers are done (an exported snapshot dies with its transaction).
 */
import type pg from 'pg';
import type { ConnParams } from './conninfo.js';
import { connect } from './connect.js';
import { resolveEndpoint } from './endpoint.js';

export interface SnapshotGroup {
  snapshotId: string;
  leader: pg.Client;
  workers: pg.Client[];
  /** Opens one more worker on the snapshot (the leader must still be open). */
  addWorker(name: string): Promise<pg.Client>;
  /** Ends one worker's session (its transaction is read-only: nothing to keep). */
  closeWorker(c: pg.Client): Promise<void>;
  close(): Promise<void>;
}

export const READ_SETTINGS: Record<string, string> = {
  // Pinned so that text forms are identical whatever the server's or role's defaults are.
  TimeZone: 'UTC',
  DateStyle: 'ISO, YMD',
  IntervalStyle: 'postgres',
  extra_float_digits: '3',
  bytea_output: 'hex',
  lock_timeout: '5s',
  idle_in_transaction_session_timeout: '0',
};

export async function openSnapshotGroup(p: ConnParams, step: string, workers: number,
  opts: { snapshotId?: string; settings?: Record<string, string> } = {}): Promise<SnapshotGroup> {
  const params = await resolveEndpoint(p);
  const settings = { ...READ_SETTINGS, ...opts.settings };
  const opened: pg.Client[] = [];
  const close = async () => {
    await Promise.all(opened.map((c) => c.query('ROLLBACK').catch(() => undefined).then(() => c.end()).catch(() => undefined)));
  };
  try {
    const leader = await connect(params, `${step}/leader`, { settings });
    opened.push(leader);
    await leader.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    let snapshotId = opts.snapshotId;
    if (snapshotId) await leader.query(`SET TRANSACTION SNAPSHOT '${snapshotId.replace(/'/g, "''")}'`);
    else snapshotId = (await leader.query<{ s: string }>('SELECT pg_export_snapshot() AS s')).rows[0]!.s;
    const sid = snapshotId;
    const addWorker = async (name: string) => {
      const c = await connect(params, `${step}/${name}`, { settings });
      opened.push(c);
      await c.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      await c.query(`SET TRANSACTION SNAPSHOT '${sid.replace(/'/g, "''")}'`);
      return c;
    };
    const closeWorker = async (c: pg.Client) => {
      opened.splice(opened.indexOf(c), 1);
      await c.end().catch(() => undefined);
    };
    const ws = await Promise.all(Array.from({ length: workers }, (_, i) => addWorker(`worker-${i + 1}`)));
    return { snapshotId, leader, workers: ws, addWorker, closeWorker, close };
  } catch (e) {
    await close();
    throw e;
  }
}

/**
 * One applier at a time per target database: a session-level advisory lock held by the applier's target
 * session. Two appliers would each commit the state of changed keys as of their own snapshot, and the
 * later commit of an older snapshot would put back rows the newer one had replaced (after a switch: over
 * the application's writes). A plain applier waits for the other to stop; a cutover or rollback ends the
 * running one (a service kept alive for the rollback window): its open batch rolls back whole, and when it
 * reconnects it waits here until the cutover is done.
 */
import type pg from 'pg';
import { CutoverError } from '../errors.js';
import { sleep } from '../lib/backoff.js';

const APPLIER_LOCK = 0x63766170; // 'cvap'

interface Holder { pid: number; app: string; since: Date }

async function tryLock(t: pg.Client): Promise<boolean> {
  return (await t.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1, hashtext(current_database())) AS ok', [APPLIER_LOCK])).rows[0]!.ok;
}

async function holder(t: pg.Client): Promise<Holder | undefined> {
  return (await t.query<Holder>(
    `SELECT a.pid, a.application_name AS app, a.backend_start AS since
       FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
      WHERE l.locktype = 'advisory' AND l.classid = $1::oid AND l.granted AND l.pid <> pg_backend_pid()
        AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())`, [APPLIER_LOCK])).rows[0];
}

export async function lockApplier(t: pg.Client, o: { takeOver: boolean; note: (m: string) => void }): Promise<void> {
  if (await tryLock(t)) return;
  let told = false;
  for (let i = 0; ; i++) {
    const h = await holder(t);
    if (h && o.takeOver) {
      const ended = await t.query<{ ok: boolean }>('SELECT pg_terminate_backend($1) AS ok', [h.pid]).then((r) => r.rows[0]!.ok, () => false);
      if (!ended) {
        throw new CutoverError('E_PREFLIGHT', `another applier is running against this target (backend pid ${h.pid}, ${h.app}, since ${h.since.toISOString()}) and cannot be stopped by this role`, {
          hint: 'stop it (the service running `cutover replicate apply`), then run this again',
        });
      }
      o.note(`stopped the applier already running against this target (backend pid ${h.pid}, ${h.app}): its open batch rolled back; it waits until this is done`);
    } else if (h && !told) {
      o.note(`another applier is running against this target (backend pid ${h.pid}, ${h.app}, since ${h.since.toISOString()}): waiting until it stops`);
      told = true;
    }
    await sleep(i < 20 ? 100 : 1000);
    if (await tryLock(t)) return;
  }
}

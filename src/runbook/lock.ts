/**
 * One run at a time per target: a session-level advisory lock on the target database, held by a control
 * connection for the whole run. It works across machines, and the server releases it if we die.
 */
import type pg from 'pg';
import { CutoverError } from '../errors.js';
import { redact } from '../pg/conninfo.js';
import { connect } from '../pg/connect.js';
import { sleep } from '../lib/backoff.js';
import type { Endpoint } from '../pg/endpoint.js';

const LOCK_CLASS = 0x63757476; // 'cutv'

export async function acquireRunLock(target: Endpoint, runbookName: string): Promise<pg.Client> {
  const c = await connect(target, 'run-lock');
  // A run killed a moment ago still holds the lock until the server notices its session is gone (a few
  // ms, more on a busy server): ask again for a few seconds before calling it another run.
  let got = false;
  for (let i = 0; i < 30 && !got; i++) {
    if (i) await sleep(100);
    got = (await c.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1, hashtext(current_database())) AS ok', [LOCK_CLASS])).rows[0]!.ok;
  }
  if (!got) {
    const holder = (await c.query<{ pid: number; app: string; addr: string | null; since: Date }>(
      `SELECT a.pid, a.application_name AS app, a.client_addr::text AS addr, a.backend_start AS since
         FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
        WHERE l.locktype = 'advisory' AND l.classid = $1::oid AND l.granted AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
      [LOCK_CLASS])).rows[0];
    await c.end();
    throw new CutoverError('E_PREFLIGHT', `another cutover run holds the lock on the target ${redact(target)}` +
      (holder ? ` (backend pid ${holder.pid}${holder.addr ? ` from ${holder.addr}` : ''}, connected since ${holder.since.toISOString()})` : ''), {
      hint: `only one run of "${runbookName}" (or any runbook) may write to a target at a time; wait for it, or stop it`,
    });
  }
  return c;
}

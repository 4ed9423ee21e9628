/**
 * Brief locks on tables the application uses: a transaction with a short lock_timeout, retried with
 * backoff (and after a deadlock with a writer), saying who holds the table. Used to install and drop
 * capture triggers and to fence writes.
 */
import type pg from 'pg';
import { CutoverError } from '../errors.js';
import { classifySqlState, sqlStateOf } from '../pg/sqlstate.js';
import { backoffMs, sleep } from '../lib/backoff.js';

/**
 * Runs `fn` in a transaction with a short lock_timeout; on a lock timeout, says who holds the table and
 * tries again (longer slices, growing pauses) until `maxLockWaitMs`. Returns the number of retries.
 */
export async function withLock(c: pg.Client, what: string, o: { lockTimeoutMs?: number; maxLockWaitMs?: number }, note: (m: string) => void,
  fn: () => Promise<void>): Promise<number> {
  const t0 = Date.now();
  const max = o.maxLockWaitMs ?? 300_000;
  for (let attempt = 0; ; attempt++) {
    await c.query('BEGIN');
    try {
      // Slices from 200 ms, doubling up to lockTimeoutMs: writers queue behind a waiting lock, so the first
      // tries are short. And locks are taken one table at a time: a writer holding a later table and
      // wanting an earlier one waits for us while we wait for it; a short slice breaks that before the
      // deadlock detector (1 s) does.
      const slice = backoffMs(attempt, { baseMs: 200, maxMs: o.lockTimeoutMs ?? 1000 });
      await c.query(`SELECT set_config('lock_timeout', $1, true)`, [`${slice}ms`]);
      await fn();
      await c.query('COMMIT');
      return attempt;
    } catch (e) {
      await c.query('ROLLBACK').catch(() => undefined);
      // A lock timeout, or a deadlock with a writer (locks taken one table at a time): wait and try again.
      const cls = classifySqlState(sqlStateOf(e));
      if (cls !== 'lock_timeout' && cls !== 'retryable') throw e;
      const holders = await lockHolders(c, what);
      if (Date.now() - t0 > max) {
        throw new CutoverError('E_PREFLIGHT', `${what}: could not get a brief lock in ${Math.round(max / 1000)} s; ${holders}`, {
          hint: 'a long transaction holds the table: let it finish (or end it), then run again; nothing else was changed for this table',
        });
      }
      note(`${what}: busy (${holders}); retrying`);
      // A short pause first (the fence's outage clock runs), longer ones for a holder that stays.
      await sleep(backoffMs(attempt, { baseMs: 20, factor: 4, maxMs: 5000 }));
    }
  }
}

/** Who holds the table `what`; for a step over several tables (not a table name), every open writing transaction. */
async function lockHolders(c: pg.Client, what: string): Promise<string> {
  const { rows } = await c.query<{ pid: number; usename: string | null; state: string | null; age: string | null }>(
    `SELECT DISTINCT ON (a.xact_start, a.pid) a.pid, a.usename, a.state, (now() - a.xact_start)::text AS age
       FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
      WHERE (l.relation = to_regclass($1) OR (to_regclass($1) IS NULL AND l.locktype = 'transactionid' AND l.mode = 'ExclusiveLock'))
        AND l.granted AND a.pid <> pg_backend_pid() AND a.datname = current_database()
      ORDER BY a.xact_start, a.pid LIMIT 3`, [what]).catch(() => ({ rows: [] }));
  return rows.length ? `held by ${rows.map((r) => `pid ${r.pid} (${r.usename ?? '?'}, ${r.state ?? '?'}, transaction open ${r.age ?? '?'})`).join(', ')}` : 'holder already gone';
}

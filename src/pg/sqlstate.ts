/**
 * Postgres errors classified by SQLSTATE (never by message text). Only the `retryable` class is retried,
 * with the backoff listed here (graphile-worker's lib.ts does the same).
 */
import { backoffMs, sleep } from '../lib/backoff.js';

export type ErrorClass =
  | 'auth' | 'no_database' | 'no_slots' | 'connection' | 'retryable' | 'lock_timeout'
  | 'privilege' | 'undefined_object' | 'canceled' | 'fk_violation' | 'data' | 'rule' | 'raised' | 'internal' | 'other';

const EXACT: Record<string, ErrorClass> = {
  '28P01': 'auth', // invalid_password
  '28000': 'auth', // invalid_authorization_specification (no pg_hba entry, role missing)
  '3D000': 'no_database', // invalid_catalog_name
  '53300': 'no_slots', // too_many_connections (incl. reserved slots, role/db limits)
  '57P03': 'retryable', // cannot_connect_now (server starting up)
  '40001': 'retryable', // serialization_failure
  '40P01': 'retryable', // deadlock_detected
  '55P03': 'lock_timeout', // lock_not_available (lock_timeout / NOWAIT)
  '57014': 'canceled', // query_canceled (statement_timeout, cancel)
  '57P01': 'connection', // admin_shutdown (pg_terminate_backend)
  '57P02': 'connection', // crash_shutdown
  '23503': 'fk_violation', // foreign_key_violation (a deferred key at COMMIT, a VALIDATE)
  '42501': 'privilege', // insufficient_privilege
  '42P01': 'undefined_object', // undefined_table
  '42883': 'undefined_object', // undefined_function
  '3F000': 'undefined_object', // invalid_schema_name
  '42704': 'undefined_object', // undefined_object
  // internal_error: among others "cache lookup failed", when a catalog function (pg_get_indexdef, ...)
  // meets an object dropped after the reading snapshot was taken (catalog functions read the current
  // catalog, not the snapshot).
  'XX000': 'internal',
};

export function classifySqlState(code: string | undefined): ErrorClass {
  if (!code) return 'other';
  const exact = EXACT[code];
  if (exact) return exact;
  switch (code.slice(0, 2)) {
    case '08': return 'connection'; // connection_exception
    case '28': return 'auth';
    case '22': case '23': return 'data'; // data_exception, integrity_constraint_violation
    case '42': return 'rule'; // syntax_error_or_access_rule_violation (a column or type that differs; not retryable)
    case 'P0': return 'raised'; // plpgsql_error: RAISE in a function or trigger
    default: return 'other';
  }
}

/** SQLSTATE of an error thrown by node-postgres, if it carries one. */
export function sqlStateOf(e: unknown): string | undefined {
  if (typeof e === 'object' && e !== null && 'code' in e) {
    const c = (e as { code?: unknown }).code;
    if (typeof c === 'string' && /^[0-9A-Z]{5}$/.test(c)) return c;
  }
  return undefined;
}

export function isRetryable(e: unknown): boolean {
  const cls = classifySqlState(sqlStateOf(e));
  return cls === 'retryable' || cls === 'lock_timeout';
}

/**
 * Runs `fn`, retrying only retryable SQLSTATEs with exponential backoff (lock timeouts included: the
 * caller sets a short lock_timeout so it never waits unbounded behind a long transaction).
 */
export async function withRetry<T>(fn: (attempt: number) => Promise<T>, opts: { attempts?: number; baseMs?: number } = {}): Promise<T> {
  const attempts = opts.attempts ?? 5;
  const base = opts.baseMs ?? 100;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (e) {
      if (attempt >= attempts || !isRetryable(e)) throw e;
      await sleep(backoffMs(attempt - 1, { baseMs: base, jitter: true }));
    }
  }
}

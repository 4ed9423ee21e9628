/**
 * Waits between tries, in one place: exponential backoff (`baseMs * factor ** attempt`, capped at `maxMs`,
 * optionally jittered so that several clients do not retry in step), and a sleep that an AbortSignal ends.
 */
export interface Backoff {
  baseMs: number;
  /** Growth per attempt (default 2). */
  factor?: number;
  maxMs?: number;
  /** Spread each wait over [0.5, 1.5) of its value. */
  jitter?: boolean;
}

/** The wait before try `attempt + 1` (attempt counts from 0). */
export function backoffMs(attempt: number, b: Backoff): number {
  const ms = Math.min(b.maxMs ?? Number.POSITIVE_INFINITY, b.baseMs * (b.factor ?? 2) ** attempt);
  return b.jitter ? ms * (0.5 + Math.random()) : ms;
}

/** Resolves after `ms`, or at once when `signal` aborts (never rejects). */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() { clearTimeout(t); signal?.removeEventListener('abort', done); resolve(); }
    signal?.addEventListener('abort', done, { once: true });
  });
}

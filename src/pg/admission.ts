/**
 * Every connection cutover opens (node-postgres clients in connect.ts, pg_dump/pg_restore children in
 * run-tool.ts) is admitted and counted here, from before it is opened until it has closed. During a run
 * an admission policy (the connection governor, budget/governor.ts) may make the opener wait for room;
 * without one (library calls, single CLI commands) connections are only counted. src/pg defines the seam
 * and the budget plugs into it, so that the connection layer does not depend on the budget.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { ConnParams } from './conninfo.js';

export type Server = Pick<ConnParams, 'host' | 'port'>;
export const serverKey = (p: Server): string => `${p.host}:${p.port}`;

/** What may make an opener wait: resolves once `n` more connections fit on p's server (or throws). */
export interface AdmissionPolicy {
  admit(p: Server, n: number, who: string): Promise<void>;
  /** A connection was released: waiting openers look again. */
  wake(): void;
}

/** cutover's open (or opening) connections per server, in this process. */
const held = new Map<string, number>();
/**
 * The policy of the run this code runs for: scoped to the run's async context (a runbook run installs
 * it around its steps), not a process-wide setting, so two runs in one process do not share one and a
 * library call outside a run is never made to wait.
 */
const scope = new AsyncLocalStorage<AdmissionPolicy>();
/** Released connections wake the waiters of every policy in force (a release may happen outside the run's context). */
const active = new Set<AdmissionPolicy>();

/** Runs `fn` with `policy` admitting every connection it opens (in its async context). */
export async function withAdmissionPolicy<T>(policy: AdmissionPolicy, fn: () => Promise<T>): Promise<T> {
  active.add(policy);
  try {
    return await scope.run(policy, fn);
  } finally {
    active.delete(policy);
  }
}

/** The admission policy of the current async context (the run's governor), if any. */
export function admissionPolicy(): AdmissionPolicy | undefined {
  return scope.getStore();
}

export function heldOn(p: Server): number {
  return held.get(serverKey(p)) ?? 0;
}

/** Counts `n` connections on p's server until the returned release is called (idempotent). */
export function track(p: Server, n: number): () => void {
  const k = serverKey(p);
  held.set(k, (held.get(k) ?? 0) + n);
  let done = false;
  return () => {
    if (done) return;
    done = true;
    held.set(k, (held.get(k) ?? 0) - n);
    for (const p of active) p.wake();
  };
}

/** Waits for room under the policy (if any), then counts the connections; returns their release. */
export async function admitConnections(p: Server, n: number, who: string): Promise<() => void> {
  await scope.getStore()?.admit(p, n, who);
  return track(p, n);
}

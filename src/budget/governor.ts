/**
 * The runtime guard. Planning (auto.ts) sizes each step from what the servers have free when it starts;
 * the application can grow after that. During a run the sampler feeds the governor, per server, the most
 * cutover may hold now:
 *   limit = usable slots - everyone else's connections - the application's headroom
 * which does not depend on how many connections cutover itself holds. Every connection cutover opens
 * (node-postgres clients in connect.ts, pg_dump/pg_restore children in run-tool.ts) is counted here
 * exactly, in-process, from before it is opened until it has closed. When opening one would go over the
 * limit, the opener waits (announced, bounded by `maxWaitMs`) instead of taking a slot the application
 * needs. When the application has grown past the limit, workers that can give back their sessions at a
 * unit boundary (the streaming copy's table workers) do so, and come back when room returns.
 * Without a run (library calls, single CLI commands) no governor is in force: connections are only
 * counted. A run installs its governor for its own async context only (`withAdmissionPolicy`).
 */
import { CutoverError } from '../errors.js';
import { type AdmissionPolicy, admissionPolicy, heldOn, type Server, serverKey } from '../pg/admission.js';

export { heldOn, serverKey };

export interface GovernorEvent {
  at: string;
  server: string;
  kind: 'wait' | 'shed' | 'rejoin';
  /** Who waited or gave back (cutover/<step> name). */
  who: string;
  /** cutover's connections on that server and its limit when it happened. */
  held: number;
  limit: number;
  waitedMs?: number;
}

export interface GovernorOptions {
  /** How long an opener waits for room before failing with E_BUDGET. Default 5 minutes. */
  maxWaitMs?: number;
  onNote?: (message: string) => void;
}

export class Governor implements AdmissionPolicy {
  private readonly limits = new Map<string, { limit: number; why: string }>();
  private waiters = new Set<() => void>();
  readonly events: GovernorEvent[] = [];

  constructor(private readonly o: GovernorOptions = {}) {}

  /** From a sample: the most cutover may hold on this server now, and the numbers behind it for messages. */
  setLimit(p: Server, limit: number, why: string): void {
    this.limits.set(serverKey(p), { limit, why });
    this.wake();
  }

  limitOf(p: Server): number | undefined {
    return this.limits.get(serverKey(p))?.limit;
  }

  /** How many connections cutover holds over its limit on this server (0 when within it). */
  over(p: Server): number {
    const l = this.limitOf(p);
    return l === undefined ? 0 : Math.max(0, heldOn(p) - l);
  }

  /** Whether n more connections fit now. */
  fits(p: Server, n: number): boolean {
    const l = this.limitOf(p);
    return l === undefined || heldOn(p) + n <= l;
  }

  wake(): void {
    for (const w of [...this.waiters]) w();
  }

  /** Resolves at the next sample or release (or after `ms`). */
  private changed(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => { clearTimeout(t); this.waiters.delete(done); resolve(); };
      const t = setTimeout(done, ms);
      this.waiters.add(done);
    });
  }

  /** Waits until n more connections fit on p's server (pg/admission.ts counts them then). */
  async admit(p: Server, n: number, who: string): Promise<void> {
    const t0 = Date.now();
    const maxWait = this.o.maxWaitMs ?? 300_000;
    let announced = false;
    while (!this.fits(p, n)) {
      if (!announced) {
        announced = true;
        this.record('wait', p, who);
        this.o.onNote?.(`${who}: waiting for ${n} connection slot(s) on ${serverKey(p)}: cutover holds ${heldOn(p)}, may hold ${this.limitOf(p)} (${this.limits.get(serverKey(p))?.why})`);
      }
      if (Date.now() - t0 > maxWait) {
        throw new CutoverError('E_BUDGET', `${who}: no connection slot came free on ${serverKey(p)} in ${Math.round(maxWait / 1000)} s: cutover holds ${heldOn(p)}, may hold ${this.limitOf(p)} (${this.limits.get(serverKey(p))?.why})`, {
          hint: 'the application holds more connections than the runbook planned for: free some, lower the runbook headroom, or raise max_connections',
        });
      }
      await this.changed(250);
    }
    if (announced) this.events.at(-1)!.waitedMs = Date.now() - t0;
  }

  record(kind: GovernorEvent['kind'], p: Server, who: string): void {
    this.events.push({ at: new Date().toISOString(), server: serverKey(p), kind, who, held: heldOn(p), limit: this.limitOf(p) ?? -1 });
  }

  note(message: string): void {
    this.o.onNote?.(message);
  }
}

/** The governor of the run this code runs in (pg/admission.ts `withAdmissionPolicy`), if any. */
export function governor(): Governor | undefined {
  const p = admissionPolicy();
  return p instanceof Governor ? p : undefined;
}

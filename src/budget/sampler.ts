/**
 * Samples pg_stat_activity on both sides while a run goes on: the peak of cutover's own connections and
 * of all client connections, for the run summary and the rehearsal report, and each server's limit for
 * the governor (governor.ts). One connection per side (cutover/sampler), counted in the figures it reports.
 */
import type pg from 'pg';
import type { ConnParams } from '../pg/conninfo.js';
import { connect } from '../pg/connect.js';
import { capacity, describeCapacity, type Capacity, type Headroom } from './capacity.js';
import { slotFacts } from '../pg/facts.js';
import { type Governor, type GovernorEvent, serverKey } from './governor.js';
import type { Endpoint } from '../pg/endpoint.js';

export interface SidePeak {
  peakOurs: number; peakTotal: number; maxConnections: number; samples: number;
  /** The least cutover was allowed to hold during the run (the application's growth shows here). */
  minLimit?: number;
}
export interface ConnectionPeaks { source?: SidePeak; target?: SidePeak; governor?: GovernorEvent[] }

export class ConnectionSampler {
  private timer?: NodeJS.Timeout;
  private clients: { side: 'source' | 'target'; c: pg.Client; peak: SidePeak }[] = [];
  private busy = false;
  private constructor(private readonly sides: { source: Endpoint; target: Endpoint }, private readonly headroom: Headroom,
    private readonly governor?: Governor) {}

  static async start(sides: { source: Endpoint; target: Endpoint }, o: { intervalMs?: number; headroom?: Headroom; governor?: Governor } = {}): Promise<ConnectionSampler> {
    const s = new ConnectionSampler(sides, o.headroom ?? 0, o.governor);
    const intervalMs = o.intervalMs ?? 500;
    for (const side of ['source', 'target'] as const) {
      try {
        const c = await connect(sides[side], 'sampler');
        s.clients.push({ side, c, peak: { peakOurs: 0, peakTotal: 0, maxConnections: 0, samples: 0 } });
      } catch { /* sampling is best effort: the run itself reports connection problems */ }
    }
    await s.sample();
    s.timer = setInterval(() => { void s.sample(); }, intervalMs);
    s.timer.unref();
    return s;
  }

  private async sample(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      // Two sides on one server: the tighter of their limits holds.
      const limits = new Map<string, { limit: number; why: string; p: ConnParams }>();
      await Promise.all(this.clients.map(async ({ side, c, peak }) => {
        const f = await slotFacts(c);
        peak.peakOurs = Math.max(peak.peakOurs, f.connections.ours);
        peak.peakTotal = Math.max(peak.peakTotal, f.connections.total);
        peak.maxConnections = f.maxConnections;
        peak.samples++;
        // What cutover may hold in all: what is free to it now plus what it holds (as the server saw it).
        const cap = capacity(f, this.headroom, true);
        const limit = cap.mayHold;
        peak.minLimit = Math.min(peak.minLimit ?? limit, limit);
        const k = serverKey(this.sides[side]);
        if (!limits.has(k) || limits.get(k)!.limit > limit) limits.set(k, { limit, why: `${side}: ${describeCapacity(cap)}`, p: this.sides[side] });
      }));
      for (const l of limits.values()) this.governor?.setLimit(l.p, l.limit, l.why);
    } catch { /* a failed sample is skipped */ } finally {
      this.busy = false;
    }
  }

  /**
   * Capacity measured over the sampler's own connection, which stays open: no probe connection is left
   * closing (and still holding a slot) while a step opens its allotment. Undefined if not connected.
   */
  async capacity(side: 'source' | 'target', headroom: Headroom): Promise<Capacity | undefined> {
    const s = this.clients.find((x) => x.side === side);
    return s ? capacity(await slotFacts(s.c), headroom, true) : undefined;
  }

  async stop(): Promise<ConnectionPeaks> {
    clearInterval(this.timer);
    await this.sample();
    const out: ConnectionPeaks = {};
    for (const { side, c, peak } of this.clients) {
      out[side] = peak;
      await c.end().catch(() => undefined);
    }
    if (this.governor?.events.length) out.governor = this.governor.events;
    return out;
  }
}

/**
 * Samples pg_stat_activity on both sides while a run goes on: the peak of cutover's own connections and
 * of all client connections, for the run summary and the rehearsal report. One connection per side
 * (cutover/sampler), counted in the figures it reports.
 */
import type pg from 'pg';
import type { ConnParams } from '../pg/conninfo.js';
import { connect } from '../pg/connect.js';
import { serverFacts } from '../pg/facts.js';
import { capacity, type Capacity, type Headroom } from './capacity.js';

export interface SidePeak { peakOurs: number; peakTotal: number; maxConnections: number; samples: number }
export interface ConnectionPeaks { source?: SidePeak; target?: SidePeak }

const SQL = `SELECT count(*) FILTER (WHERE application_name LIKE 'cutover/%')::int AS ours, count(*)::int AS total,
  current_setting('max_connections')::int AS max FROM pg_stat_activity WHERE backend_type = 'client backend'`;

export class ConnectionSampler {
  private timer?: NodeJS.Timeout;
  private clients: { side: 'source' | 'target'; c: pg.Client; peak: SidePeak }[] = [];
  private busy = false;

  static async start(sides: { source: ConnParams; target: ConnParams }, intervalMs = 500): Promise<ConnectionSampler> {
    const s = new ConnectionSampler();
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
      await Promise.all(this.clients.map(async ({ c, peak }) => {
        const r = (await c.query<{ ours: number; total: number; max: number }>(SQL)).rows[0]!;
        peak.peakOurs = Math.max(peak.peakOurs, r.ours);
        peak.peakTotal = Math.max(peak.peakTotal, r.total);
        peak.maxConnections = r.max;
        peak.samples++;
      }));
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
    return s ? capacity(await serverFacts(s.c), headroom, true) : undefined;
  }

  async stop(): Promise<ConnectionPeaks> {
    clearInterval(this.timer);
    await this.sample();
    const out: ConnectionPeaks = {};
    for (const { side, c, peak } of this.clients) {
      out[side] = peak;
      await c.end().catch(() => undefined);
    }
    return out;
  }
}

/**
 * `replicate status --watch`: lag, events pending and the apply rate, sampled again and again over two
 * sessions kept open (one per side), with cheap queries only: the applier's bookkeeping row on the side
 * applied to, and on the capturing side the change source's events past the applied tick (BRIN-bounded for trigger capture).
 */
import { CUTOVER_SCHEMA } from '../pg/private-schema.js';
import type pg from 'pg';
import type { ConnParams } from '../pg/conninfo.js';
import { connect } from '../pg/connect.js';
import { resolveEndpoint } from '../pg/endpoint.js';
import { changeSource } from './changes/index.js';
import { reverseCapture } from './window-state.js';

export interface WatchSample {
  at: string;
  /** forward: source -> target; reverse: the rollback window (target -> source). */
  direction: 'forward' | 'reverse';
  /** Change capture on the capturing side. */
  installed: boolean;
  /** How far behind the applied side is (0 when nothing is pending); null before the first batch. */
  lagMs: number | null;
  pendingEvents: number | null;
  /** Events applied since the applier started (its bookkeeping), and per second since the last sample. */
  appliedEvents: number | null;
  eventsPerSecond: number | null;
  halted: string | null;
}

export class StatusWatch {
  private prev?: { t: number; events: number };

  private constructor(private readonly capturing: pg.Client, private readonly applied: pg.Client, private readonly direction: WatchSample['direction']) {}

  static async open(o: { source: ConnParams; target: ConnParams }): Promise<StatusWatch> {
    const target = await connect(await resolveEndpoint(o.target), 'replicate-status');
    try {
      const reverse = await reverseCapture(target);
      const source = await connect(await resolveEndpoint(o.source), 'replicate-status');
      // In the window the new server (target) captures and the old source is applied to.
      return reverse ? new StatusWatch(target, source, 'reverse') : new StatusWatch(source, target, 'forward');
    } catch (e) {
      await target.end().catch(() => undefined);
      throw e;
    }
  }

  async sample(): Promise<WatchSample> {
    const a = (await this.applied.query<{ r: string | null }>(`SELECT to_regclass('${CUTOVER_SCHEMA}.apply_state')::text AS r`)).rows[0]!.r
      ? (await this.applied.query<{ tick: string; tick_at: Date; events: string; halted: string | null }>(
        `SELECT tick::text AS tick, tick_at, events::text AS events, halted FROM ${CUTOVER_SCHEMA}.apply_state`)).rows[0]
      : undefined;
    const installed = await changeSource.installed(this.capturing);
    const from = a?.tick ?? (installed ? (await changeSource.start(this.capturing))?.position : null);
    const p = installed && from ? await changeSource.backlog(this.capturing, from) : undefined;
    const now = Date.now();
    const events = a ? Number(a.events) : null;
    const rate = events !== null && this.prev && now > this.prev.t ? Math.round(Math.max(0, (events - this.prev.events) / ((now - this.prev.t) / 1000)) * 10) / 10 : null;
    if (events !== null) this.prev = { t: now, events };
    const pending = p ? p.pending : null;
    return {
      at: new Date(now).toISOString(), direction: this.direction, installed,
      lagMs: a && p ? (pending ? Math.max(0, p.now.getTime() - a.tick_at.getTime()) : 0) : null,
      pendingEvents: pending, appliedEvents: events, eventsPerSecond: rate, halted: a?.halted ?? null,
    };
  }

  async close(): Promise<void> {
    await Promise.all([this.capturing.end().catch(() => undefined), this.applied.end().catch(() => undefined)]);
  }
}

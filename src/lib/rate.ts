/**
 * The current rate of a transfer and the time left: the rate over the last `windowMs` of samples (not
 * the average since the start, which hides a slowdown), the ETA from what is left at that rate.
 */
import { humanBytes, humanDuration } from './format.js';

/** What a rate counts: bytes print as "12 MB/s", the others as "3.4k rows/s". */
export type RateUnit = 'bytes' | 'rows' | 'events' | 'chunks' | 'tables' | 'items';

/**
 * Rate and time left from samples of an amount done. Numbers only; see `rateText` for the words. With
 * `windowMs` Infinity: the average since the first sample (for work that moves in steps, a table at a
 * time, where a recent window would say "stalled" during every big table).
 */
export class Meter {
  private readonly samples: { t: number; done: number }[] = [];
  /** When the amount last changed (the first sample counts as a change). */
  private changedAt?: number;
  constructor(private readonly windowMs = 10_000) {}

  sample(done: number, now = Date.now()): void {
    const last = this.samples.at(-1);
    if (!last || last.done !== done) this.changedAt = now;
    // A repeated sample at the same instant only moves the amount (several events in one tick).
    if (last && last.t === now) { last.done = done; return; }
    if (last && now < last.t) return;
    this.samples.push({ t: now, done });
    // At least two samples are kept, so sparse events still give a rate.
    if (!Number.isFinite(this.windowMs)) { if (this.samples.length > 2) this.samples.splice(1, 1); return; }
    while (this.samples.length > 2 && now - this.samples[1]!.t > this.windowMs) this.samples.shift();
  }

  /** Per second over the window; undefined until two samples span half a second. */
  perSecond(): number | undefined {
    const first = this.samples[0], last = this.samples.at(-1);
    if (!first || !last || last.t - first.t < 500) return undefined;
    return (last.done - first.done) / ((last.t - first.t) / 1000);
  }

  /** How long the amount has not changed, as of the last sample. */
  idleMs(): number {
    const last = this.samples.at(-1);
    return last && this.changedAt !== undefined ? last.t - this.changedAt : 0;
  }

  /** Milliseconds until `total` at the current rate (0 when there; undefined without a rate). */
  etaMs(done: number, total: number): number | undefined {
    const r = this.perSecond();
    if (r === undefined || r <= 0) return undefined;
    return (Math.max(0, total - done) / r) * 1000;
  }
}

/** 950, 12.3k, 4.5M, 1.2G: counts in a progress line. */
export function humanCount(n: number): string {
  const a = Math.abs(n);
  if (a < 1000) return String(Math.round(n));
  const [d, u] = a < 1e6 ? [1e3, 'k'] : a < 1e9 ? [1e6, 'M'] : [1e9, 'G'];
  const v = n / d;
  return `${Math.abs(v) < 10 ? v.toFixed(1) : Math.round(v)}${u}`;
}

export function formatRate(perS: number, unit: RateUnit): string {
  return unit === 'bytes' ? `${humanBytes(perS)}/s` : `${humanCount(perS)} ${unit}/s`;
}

/** An amount of the unit: "1.2 GB", "3.4M rows". */
export function formatAmount(n: number, unit: RateUnit): string {
  return unit === 'bytes' ? humanBytes(n) : `${humanCount(n)} ${unit}`;
}

/** Nothing moved for this long: "stalled" (shorter pauses are a stream's ordinary breathing). */
export const STALL_MS = 5000;

/**
 * "12 MB/s, ETA 1 min 5 s" from a meter just sampled; "stalled" when nothing moved for STALL_MS; "" until
 * there is a rate (and while nothing is done yet: work counted when it finishes is working, not stalled).
 */
export function rateText(m: Meter, done: number, total: number, unit: RateUnit): string {
  const r = m.perSecond();
  if (r === undefined) return '';
  if (r <= 0) return (done >= total && total > 0) || done === 0 || m.idleMs() < STALL_MS ? '' : 'stalled';
  const left = Math.max(0, total - done);
  return `${formatRate(r, unit)}, ETA ${left > 0 ? humanDuration(m.etaMs(done, total)!) : 'any moment'}`;
}

/** The byte rate of one transfer as text: `update` samples and formats (see rateText). */
export class Rate {
  private readonly m: Meter;
  constructor(windowMs = 10_000) { this.m = new Meter(windowMs); }

  /** Adds a sample; returns "12.3 MB/s, ETA 1 min 5 s" (or "" until two samples span some time). */
  update(done: number, total: number, now = Date.now()): string {
    this.m.sample(done, now);
    return rateText(this.m, done, total, 'bytes');
  }
}

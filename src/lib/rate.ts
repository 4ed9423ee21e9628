/**
 * The current rate of a transfer and the time left: the rate over the last `windowMs` of samples (not
 * the average since the start, which hides a slowdown), the ETA from what is left at that rate.
 */
import { humanBytes, humanDuration } from './format.js';

export class Rate {
  private readonly samples: { t: number; done: number }[] = [];
  constructor(private readonly windowMs = 10_000) {}

  /** Adds a sample; returns "12.3 MB/s, ETA 1 min 5 s" (or "" until two samples span some time). */
  update(done: number, total: number, now = Date.now()): string {
    this.samples.push({ t: now, done });
    while (this.samples.length > 2 && now - this.samples[1]!.t > this.windowMs) this.samples.shift();
    const first = this.samples[0]!;
    const dt = (now - first.t) / 1000;
    if (dt < 0.5) return '';
    const perS = (done - first.done) / dt;
    if (perS <= 0) return 'stalled';
    const left = Math.max(0, total - done);
    return `${humanBytes(perS)}/s, ETA ${left > 0 ? humanDuration((left / perS) * 1000) : 'any moment'}`;
  }
}

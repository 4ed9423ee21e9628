/**
 * Catch-up progress as text (replicate apply, the runbook's catch-up and the cutover's catch-up and
 * drain): the events pending (committed on the source, not applied: what the next batch reads from the
 * log), the lag, and the apply rate with the time to apply what is pending at that rate.
 */
import { humanBytes, humanDuration } from '../lib/format.js';
import { Meter, formatRate, humanCount } from '../lib/rate.js';
import type { BatchResult, BatchStart, BatchStep } from './apply.js';

const STEP_TEXT: Record<BatchStep['step'], string> = {
  read: 'reading the changes of', remove: 'removing changed keys of', write: 'writing', 'new tables': 'creating and copying new table(s)',
};

export class CatchUpProgress {
  private readonly meter = new Meter(20_000);
  private applied = 0;
  private batches = 0;
  private pending?: number;
  private lagMs?: number;
  /** The batch running now: its start (local clock), its events and tables, the lag at its start. */
  private running?: BatchStart & { at: number };
  /** Where the running batch is (a long batch's progress). */
  private step?: BatchStep;

  constructor(startedAt = Date.now()) { this.meter.sample(0, startedAt); }

  batchStart(b: BatchStart, now = Date.now()): void {
    this.running = { ...b, at: now };
    this.step = undefined;
    this.pending = b.events;
  }

  batchStep(s: BatchStep): void {
    this.step = s;
  }

  /** `totals`: the applier's totals since it started (Applier.totals). */
  batchDone(b: BatchResult, totals: { events: number; batches: number }, now = Date.now()): void {
    this.running = undefined;
    this.step = undefined;
    this.applied = totals.events;
    this.batches = totals.batches;
    this.lagMs = b.lagMs;
    // Applied up to the batch's snapshot: what committed since, the next batch counts (it starts at once).
    this.pending = 0;
    this.meter.sample(totals.events, now);
  }

  text(now = Date.now()): string {
    const r = this.meter.perSecond();
    const b = this.running;
    // While a batch runs the target falls further behind: the lag at its start plus its time so far.
    const lag = b ? b.lagMs + (now - b.at) : this.lagMs;
    const st = this.step;
    const where = st ? `: ${STEP_TEXT[st.step]} ${st.table}${st.step === 'new tables' ? '' : ` (${st.index}/${st.tables}${st.bytes ? `, ${humanBytes(st.bytes)} read` : ''})`}` : '';
    const head = b ? `applying a batch of ${humanCount(b.events)} events (${b.tables} tables) for ${humanDuration(now - b.at)}${where}`
      : `pending ${this.pending === undefined ? '?' : humanCount(this.pending)} events`;
    const eta = this.pending && r && r > 0 ? `, ETA ${humanDuration((this.pending / r) * 1000)}` : '';
    return `${head}${lag !== undefined ? `, lag ${humanDuration(lag)}` : ''}; applied ${humanCount(this.applied)} events in ${this.batches} batches` +
      `${r !== undefined ? ` (${formatRate(Math.max(0, r), 'events')}${eta})` : ''}`;
  }
}

/**
 * How progress reaches a person: redrawn in place at least every second on a terminal, and as plain
 * lines every 10 s (CUTOVER_PROGRESS_INTERVAL) when the output is a pipe or a CI log, where a line a
 * second would bury everything else. Shared by the CLI's progress line and the runbook's task list.
 */
import { parseDuration } from './duration.js';
import { humanBytes, humanDuration } from './format.js';
import { Meter, type RateUnit, formatAmount, humanCount, rateText } from './rate.js';

/** A progress text, or a function giving it now (re-evaluated at each redraw: elapsed times move). */
export type ProgressText = string | (() => string);

export const resolveText = (t: ProgressText): string => (typeof t === 'function' ? t() : t);

/** Redraw period on a terminal. */
export const TTY_REFRESH_MS = 1000;
const PLAIN_DEFAULT_MS = 10_000;

/** The plain-line period: CUTOVER_PROGRESS_INTERVAL ("30s", "500ms"), else 10 s. */
export function plainIntervalMs(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.CUTOVER_PROGRESS_INTERVAL;
  const ms = raw ? parseDuration(raw) : undefined;
  return ms !== undefined && ms >= 100 ? ms : PLAIN_DEFAULT_MS;
}

/**
 * A multi-line progress text (a totals line, then one indented line per table in flight) as one plain
 * line: "totals | table 1 | table 2".
 */
export function oneLine(text: string): string {
  return text.split('\n').map((l) => l.trim()).filter(Boolean).join(' | ');
}

/** A unit of work in flight: a table streaming, a table being compared, an archive item restoring. */
export interface InFlight {
  name: string;
  startedAt: number;
  /** How far it is, when the engine can know (bytes streamed of the table's size). */
  done?: number;
  total?: number;
}

/** Lines shown under a totals line, one per unit in flight; more than this are counted, not listed. */
const MAX_LINES = 8;

/**
 * The indented lines for units in flight, each with its own rate and ETA where its amount is known,
 * and its wall-clock time so far. Keeps a meter per unit across calls (`sample` on each engine event).
 */
export class InFlightLines {
  private readonly meters = new Map<string, Meter>();
  private items: InFlight[] = [];
  constructor(private readonly unit: RateUnit = 'bytes') {}

  sample(items: InFlight[], now = Date.now()): void {
    this.items = items;
    const keep = new Set(items.map((i) => i.name));
    for (const k of this.meters.keys()) if (!keep.has(k)) this.meters.delete(k);
    for (const i of items) {
      if (i.done === undefined) continue;
      let m = this.meters.get(i.name);
      if (!m) this.meters.set(i.name, (m = new Meter()));
      m.sample(i.done, now);
    }
  }

  /** Samples each unit's meter again with its last amount: a unit that stopped moving shows it. */
  tick(now = Date.now()): void {
    for (const i of this.items) if (i.done !== undefined) this.meters.get(i.name)?.sample(i.done, now);
  }

  lines(now = Date.now()): string[] {
    const shown = [...this.items].sort((a, b) => a.startedAt - b.startedAt).slice(0, MAX_LINES).map((i) => {
      const took = humanDuration(now - i.startedAt);
      // Only its size known (a table pg_dump or a checksum reads in one go): the size and the time so far.
      if (i.done === undefined) return `  ${i.name}${i.total ? ` (~${formatAmount(i.total, this.unit)})` : ''}: ${took}`;
      const r = i.total ? rateText(this.meters.get(i.name)!, i.done, i.total, this.unit) : '';
      return `  ${i.name}: ${formatAmount(i.done, this.unit)}${i.total ? ` of ~${formatAmount(i.total, this.unit)}` : ''}${r ? ` (${r})` : ''}, ${took}`;
    });
    if (this.items.length > MAX_LINES) shown.push(`  and ${this.items.length - MAX_LINES} more`);
    return shown;
  }
}

/** Progress of a long operation: `update` at each engine event (samples rates), `text` at each redraw. */
export interface ProgressView<P> { update(p: P, now?: number): void; text(now?: number): string }

/** Tables done of all, with their size and rows (what dump, verify and pre-verify count). */
export interface TablesDone {
  tablesDone: number;
  tablesTotal: number;
  /** On-disk size of the tables done, of all (pg_table_size). */
  bytesDone: number;
  bytesTotal: number;
  /** Rows of the tables done (exact when counted, else their reltuples) and the reltuples estimate of all. */
  rowsDone: number;
  rowsTotal: number;
}

/** Work counted in tables (dump, verify, pre-verify): what is done of the estimate, and what runs now. */
export interface TablesProgress extends TablesDone {
  /** Key chunks compared (pre-verify), when the work is chunked. */
  chunksDone?: number;
  chunksTotal?: number;
  running: InFlight[];
}

/**
 * "tables 3/12, 1.2 GB of ~4.0 GB, rows 3.1M of ~10M (35 MB/s, ETA 1 min 20 s)" and a line per table in
 * flight. The rate and ETA follow chunks when the work is chunked, else bytes, else tables.
 */
export function tablesProgress(startedAt = Date.now()): ProgressView<TablesProgress> {
  // Tables end now and then: the average since the start, sampled at each redraw too, so that it eases
  // off while a big table is read instead of holding the last value or saying "stalled".
  let meter = new Meter(Infinity);
  meter.sample(0, startedAt);
  const running = new InFlightLines('bytes');
  let last: TablesProgress | undefined;
  const basis = (p: TablesProgress): [number, number, RateUnit] => p.chunksTotal !== undefined ? [p.chunksDone ?? 0, p.chunksTotal, 'chunks']
    : p.bytesTotal > 0 ? [p.bytesDone, p.bytesTotal, 'bytes'] : [p.tablesDone, p.tablesTotal, 'tables'];
  return {
    update(p, now = Date.now()) {
      // A new pass (pre-verify's next round) counts from zero again: so does its rate.
      if (last && basis(p)[0] < basis(last)[0]) { meter = new Meter(Infinity); meter.sample(0, now); }
      last = p;
      meter.sample(basis(p)[0], now);
      running.sample(p.running, now);
    },
    text(now = Date.now()) {
      const p = last;
      if (!p) return 'starting';
      const [done, total, unit] = basis(p);
      meter.sample(done, now);
      const r = rateText(meter, done, total, unit);
      const chunks = p.chunksTotal !== undefined ? `chunks ${humanCount(p.chunksDone ?? 0)}/${humanCount(p.chunksTotal)}, ` : '';
      const bytes = p.bytesTotal ? `, ${humanBytes(p.bytesDone)} of ~${humanBytes(p.bytesTotal)}` : '';
      const rows = p.rowsTotal || p.rowsDone ? `, rows ${humanCount(p.rowsDone)} of ~${humanCount(p.rowsTotal)}` : '';
      return [`${chunks}tables ${p.tablesDone}/${p.tablesTotal}${bytes}${rows}${r ? ` (${r})` : ''}`, ...running.lines(now)].join('\n');
    },
  };
}

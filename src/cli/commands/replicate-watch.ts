/**
 * `cutover replicate status --watch`: for an operator watching the catch-up. On a terminal a small block
 * redrawn at each sample, with the lag and the apply rate over the last samples as sparklines; piped, one
 * plain line per sample (with the same sparklines); with --json one JSON object per line per sample.
 * Ctrl-C ends it with exit 0 (it only reads); SIGTERM and SIGHUP exit 128 + the signal as elsewhere.
 */
import type { ConnParams } from '../../pg/conninfo.js';
import { humanDuration } from '../../lib/format.js';
import { formatRate, humanCount } from '../../lib/rate.js';
import { sparkline } from '../../lib/sparkline.js';
import { type HandledSignal, SIGNAL_EXIT, onInterrupt } from '../interrupt.js';
import { StatusWatch, type WatchSample } from '../../replicate/watch.js';

/** Samples kept for the sparklines (fewer on a narrow terminal). */
const HISTORY = 60;

export async function watchStatus(conns: { source: ConnParams; target: ConnParams }, o: { intervalMs: number; json?: boolean }): Promise<void> {
  const out = process.stdout;
  const tty = out.isTTY === true && !o.json;
  let stoppedBy: HandledSignal | undefined;
  let wake: (() => void) | undefined;
  const off = onInterrupt((sig) => { stoppedBy ??= sig; wake?.(); });
  const history: WatchSample[] = [];
  let drawn = 0;
  let watch: StatusWatch | undefined;
  try {
    while (!stoppedBy) {
      let text: string;
      try {
        watch ??= await StatusWatch.open(conns);
        const s = await watch.sample();
        history.push(s);
        if (history.length > HISTORY) history.shift();
        text = o.json ? JSON.stringify(s) : tty ? block(history, o.intervalMs, out.columns ?? 100) : plainLine(history);
      } catch (e) {
        // A lost connection does not end the watch: said, and the next sample connects again.
        await watch?.close();
        watch = undefined;
        if (stoppedBy) break;
        text = `${new Date().toISOString().slice(11, 19)} sample failed: ${(e as Error).message}; trying again`;
      }
      if (tty) {
        out.write(`${drawn > 1 ? `\x1b[${drawn - 1}A` : ''}\r\x1b[J${text}`);
        drawn = text.split('\n').length;
      } else out.write(`${text}\n`);
      if (stoppedBy) break;
      await new Promise<void>((r) => { wake = r; setTimeout(r, o.intervalMs).unref(); });
    }
  } finally {
    off();
    await watch?.close();
    if (tty && drawn) out.write('\n');
  }
  // Ctrl-C is how a watch ends: a success. Other signals report as elsewhere (128 + the signal).
  process.exitCode = stoppedBy && stoppedBy !== 'SIGINT' ? SIGNAL_EXIT[stoppedBy] : 0;
}

const lagOf = (s: WatchSample) => (s.lagMs ?? 0);
const rateOf = (s: WatchSample) => (s.eventsPerSecond ?? 0);
const time = (s: WatchSample) => s.at.slice(11, 19);
const lagText = (s: WatchSample) => (s.lagMs === null ? 'unknown (nothing applied yet)' : humanDuration(s.lagMs));
const rateText = (s: WatchSample) => (s.eventsPerSecond === null ? '-' : formatRate(s.eventsPerSecond, 'events'));
const countText = (n: number | null) => (n === null ? '-' : humanCount(n));

/** One line per sample: "14:03:12 lag 1.2 s ▁▂▃▅ | apply 3.4k events/s ▂▃▅▇ | pending 1.2k | applied 1.2M". */
export function plainLine(h: WatchSample[]): string {
  const s = h.at(-1)!;
  if (!s.installed) return `${time(s)} change capture: not installed`;
  return `${time(s)} lag ${lagText(s)} ${sparkline(h.map(lagOf))} | apply ${rateText(s)} ${sparkline(h.map(rateOf))} | ` +
    `pending ${countText(s.pendingEvents)} | applied ${countText(s.appliedEvents)}${s.direction === 'reverse' ? ' | reverse (rollback window)' : ''}` +
    `${s.halted ? ` | HALTED: ${s.halted}` : ''}`;
}

/** The terminal's block: a header, then lag and apply rate with their sparklines and peaks, then the counts. */
export function block(h: WatchSample[], intervalMs: number, columns: number): string {
  const s = h.at(-1)!;
  const head = `replicate status every ${humanDuration(intervalMs)}${s.direction === 'reverse' ? ', reverse (rollback window)' : ''} (Ctrl-C to stop), ${time(s)}`;
  if (!s.installed) return `${head}\nchange capture: not installed`;
  const n = Math.max(10, Math.min(h.length, columns - 40));
  const last = h.slice(-n);
  const lines = [
    head,
    `lag      ${sparkline(last.map(lagOf))}  ${lagText(s)} (peak ${humanDuration(Math.max(...last.map(lagOf)))})`,
    `apply    ${sparkline(last.map(rateOf))}  ${rateText(s)} (peak ${formatRate(Math.max(...last.map(rateOf)), 'events')})`,
    `pending  ${countText(s.pendingEvents)} events; applied ${countText(s.appliedEvents)} events`,
    ...(s.halted ? [`HALTED: ${s.halted}`] : []),
  ];
  return lines.map((l) => (l.length >= columns ? `${l.slice(0, columns - 2)}…` : l)).join('\n');
}

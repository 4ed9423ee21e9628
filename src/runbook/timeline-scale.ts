/**
 * The timeline's time axis. Measured work is drawn to scale; a stated step (a manual step a rehearsal
 * counted as its "(est. ...)", not measured) that would take more than a fixed width is drawn at that
 * width instead, as a break in the axis. Otherwise a "watch for 2 days" step squeezes seconds of copy,
 * fence and verify into a pixel.
 */

/** Widest a shortened stated step is drawn (px), when few enough of them leave room. */
export const STATED_W = 64;

export interface AxisBreak {
  startMs: number;
  endMs: number;
  /** px from the chart's left edge */
  x0: number;
  x1: number;
}

export interface TimelineScale {
  /** px from the chart's left edge for a time since the start (ms), monotonic. */
  x(ms: number): number;
  /** Stated intervals drawn at a fixed width instead of to scale, in order. */
  breaks: AxisBreak[];
  /** px per ms where the axis is to scale. */
  pxPerMs: number;
  totalMs: number;
}

interface Span { startMs: number; durationMs: number; simulated?: boolean }

export function timelineScale(steps: readonly Span[], chartW: number): TimelineScale {
  const totalMs = Math.max(1, ...steps.map((s) => s.startMs + s.durationMs));
  const stated = mergeIntervals(steps.filter((s) => s.simulated && s.durationMs > 0).map((s) => [s.startMs, s.startMs + s.durationMs] as const));
  const statedMs = stated.reduce((n, [a, b]) => n + b - a, 0);
  // Nothing measured to keep readable (or nothing stated): the plain linear axis.
  if (!stated.length || statedMs >= totalMs) return linear(totalMs, chartW);
  // Shortened steps take at most 40 % of the chart between them.
  const fixedW = Math.min(STATED_W, Math.floor((chartW * 0.4) / stated.length));
  // Shorten the stated intervals wider than fixedW at the current scale; shortening frees room, which
  // widens the others: repeat until no more need it (at most one more per round).
  const short = new Set<number>();
  let k = chartW / totalMs;
  for (;;) {
    const more = stated.map((iv, i) => i).filter((i) => !short.has(i) && (stated[i]![1] - stated[i]![0]) * k > fixedW);
    if (!more.length) break;
    for (const i of more) short.add(i);
    const shortMs = [...short].reduce((n, i) => n + stated[i]![1] - stated[i]![0], 0);
    k = (chartW - short.size * fixedW) / (totalMs - shortMs);
  }
  if (!short.size) return linear(totalMs, chartW);
  // Segments over [0, total]: to scale, or one shortened interval at fixedW.
  const segs: { from: number; to: number; x0: number; w: number; short: boolean }[] = [];
  let t = 0, x = 0;
  stated.forEach(([a, b], i) => {
    if (!short.has(i)) return;
    if (a > t) { segs.push({ from: t, to: a, x0: x, w: (a - t) * k, short: false }); x += (a - t) * k; }
    segs.push({ from: a, to: b, x0: x, w: fixedW, short: true });
    x += fixedW;
    t = b;
  });
  if (totalMs > t) segs.push({ from: t, to: totalMs, x0: x, w: (totalMs - t) * k, short: false });
  const at = (ms: number) => {
    const s = segs.find((g) => ms <= g.to) ?? segs.at(-1)!;
    const f = s.to > s.from ? (Math.min(Math.max(ms, s.from), s.to) - s.from) / (s.to - s.from) : 0;
    return s.x0 + f * s.w;
  };
  return {
    x: at, pxPerMs: k, totalMs,
    breaks: segs.filter((g) => g.short).map((g) => ({ startMs: g.from, endMs: g.to, x0: g.x0, x1: g.x0 + g.w })),
  };
}

function linear(totalMs: number, chartW: number): TimelineScale {
  const k = chartW / totalMs;
  return { x: (ms) => ms * k, breaks: [], pxPerMs: k, totalMs };
}

function mergeIntervals(ivs: (readonly [number, number])[]): [number, number][] {
  const out: [number, number][] = [];
  for (const [a, b] of [...ivs].sort((p, q) => p[0] - q[0])) {
    const last = out.at(-1);
    // Overlapping stated steps become one break; touching ones stay apart (each gets its own width).
    if (last && a < last[1]) last[1] = Math.max(last[1], b);
    else out.push([a, b]);
  }
  return out;
}

/** Tick times where the axis is to scale, at least `minPx` apart and from a break's edges (0 always). */
export function ticks(sc: TimelineScale, minPx: number): { at: number[]; stepMs: number } {
  const steps = [100, 250, 500, 1000, 2000, 5000, 10_000, 15_000, 30_000, 60_000, 120_000, 300_000, 600_000, 900_000, 1_800_000, 3_600_000, 7_200_000, 14_400_000, 43_200_000, 86_400_000];
  const step = steps.find((s) => s * sc.pxPerMs >= minPx) ?? steps.at(-1)!;
  // The to-scale stretches between the breaks.
  const spans: [number, number][] = [];
  let t0 = 0;
  for (const b of sc.breaks) { spans.push([t0, b.startMs]); t0 = b.endMs; }
  spans.push([t0, sc.totalMs]);
  const out: number[] = [];
  let lastX = -Infinity;
  for (const [a, b] of spans) {
    for (let t = Math.ceil(a / step) * step; t <= b; t += step) {
      const x = sc.x(t);
      const nearBreak = sc.breaks.some((k) => Math.abs(x - k.x0) < minPx / 2 || Math.abs(x - k.x1) < minPx / 2);
      if ((t !== 0 && nearBreak) || x - lastX < minPx) continue;
      out.push(t);
      lastX = x;
    }
  }
  return { at: out, stepMs: step };
}

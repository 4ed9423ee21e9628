/**
 * The rehearsal timeline as SVG: one bar per step over time, the write outage shaded. Stated steps that
 * would dominate are drawn at a fixed width across a break in the axis, labelled with their stated
 * duration (timeline-scale.ts), so the measured steps keep a readable scale.
 */
import { humanDuration } from '../lib/format.js';
import { esc } from './html.js';
import type { RunSummary } from './timings.js';
import { ticks, timelineScale } from './timeline-scale.js';

const COLORS: Record<string, string> = { manual: '#8c959f', sql: '#0969da', sh: '#8250df', action: '#1a7f37' };
/** Geometry, exported for the tests. */
export const LAYOUT = { labelW: 300, chartW: 560, rightW: 100, rowH: 22, top: 58, bottom: 30 } as const;
const TITLE_CHARS = 42;

/**
 * A tick's label: under a minute in all, a duration; else a clock (h:mm:ss) that keeps the seconds (and
 * tenths when ticks are closer than a second), the measured seconds after hours of stated steps included.
 */
function tickLabel(ms: number, totalMs: number, stepMs: number): string {
  if (totalMs < 60_000) return humanDuration(ms);
  const tenths = stepMs < 1000;
  const units = Math.round(ms / (tenths ? 100 : 1000));
  const s = tenths ? Math.floor(units / 10) : units;
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
  const two = (n: number) => String(n).padStart(2, '0');
  return `${h ? `${h}:${two(m)}` : m}:${two(sec)}${tenths ? `.${units % 10}` : ''}`;
}

export function timelineSvg(s: RunSummary): string {
  const { labelW, chartW, rightW, rowH, top, bottom } = LAYOUT;
  const width = labelW + chartW + rightW;
  const sc = timelineScale(s.steps, chartW);
  const x = (ms: number) => labelW + sc.x(ms);
  const h = top + s.steps.length * rowH + bottom;
  const rowsBottom = top + s.steps.length * rowH;
  const parts: string[] = [];
  // Breaks first (under everything): a hatched band where the axis skips a stated step's time.
  for (const b of sc.breaks) {
    parts.push(`<rect data-break="${b.startMs}-${b.endMs}" x="${(labelW + b.x0).toFixed(1)}" y="${top - 4}" width="${(b.x1 - b.x0).toFixed(1)}" height="${rowsBottom - top + 8}" fill="url(#stated)"/>`);
    parts.push(breakMark(labelW + b.x0, rowsBottom + 2), breakMark(labelW + b.x1, rowsBottom + 2));
    parts.push(`<text x="${(labelW + (b.x0 + b.x1) / 2).toFixed(1)}" y="${h - 10}" font-size="9" fill="#57606a" text-anchor="middle" font-style="italic">${esc(humanDuration(b.endMs - b.startMs))} stated</text>`);
  }
  // Outage band: from the first outage step's start to the last one's end.
  const stops = s.steps.filter((st) => isOutage(s, st.id));
  if (stops.length) {
    const a = Math.min(...stops.map((t) => t.startMs)), b = Math.max(...stops.map((t) => t.startMs + t.durationMs));
    parts.push(`<rect x="${x(a).toFixed(1)}" y="${top - 6}" width="${Math.max(1, x(b) - x(a)).toFixed(1)}" height="${s.steps.length * rowH + 6}" fill="#fff1e0" fill-opacity="0.7" stroke="#d97706" stroke-dasharray="4 3"/>`);
    const label = `write outage ${humanDuration(b - a)}${s.outage.budgetMs !== undefined ? ` (budget ${humanDuration(s.outage.budgetMs)})` : ''}`;
    // Anchored where it fits: from the band's start, or ending at the chart's right edge.
    const fits = x(a) + label.length * 6 < width - 4;
    parts.push(`<text x="${(fits ? x(a) : width - 4).toFixed(1)}" y="${top - 10}" font-size="11" fill="#b45309"${fits ? '' : ' text-anchor="end"'}>${esc(label)}</text>`);
  }
  const tk = ticks(sc, 64);
  for (const t of tk.at) {
    parts.push(`<line x1="${x(t).toFixed(1)}" x2="${x(t).toFixed(1)}" y1="${top - 4}" y2="${rowsBottom + 2}" stroke="#eaeef2"/>`);
    parts.push(`<text x="${x(t).toFixed(1)}" y="${h - 10}" font-size="10" fill="#57606a" text-anchor="middle">${esc(tickLabel(t, sc.totalMs, tk.stepMs))}</text>`);
  }
  s.steps.forEach((st, i) => {
    const y = top + i * rowH;
    // Plain text (no code spans in SVG): the runbook's backticks go.
    const plain = st.title.replace(/`/g, '');
    const label = plain.length > TITLE_CHARS ? `${plain.slice(0, TITLE_CHARS - 1).trimEnd()}…` : plain;
    parts.push(`<text x="${labelW - 8}" y="${y + 15}" font-size="11" text-anchor="end" fill="#1d2125"><title>${esc(st.title)}</title>${esc(label)}</text>`);
    const x0 = x(st.startMs);
    const w = Math.max(2, x(st.startMs + st.durationMs) - x0);
    const fill = st.outcome === 'ok' ? (COLORS[st.kind] ?? '#1a7f37') : '#cf222e';
    const broken = st.simulated === true && sc.breaks.some((b) => b.startMs <= st.startMs && st.startMs + st.durationMs <= b.endMs && b.endMs > b.startMs);
    parts.push(`<rect data-step="${esc(st.id)}" x="${x0.toFixed(1)}" y="${y + 4}" width="${w.toFixed(1)}" height="${rowH - 8}" rx="3" fill="${fill}"${st.simulated ? ' fill-opacity="0.45" stroke="#57606a" stroke-dasharray="3 2"' : ''}><title>${esc(`${st.id}: ${humanDuration(st.durationMs)}${st.simulated ? ' (stated, not measured)' : ''}`)}</title></rect>`);
    if (broken) parts.push(breakMark(x0 + w / 2, y + rowH / 2, rowH - 4));
    // Duration after the bar, else inside its end (white), else before it.
    const text = `${humanDuration(st.durationMs)}${st.simulated ? ' stated' : ''}`;
    const textW = text.length * 5.6;
    const end = x0 + w + 4;
    const pos = end + textW < width - 2 ? { x: end, anchor: '', fill: '#57606a' }
      : w > textW + 8 ? { x: x0 + w - 4, anchor: ' text-anchor="end"', fill: '#ffffff' }
      : { x: x0 - 4, anchor: ' text-anchor="end"', fill: '#57606a' };
    parts.push(`<text x="${pos.x.toFixed(1)}" y="${y + 15}" font-size="10" fill="${pos.fill}"${pos.anchor}>${esc(text)}</text>`);
  });
  const legendItems: [string, string][] = [['action', COLORS.action!], ['sql', COLORS.sql!], ['sh', COLORS.sh!], ['manual', COLORS.manual!], ['failed', '#cf222e']];
  const legend = legendItems.map(([name, color], i) => `<rect x="${8 + i * 72}" y="24" width="12" height="10" rx="2" fill="${color}"/><text x="${24 + i * 72}" y="33" font-size="11" fill="#57606a">${name}</text>`).join('') +
    `<text x="${8 + 5 * 72}" y="33" font-size="11" fill="#57606a">dashed: stated duration, not measured${sc.breaks.length ? '; // shortened, not to scale' : ''}</text>`;
  parts.unshift(legend);
  const defs = '<defs><pattern id="stated" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="6" height="6" fill="#f6f8fa"/><line x1="0" y1="0" x2="0" y2="6" stroke="#d0d7de" stroke-width="1.5"/></pattern></defs>';
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${h}" viewBox="0 0 ${width} ${h}" font-family="Helvetica, Arial, sans-serif">\n${defs}\n` +
    `<rect width="100%" height="100%" fill="#ffffff"/>\n<text x="8" y="16" font-size="13" font-weight="bold">${esc(s.name)}: ${s.mode === 'rehearse' ? 'rehearsal' : 'run'} timeline</text>\n${parts.join('\n')}\n</svg>\n`;
}

/** Two short slanted strokes on a white gap: the usual sign of a broken axis (or bar). */
function breakMark(cx: number, cy: number, size = 10): string {
  const d = size / 2, g = 2.5;
  const stroke = (dx: number) => `<line x1="${(cx + dx - d / 2).toFixed(1)}" y1="${(cy + d).toFixed(1)}" x2="${(cx + dx + d / 2).toFixed(1)}" y2="${(cy - d).toFixed(1)}" stroke="#57606a" stroke-width="1.2"/>`;
  return `<g class="break"><rect x="${(cx - g - 1).toFixed(1)}" y="${(cy - d).toFixed(1)}" width="${(2 * g + 2).toFixed(1)}" height="${size}" fill="#ffffff" transform="skewX(-26.6) translate(${(cy * 0.5).toFixed(1)} 0)"/>${stroke(-g)}${stroke(g)}</g>`;
}

function isOutage(s: RunSummary, id: string): boolean {
  return s.outage.outageIds?.includes(id) ?? false;
}

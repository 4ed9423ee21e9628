/** The rehearsal timeline as SVG: one bar per step over time, the write outage shaded. */
import { humanDuration } from '../lib/format.js';
import { esc } from './html.js';
import type { RunSummary } from './timings.js';

const COLORS: Record<string, string> = { manual: '#8c959f', sql: '#0969da', sh: '#8250df', action: '#1a7f37' };

function tickStep(totalMs: number): number {
  const target = totalMs / 8;
  const steps = [100, 250, 500, 1000, 2000, 5000, 10_000, 15_000, 30_000, 60_000, 120_000, 300_000, 600_000, 900_000, 1_800_000, 3_600_000, 7_200_000];
  return steps.find((s) => s >= target) ?? 14_400_000;
}

export function timelineSvg(s: RunSummary): string {
  const labelW = 280, chartW = 620, rowH = 22, top = 58, bottom = 28;
  const total = Math.max(1, ...s.steps.map((x) => x.startMs + x.durationMs));
  const x = (ms: number) => labelW + (ms / total) * chartW;
  const h = top + s.steps.length * rowH + bottom;
  const parts: string[] = [];
  // Outage band: from the first outage step's start to the last one's end.
  const stops = s.steps.filter((st) => isOutage(s, st.id));
  if (stops.length) {
    const a = Math.min(...stops.map((t) => t.startMs)), b = Math.max(...stops.map((t) => t.startMs + t.durationMs));
    parts.push(`<rect x="${x(a).toFixed(1)}" y="${top - 6}" width="${Math.max(1, x(b) - x(a)).toFixed(1)}" height="${s.steps.length * rowH + 6}" fill="#fff1e0" stroke="#d97706" stroke-dasharray="4 3"/>`);
    parts.push(`<text x="${x(a).toFixed(1)}" y="${top - 10}" font-size="11" fill="#b45309">write outage ${esc(humanDuration(b - a))}${s.outage.budgetMs !== undefined ? ` (budget ${esc(humanDuration(s.outage.budgetMs))})` : ''}</text>`);
  }
  const step = tickStep(total);
  for (let t = 0; t <= total; t += step) {
    parts.push(`<line x1="${x(t).toFixed(1)}" x2="${x(t).toFixed(1)}" y1="${top - 4}" y2="${h - bottom + 2}" stroke="#eaeef2"/>`);
    parts.push(`<text x="${x(t).toFixed(1)}" y="${h - 10}" font-size="10" fill="#57606a" text-anchor="middle">${esc(humanDuration(t))}</text>`);
  }
  s.steps.forEach((st, i) => {
    const y = top + i * rowH;
    const label = st.title.length > 40 ? `${st.title.slice(0, 39)}…` : st.title;
    parts.push(`<text x="${labelW - 8}" y="${y + 15}" font-size="12" text-anchor="end" fill="#1d2125">${esc(label)}</text>`);
    const w = Math.max(2, x(st.startMs + st.durationMs) - x(st.startMs));
    const fill = st.outcome === 'ok' ? (COLORS[st.kind] ?? '#1a7f37') : '#cf222e';
    parts.push(`<rect x="${x(st.startMs).toFixed(1)}" y="${y + 4}" width="${w.toFixed(1)}" height="${rowH - 8}" rx="3" fill="${fill}"${st.simulated ? ' fill-opacity="0.45" stroke="#57606a" stroke-dasharray="3 2"' : ''}><title>${esc(`${st.id}: ${humanDuration(st.durationMs)}${st.simulated ? ' (stated, not measured)' : ''}`)}</title></rect>`);
    // Duration after the bar, or before it when the bar reaches the right edge.
    const end = x(st.startMs) + w + 4;
    const after = end + 50 < labelW + chartW + 60;
    parts.push(`<text x="${(after ? end : x(st.startMs) - 4).toFixed(1)}" y="${y + 15}" font-size="10" fill="#57606a"${after ? '' : ' text-anchor="end"'}>${esc(humanDuration(st.durationMs))}</text>`);
  });
  const legend = [['action', COLORS.action!], ['sql', COLORS.sql!], ['sh', COLORS.sh!], ['manual', COLORS.manual!], ['failed', '#cf222e']]
    .map(([name, color], i) => `<rect x="${8 + i * 90}" y="24" width="12" height="10" rx="2" fill="${color}"/><text x="${24 + i * 90}" y="33" font-size="11" fill="#57606a">${name}</text>`).join('')
    + `<text x="${8 + 5 * 90}" y="33" font-size="11" fill="#57606a">dashed bar: stated duration, not measured</text>`;
  parts.unshift(legend);
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${labelW + chartW + 60}" height="${h}" viewBox="0 0 ${labelW + chartW + 60} ${h}" font-family="Helvetica, Arial, sans-serif">\n` +
    `<rect width="100%" height="100%" fill="#ffffff"/>\n<text x="8" y="16" font-size="13" font-weight="bold">${esc(s.name)}: ${s.mode === 'rehearse' ? 'rehearsal' : 'run'} timeline</text>\n${parts.join('\n')}\n</svg>\n`;
}

function isOutage(s: RunSummary, id: string): boolean {
  return s.outage.outageIds?.includes(id) ?? false;
}

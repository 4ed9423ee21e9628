/**
 * The rehearsal report: a table per step like pgcopydb's summary (phase, side, duration, rows, bytes,
 * connections, concurrency), the projected and measured write outage against the budget with its critical
 * path, and the SVG timeline (embedded in the HTML, a separate file beside the Markdown).
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { humanBytes, humanDuration } from '../lib/format.js';
import { esc, page } from './html.js';
import { type RunSummary, type StepTiming, criticalPathText } from './timings.js';
import { timelineSvg } from './timeline-svg.js';

const cols = ['phase', 'step', 'side', 'duration', 'rows', 'bytes', 'conn. (src/tgt)', 'concurrency', 'outcome'];
function cells(t: StepTiming): string[] {
  return [t.phase, t.title, t.side, `${humanDuration(t.durationMs)}${t.simulated ? ' (stated)' : ''}`, t.rows !== undefined ? String(t.rows) : '',
    t.bytes !== undefined ? humanBytes(t.bytes) : '', t.connections ? `${t.connections.source}/${t.connections.target}` : '',
    t.concurrency !== undefined ? String(t.concurrency) : '', t.outcome];
}

/** The write outage a fenced cutover measured (fence to verified), summed over such steps. */
export function fencedOutageMs(s: RunSummary): number | undefined {
  const ms = s.steps.map((t) => t.writeOutageMs).filter((x): x is number => x !== undefined);
  return ms.length ? ms.reduce((a, b) => a + b, 0) : undefined;
}

export function outageText(s: RunSummary): string {
  const o = s.outage;
  const fenced = fencedOutageMs(s);
  const fencedText = fenced !== undefined ? ` Writes were fenced on the source for ${humanDuration(fenced)} (fence to verified).` : '';
  if (!o.outageIds?.length) return `No write outage is marked in the runbook.${fencedText}`;
  const budget = o.budgetMs !== undefined ? ` against a budget of ${humanDuration(o.budgetMs)}: ${o.withinBudget ? 'within budget' : `OVER BUDGET by ${humanDuration(o.projectedMs - o.budgetMs)}`}` : '';
  return `Projected write outage ${humanDuration(o.projectedMs)}${budget}${o.measuredMs !== undefined ? ` (measured in this ${s.mode === 'rehearse' ? 'rehearsal' : 'run'}: ${humanDuration(o.measuredMs)})` : ''}. Critical path: ${criticalPathText(o.criticalPath, s.steps)}.${fencedText}`;
}

export function connectionsText(s: RunSummary): string {
  const c = s.connections;
  if (!c?.source && !c?.target) return '';
  const side = (n: string, p?: { peakOurs: number; peakTotal: number; maxConnections: number }) => (p ? `${n} ${p.peakOurs} of cutover's, ${p.peakTotal} in all (max_connections ${p.maxConnections})` : `${n} not sampled`);
  const g = c.governor ?? [];
  const count = (k: string) => g.filter((e) => e.kind === k).length;
  const guard = g.length ? ` The application grew past the budget: ${count('wait')} wait(s) for a slot, ${count('shed')} worker(s) gave back their sessions, ${count('rejoin')} came back.` : '';
  return `Peak connections: ${side('source', c.source)}; ${side('target', c.target)}.${guard}`;
}

export function reportMarkdown(s: RunSummary): string {
  return [`# ${s.name}: ${s.mode === 'rehearse' ? 'rehearsal' : 'run'} report`, '',
    `${s.startedAt.slice(0, 19).replace('T', ' ')} UTC, ${humanDuration(s.durationMs)} in all, outcome **${s.outcome}**.`, '',
    `**${outageText(s)}**`, '', connectionsText(s), '', '![timeline](timeline.svg)', '',
    `| ${cols.join(' | ')} |`, `|${cols.map(() => '---').join('|')}|`,
    ...s.steps.map((t) => `| ${cells(t).map((c) => c.replace(/\|/g, '\\|')).join(' | ')} |`), '',
    '## Phases', '', '| phase | duration |', '|---|---|', ...s.phases.map((p) => `| ${p.phase} | ${humanDuration(p.durationMs)} |`), ''].join('\n');
}

export function reportHtml(s: RunSummary): string {
  const rows = s.steps.map((t) => `<tr class="${t.outcome === 'ok' ? '' : 'bad'}">${cells(t).map((c, i) => `<td${i >= 3 && i <= 7 ? ' class="n"' : ''}>${esc(c)}</td>`).join('')}</tr>`).join('\n');
  return page(`${s.name}: ${s.mode} report`, [
    `<h1>${esc(s.name)}: ${s.mode === 'rehearse' ? 'rehearsal' : 'run'} report</h1>`,
    `<p class="meta">${esc(s.startedAt.slice(0, 19).replace('T', ' '))} UTC · ${esc(humanDuration(s.durationMs))} in all · outcome <b class="${s.outcome === 'ok' ? 'ok' : 'bad'}">${esc(s.outcome)}</b></p>`,
    `<p><b class="${s.outage.withinBudget === false ? 'bad' : 'ok'}">${esc(outageText(s))}</b></p>`,
    `<p class="meta">${esc(connectionsText(s))}</p>`,
    `<h2>Timeline</h2>${timelineSvg(s)}`,
    `<h2>Steps</h2><table><tr>${cols.map((c) => `<th>${esc(c)}</th>`).join('')}</tr>\n${rows}</table>`,
    `<h2>Phases</h2><table><tr><th>phase</th><th>duration</th></tr>${s.phases.map((p) => `<tr><td>${esc(p.phase)}</td><td class="n">${esc(humanDuration(p.durationMs))}</td></tr>`).join('')}</table>`,
  ].join('\n'));
}

export async function writeReport(dir: string, s: RunSummary): Promise<string[]> {
  const files = [join(dir, 'report.md'), join(dir, 'report.html'), join(dir, 'timeline.svg')];
  await Promise.all([writeFile(files[0]!, reportMarkdown(s)), writeFile(files[1]!, reportHtml(s)), writeFile(files[2]!, timelineSvg(s))]);
  return files;
}

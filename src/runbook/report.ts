/**
 * The rehearsal report: a table per step like pgcopydb's summary (phase, side, duration, rows, bytes,
 * connections, concurrency), the projected and measured write outage against the budget with its critical
 * path, the verify outcomes up front, every step's key results (a fenced switch's outage phase by phase),
 * and the SVG timeline (embedded in the HTML, a separate file beside the Markdown).
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { humanBytes, humanDuration } from '../lib/format.js';
import { esc, inline, page } from './html.js';
import { type RunSummary, type StepTiming, criticalPathText } from './timings.js';
import { timelineSvg } from './timeline-svg.js';
import { outageRows, stepResultLines, verifyLine } from './results-text.js';
import type { TimedPhase } from './key-results.js';

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

/** Every verify outcome of the run (verify steps, fenced switches): what a reader looks for first. */
export function verifyVerdicts(s: RunSummary): { step: StepTiming; ok: boolean; line: string }[] {
  return s.steps.flatMap((t) => {
    const v = t.results?.kind === 'verify' ? t.results.verify : t.results?.kind === 'switch' ? t.results.verify : undefined;
    const where = t.results?.kind === 'switch' ? (t.results.direction === 'cutover' ? ' in the cutover\'s fence' : ' in the rollback\'s fence') : '';
    return v ? [{ step: t, ok: v.ok, line: verifyLine(v, where) }] : [];
  });
}

/** The outage phases of a fenced switch, with their share of it. */
function breakdown(t: StepTiming): { rows: TimedPhase[]; totalMs: number } | undefined {
  const r = t.results;
  return r?.kind === 'switch' && !r.already && r.outage.phases.length ? { rows: outageRows(r.outage), totalMs: r.outage.totalMs } : undefined;
}
const share = (ms: number, total: number) => (total > 0 ? Math.round((ms / total) * 100) : 0);
const cleanTitle = (t: StepTiming) => t.title.replace(/\.$/, '');

function resultsMarkdown(s: RunSummary): string[] {
  const out: string[] = [];
  for (const t of s.steps) {
    const lines = stepResultLines(t, { outageTable: true });
    if (!lines.length) continue;
    out.push(`### ${cleanTitle(t)}`, '', `\`${t.id}\` · ${t.phase} · ${humanDuration(t.durationMs)} · ${t.outcome}`, '', ...lines.map((l) => `- ${l}`), '');
    const b = breakdown(t);
    if (b) out.push('| outage phase | duration | share |', '|---|---:|---:|', ...b.rows.map((p) => `| ${p.phase} | ${humanDuration(p.durationMs)} | ${share(p.durationMs, b.totalMs)} % |`), '');
  }
  return out.length ? ['## Results', '', ...out] : [];
}

function resultsHtml(s: RunSummary): string {
  const blocks = s.steps.map((t) => {
    const lines = stepResultLines(t, { outageTable: true });
    if (!lines.length) return '';
    const b = breakdown(t);
    const table = b ? `<table class="breakdown"><tr><th>outage phase</th><th class="n">duration</th><th>share</th></tr>${b.rows.map((p) =>
      `<tr><td>${esc(p.phase)}</td><td class="n">${esc(humanDuration(p.durationMs))}</td><td><span class="bar" style="width:${(share(p.durationMs, b.totalMs) * 0.08).toFixed(2)}rem"></span> ${share(p.durationMs, b.totalMs)} %</td></tr>`).join('')}</table>` : '';
    return `<div class="result${t.outcome === 'ok' ? '' : ' bad'}"><h3>${inline(cleanTitle(t))} <span class="meta">${esc(t.id)} · ${esc(t.phase)} · ${esc(humanDuration(t.durationMs))} · ${esc(t.outcome)}</span></h3>` +
      `<ul>${lines.map((l) => `<li>${esc(l)}</li>`).join('')}</ul>${table}</div>`;
  }).filter(Boolean);
  return blocks.length ? `<h2>Results</h2>\n${blocks.join('\n')}` : '';
}

export function reportMarkdown(s: RunSummary): string {
  return [`# ${s.name}: ${s.mode === 'rehearse' ? 'rehearsal' : 'run'} report`, '',
    `${s.startedAt.slice(0, 19).replace('T', ' ')} UTC, ${humanDuration(s.durationMs)} in all, outcome **${s.outcome}**.`, '',
    `**${outageText(s)}**`, '', ...verifyVerdicts(s).map((v) => `- ${v.ok ? '✔' : '✘'} **${v.line}** (${cleanTitle(v.step)})`), '', connectionsText(s), '', '![timeline](timeline.svg)', '',
    `| ${cols.join(' | ')} |`, `|${cols.map(() => '---').join('|')}|`,
    ...s.steps.map((t) => `| ${cells(t).map((c) => c.replace(/\|/g, '\\|')).join(' | ')} |`), '',
    ...resultsMarkdown(s),
    '## Phases', '', '| phase | duration |', '|---|---|', ...s.phases.map((p) => `| ${p.phase} | ${humanDuration(p.durationMs)} |`), ''].join('\n');
}

export function reportHtml(s: RunSummary): string {
  const rows = s.steps.map((t) => `<tr class="${t.outcome === 'ok' ? '' : 'bad'}">${cells(t).map((c, i) => `<td${i >= 3 && i <= 7 ? ' class="n"' : ''}>${i === 1 ? inline(c) : esc(c)}</td>`).join('')}</tr>`).join('\n');
  return page(`${s.name}: ${s.mode} report`, [
    `<h1>${esc(s.name)}: ${s.mode === 'rehearse' ? 'rehearsal' : 'run'} report</h1>`,
    `<p class="meta">${esc(s.startedAt.slice(0, 19).replace('T', ' '))} UTC · ${esc(humanDuration(s.durationMs))} in all · outcome <b class="${s.outcome === 'ok' ? 'ok' : 'bad'}">${esc(s.outcome)}</b></p>`,
    `<p><b class="${s.outage.withinBudget === false ? 'bad' : 'ok'}">${inline(outageText(s))}</b></p>`,
    ...verifyVerdicts(s).map((v) => `<p class="verdict ${v.ok ? 'ok' : 'bad'}">${v.ok ? '✔' : '✘'} <b>${esc(v.line)}</b> <span class="meta">(${inline(cleanTitle(v.step))})</span></p>`),
    `<p class="meta">${esc(connectionsText(s))}</p>`,
    `<h2>Timeline</h2>${timelineSvg(s)}`,
    `<h2>Steps</h2><table><tr>${cols.map((c) => `<th>${esc(c)}</th>`).join('')}</tr>\n${rows}</table>`,
    resultsHtml(s),
    `<h2>Phases</h2><table><tr><th>phase</th><th>duration</th></tr>${s.phases.map((p) => `<tr><td>${esc(p.phase)}</td><td class="n">${esc(humanDuration(p.durationMs))}</td></tr>`).join('')}</table>`,
  ].join('\n'));
}

export async function writeReport(dir: string, s: RunSummary): Promise<string[]> {
  const files = [join(dir, 'report.md'), join(dir, 'report.html'), join(dir, 'timeline.svg')];
  await Promise.all([writeFile(files[0]!, reportMarkdown(s)), writeFile(files[1]!, reportHtml(s)), writeFile(files[2]!, timelineSvg(s))]);
  return files;
}

/**
 * `cutover render`: the runbook as a checklist people tick, in Markdown or one self-contained printable
 * HTML file: every step with its command (secrets redacted), the expected duration (last rehearsal, else
 * the runbook's own "(est. ...)"), totals per phase, and the projected write outage against the budget.
 */
import { scrub, redact, parseConnString } from '../pg/conninfo.js';
import { humanDuration } from '../lib/format.js';
import type { ConnectionRef, Runbook, Step } from './model.js';
import { type RunSummary, criticalPathText, expectedDuration, projectOutage, units } from './timings.js';
import { esc, inline, page } from './html.js';
import { stepResultLines } from './results-text.js';

export type RenderFormat = 'md' | 'html';

function refText(r: ConnectionRef): string {
  if (r.env) return `$${r.env}`;
  try { return redact(parseConnString(r.url!, { env: {} })); } catch { return '(invalid)'; }
}

function command(s: Step): { lang: string; code: string } | undefined {
  switch (s.kind) {
    case 'sql': return { lang: `sql (on ${s.on})`, code: scrub(s.body).trimEnd() };
    case 'sh': return { lang: 'sh', code: scrub(s.body).trimEnd() };
    case 'action': return { lang: `cutover ${s.action}`, code: scrub(s.body).trimEnd() };
    default: return undefined;
  }
}

function kindLabel(s: Step): string {
  return s.kind === 'action' ? `cutover ${s.action}` : s.kind === 'sql' ? `sql on ${s.on}` : s.kind;
}

interface Plan {
  phaseTotal: Map<string, number>;
  expected: (s: Step) => number | undefined;
  /** What the rehearsal's run of this step found (verify counts, the outage breakdown...), headed by its outcome. */
  rehearsed: (s: Step) => { head: string; lines: string[] } | undefined;
  outageLine: string;
  source: string;
}

function plan(rb: Runbook, timings?: RunSummary): Plan {
  const expected = (s: Step) => expectedDuration(s, timings);
  const phaseTotal = new Map<string, number>();
  for (const p of rb.phases) {
    const total = units(rb.steps.filter((s) => s.phase === p)).reduce((n, u) => n + Math.max(...u.map((s) => expected(s) ?? 0)), 0);
    phaseTotal.set(p, total);
  }
  const o = projectOutage(rb, expected);
  const budget = o.budgetMs !== undefined ? ` against a budget of ${humanDuration(o.budgetMs)}: ${o.withinBudget ? 'within budget' : `OVER BUDGET by ${humanDuration(o.projectedMs - o.budgetMs)}`}` : '';
  const outageLine = rb.markers.length
    ? `Projected write outage: ${humanDuration(o.projectedMs)}${budget}. Critical path: ${criticalPathText(o.criticalPath, rb.steps) || '-'}.`
    : 'No write outage is marked (add <!-- cutover: writes-stopped --> and <!-- cutover: writes-resumed -->).';
  const source = timings ? `Expected durations from the rehearsal of ${timings.startedAt.slice(0, 16).replace('T', ' ')} UTC (else the runbook's estimates).` : "Expected durations from the runbook's (est. ...) notes; render with --timings summary.json from a rehearsal for measured ones.";
  const rehearsed = (s: Step) => {
    const t = timings?.steps.find((x) => x.id === s.id);
    const lines = t ? stepResultLines(t) : [];
    return t && lines.length ? { head: t.outcome === 'ok' ? 'In the rehearsal' : `In the rehearsal (${t.outcome})`, lines } : undefined;
  };
  return { phaseTotal, expected, rehearsed, outageLine, source };
}

export function renderRunbook(rb: Runbook, format: RenderFormat, timings?: RunSummary): string {
  return format === 'md' ? renderMd(rb, timings) : renderHtml(rb, timings);
}

/** Markers before step `index`: those written at the end of the previous phase, or at this point of it. */
function markerAt(rb: Runbook, index: number, phase: string | undefined, endOfPrevious: boolean): string[] {
  return rb.markers.filter((m) => m.beforeStep === index && (endOfPrevious ? m.phase !== phase : m.phase === phase)).map((m) => m.kind);
}
const MD_MARK = (m: string) => (m === 'writes-stopped' ? '> **■ WRITES STOPPED: the outage starts here**' : '> **▶ WRITES RESUMED: the outage ends here**');
const HTML_MARK = (m: string) => `<li class="marker">${m === 'writes-stopped' ? '■ WRITES STOPPED: the outage starts here' : '▶ WRITES RESUMED: the outage ends here'}</li>`;

function renderMd(rb: Runbook, timings?: RunSummary): string {
  const p = plan(rb, timings);
  const out: string[] = [`# ${rb.front.name}`, '',
    `Source: \`${refText(rb.front.connections.source)}\` · Target: \`${refText(rb.front.connections.target)}\`` +
    `${rb.front.downtimeBudgetMs !== undefined ? ` · Downtime budget: ${humanDuration(rb.front.downtimeBudgetMs)}` : ''}`, '',
    `**${p.outageLine}**`, '', `_${p.source}_`];
  let phase = '';
  for (const s of rb.steps) {
    if (s.phase !== phase) {
      for (const m of markerAt(rb, s.index, s.phase, true)) out.push('', MD_MARK(m));
      phase = s.phase;
      const total = p.phaseTotal.get(phase) ?? 0;
      out.push('', `## ${phase}${s.rollback ? ' (only if the run fails)' : ''}${total ? ` (expected ${humanDuration(total)})` : ''}`, '');
    }
    for (const m of markerAt(rb, s.index, s.phase, false)) out.push('', MD_MARK(m), '');
    const exp = p.expected(s);
    out.push(`- [ ] **${s.title}** \`${kindLabel(s)}\`${s.parallel ? ` (parallel: ${s.parallel})` : ''}${exp !== undefined ? ` (expected ${humanDuration(exp)})` : ''} <sub>${s.id}, line ${s.line}</sub>`);
    if (s.description) out.push('', `  ${scrub(s.description)}`, '');
    const r = p.rehearsed(s);
    if (r && r.lines.length === 1) out.push('', `  _${r.head}:_ ${scrub(r.lines[0]!)}`, '');
    else if (r) out.push('', `  _${r.head}:_`, ...r.lines.map((l) => `  - ${scrub(l)}`), '');
    const cmd = command(s);
    if (cmd && cmd.code) out.push(`  \`\`\`${cmd.lang.split(' ')[0] === 'cutover' ? 'yaml' : cmd.lang.split(' ')[0]}`, ...cmd.code.split('\n').map((l) => `  ${l}`), '  ```');
    else if (s.details) out.push(...scrub(s.details).split('\n').map((l) => `  ${l}`));
  }
  for (const m of rb.markers.filter((x) => x.beforeStep === rb.steps.length)) out.push('', MD_MARK(m.kind));
  return out.join('\n') + '\n';
}

function renderHtml(rb: Runbook, timings?: RunSummary): string {
  const p = plan(rb, timings);
  const o = projectOutage(rb, p.expected);
  const b: string[] = [`<h1>${esc(rb.front.name)}</h1>`,
    `<p class="meta">Source <code>${esc(refText(rb.front.connections.source))}</code> · Target <code>${esc(refText(rb.front.connections.target))}</code>` +
    `${rb.front.downtimeBudgetMs !== undefined ? ` · Downtime budget <b>${esc(humanDuration(rb.front.downtimeBudgetMs))}</b>` : ''}</p>`,
    `<p><b class="${o.withinBudget === false ? 'bad' : 'ok'}">${inline(p.outageLine)}</b></p>`, `<p class="meta"><i>${esc(p.source)}</i></p>`];
  let phase = '';
  let open = false;
  for (const s of rb.steps) {
    if (s.phase !== phase) {
      for (const m of markerAt(rb, s.index, s.phase, true)) b.push(HTML_MARK(m));
      if (open) b.push('</ul></section>');
      phase = s.phase;
      const total = p.phaseTotal.get(phase) ?? 0;
      b.push(`<section${s.rollback ? ' class="rollback"' : ''}><h2>${inline(phase)}${s.rollback ? ' <small>(only if the run fails)</small>' : ''}${total ? `<span class="total">expected ${esc(humanDuration(total))}</span>` : ''}</h2><ul class="steps">`);
      open = true;
    }
    for (const m of markerAt(rb, s.index, s.phase, false)) b.push(HTML_MARK(m));
    const exp = p.expected(s);
    const cmd = command(s);
    b.push(`<li><label><input type="checkbox"> <b>${inline(s.title)}</b></label><span class="kind">${esc(kindLabel(s))}</span>` +
      `${s.parallel ? `<span class="kind">parallel: ${esc(s.parallel)}</span>` : ''}${exp !== undefined ? `<span class="exp">expected ${esc(humanDuration(exp))}</span>` : ''}` +
      `<span class="exp">${esc(s.id)} · line ${s.line}</span>` +
      `${s.description ? `<p class="desc">${inline(scrub(s.description))}</p>` : ''}` +
      `${rehearsedHtml(p.rehearsed(s))}` +
      `${cmd && cmd.code ? `<pre>${esc(cmd.code)}</pre>` : ''}${s.details ? `<pre>${esc(scrub(s.details))}</pre>` : ''}</li>`);
  }
  for (const m of rb.markers.filter((x) => x.beforeStep === rb.steps.length)) b.push(HTML_MARK(m.kind));
  if (open) b.push('</ul></section>');
  return page(`${rb.front.name}: checklist`, b.join('\n'));
}

function rehearsedHtml(r: ReturnType<Plan['rehearsed']>): string {
  if (!r) return '';
  if (r.lines.length === 1) return `<p class="rehearsed"><i>${esc(r.head)}:</i> ${esc(scrub(r.lines[0]!))}</p>`;
  return `<div class="rehearsed"><i>${esc(r.head)}:</i><ul>${r.lines.map((l) => `<li>${esc(scrub(l))}</li>`).join('')}</ul></div>`;
}

/**
 * `cutover render`: the runbook as a checklist people tick, in Markdown or one self-contained printable
 * HTML file: every step with its command (secrets redacted), the expected duration (last rehearsal, else
 * the runbook's own "(est. ...)"), totals per phase, and the projected write outage against the budget.
 */
import { scrub, redact, parseConnString } from '../pg/conninfo.js';
import { humanDuration } from '../cli/format.js';
import type { ConnectionRef, Runbook, Step } from './model.js';
import { type RunSummary, expectedDuration, projectOutage, units } from './timings.js';
import { esc, page } from './html.js';

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
    ? `Projected write outage: ${humanDuration(o.projectedMs)}${budget}. Critical path: ${o.criticalPath.join(' → ') || '-'}.`
    : 'No write outage is marked (add <!-- cutover: writes-stopped --> and <!-- cutover: writes-resumed -->).';
  const source = timings ? `Expected durations from the rehearsal of ${timings.startedAt.slice(0, 16).replace('T', ' ')} UTC (else the runbook's estimates).` : "Expected durations from the runbook's (est. ...) notes; render with --timings summary.json from a rehearsal for measured ones.";
  return { phaseTotal, expected, outageLine, source };
}

export function renderRunbook(rb: Runbook, format: RenderFormat, timings?: RunSummary): string {
  return format === 'md' ? renderMd(rb, timings) : renderHtml(rb, timings);
}

function markerAt(rb: Runbook, index: number): string[] {
  return rb.markers.filter((m) => m.beforeStep === index).map((m) => m.kind);
}

function renderMd(rb: Runbook, timings?: RunSummary): string {
  const p = plan(rb, timings);
  const out: string[] = [`# ${rb.front.name}`, '',
    `Source: \`${refText(rb.front.connections.source)}\` · Target: \`${refText(rb.front.connections.target)}\`` +
    `${rb.front.downtimeBudgetMs !== undefined ? ` · Downtime budget: ${humanDuration(rb.front.downtimeBudgetMs)}` : ''}`, '',
    `**${p.outageLine}**`, '', `_${p.source}_`];
  let phase = '';
  for (const s of rb.steps) {
    if (s.phase !== phase) {
      phase = s.phase;
      const total = p.phaseTotal.get(phase) ?? 0;
      out.push('', `## ${phase}${s.rollback ? ' (only if the run fails)' : ''}${total ? ` (expected ${humanDuration(total)})` : ''}`, '');
    }
    for (const m of markerAt(rb, s.index)) out.push(m === 'writes-stopped' ? '> **⏸ WRITES STOPPED: the outage starts here**' : '> **▶ WRITES RESUMED: the outage ends here**', '');
    const exp = p.expected(s);
    out.push(`- [ ] **${s.title}** \`${kindLabel(s)}\`${s.parallel ? ` (parallel: ${s.parallel})` : ''}${exp !== undefined ? ` (expected ${humanDuration(exp)})` : ''} <sub>${s.id}, line ${s.line}</sub>`);
    const cmd = command(s);
    if (cmd && cmd.code) out.push(`  \`\`\`${cmd.lang.split(' ')[0] === 'cutover' ? 'yaml' : cmd.lang.split(' ')[0]}`, ...cmd.code.split('\n').map((l) => `  ${l}`), '  ```');
    else if (s.kind === 'manual' && s.body.includes('\n')) out.push(...s.body.split('\n').slice(1).map((l) => `  ${l}`));
  }
  for (const m of markerAt(rb, rb.steps.length)) out.push('', m === 'writes-resumed' ? '> **▶ WRITES RESUMED: the outage ends here**' : '> **⏸ WRITES STOPPED**');
  return out.join('\n') + '\n';
}

function renderHtml(rb: Runbook, timings?: RunSummary): string {
  const p = plan(rb, timings);
  const o = projectOutage(rb, p.expected);
  const b: string[] = [`<h1>${esc(rb.front.name)}</h1>`,
    `<p class="meta">Source <code>${esc(refText(rb.front.connections.source))}</code> · Target <code>${esc(refText(rb.front.connections.target))}</code>` +
    `${rb.front.downtimeBudgetMs !== undefined ? ` · Downtime budget <b>${esc(humanDuration(rb.front.downtimeBudgetMs))}</b>` : ''}</p>`,
    `<p><b class="${o.withinBudget === false ? 'bad' : 'ok'}">${esc(p.outageLine)}</b></p>`, `<p class="meta"><i>${esc(p.source)}</i></p>`];
  let phase = '';
  let open = false;
  for (const s of rb.steps) {
    if (s.phase !== phase) {
      if (open) b.push('</ul></section>');
      phase = s.phase;
      const total = p.phaseTotal.get(phase) ?? 0;
      b.push(`<section${s.rollback ? ' class="rollback"' : ''}><h2>${esc(phase)}${s.rollback ? ' <small>(only if the run fails)</small>' : ''}${total ? `<span class="total">expected ${esc(humanDuration(total))}</span>` : ''}</h2><ul class="steps">`);
      open = true;
    }
    for (const m of markerAt(rb, s.index)) b.push(`<li class="marker">${m === 'writes-stopped' ? '⏸ WRITES STOPPED: the outage starts here' : '▶ WRITES RESUMED: the outage ends here'}</li>`);
    const exp = p.expected(s);
    const cmd = command(s);
    b.push(`<li><label><input type="checkbox"> <b>${esc(s.title)}</b></label><span class="kind">${esc(kindLabel(s))}</span>` +
      `${s.parallel ? `<span class="kind">parallel: ${esc(s.parallel)}</span>` : ''}${exp !== undefined ? `<span class="exp">expected ${esc(humanDuration(exp))}</span>` : ''}` +
      `<span class="exp">${esc(s.id)} · line ${s.line}</span>` +
      `${cmd && cmd.code ? `<pre>${esc(cmd.code)}</pre>` : ''}${s.kind === 'manual' && s.body.includes('\n') ? `<pre>${esc(s.body.split('\n').slice(1).join('\n'))}</pre>` : ''}</li>`);
  }
  for (const m of markerAt(rb, rb.steps.length)) b.push(`<li class="marker">${m === 'writes-resumed' ? '▶ WRITES RESUMED' : '⏸ WRITES STOPPED'}</li>`);
  if (open) b.push('</ul></section>');
  return page(`${rb.front.name}: checklist`, b.join('\n'));
}

/**
 * The rehearsal report and its timeline, from constructed summaries (no server needed): the key results
 * each step shows, the verify verdicts, the outage breakdown, summaries written before results existed,
 * and the timeline's geometry when stated (manual) steps would dominate it.
 */
import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { reportHtml, reportMarkdown, verifyVerdicts } from '../src/runbook/report.js';
import { LAYOUT, timelineSvg } from '../src/runbook/timeline-svg.js';
import { STATED_W, timelineScale } from '../src/runbook/timeline-scale.js';
import { type KeyResults, switchResults, verifyOutcome } from '../src/runbook/key-results.js';
import { resultLines } from '../src/runbook/results-text.js';
import { loadTimings, type RunSummary, type StepTiming } from '../src/runbook/timings.js';
import { parseRunbook } from '../src/runbook/parse.js';
import { renderRunbook } from '../src/runbook/render.js';

const counts = { tables: 9, rows: 20000, tablesDiffering: 0, rowDifferences: 0, matviewDifferences: 0, largeObjectDifferences: 0, sequencesBehind: 0, schemaDifferences: 0, privilegeDifferences: 0 };
const cutoverResults = switchResults('cutover', {
  outageMs: 1000, fencedTables: 12, drainedEvents: 40, sequences: 5,
  phases: [
    { phase: 'catch up', durationMs: 300 }, { phase: 'pre-verify', durationMs: 2000 }, { phase: 'catch up', durationMs: 50 },
    { phase: 'fence', durationMs: 100 }, { phase: 'drain', durationMs: 200 }, { phase: 'large objects', durationMs: 10 }, { phase: 'sequences', durationMs: 40 },
    { phase: 'restore target triggers', durationMs: 20 }, { phase: 'deferred foreign keys', durationMs: 5 }, { phase: 'verify (changed since pre-verify)', durationMs: 500 },
    { phase: 'open rollback window', durationMs: 100 }, { phase: 'forward capture off the source', durationMs: 70 },
  ],
  verify: verifyOutcome('incremental', true, counts, 19500),
});

function step(id: string, o: Partial<StepTiming> & { startMs: number; durationMs: number }): StepTiming {
  return { id, title: `Step ${id}.`, phase: 'Main', kind: 'action', action: 'copy', side: 'both', outcome: 'ok', ...o };
}

function summary(steps: StepTiming[], outageIds: string[] = []): RunSummary {
  const end = Math.max(...steps.map((s) => s.startMs + s.durationMs));
  return {
    runbook: 'rb.md', name: 'test <move>', mode: 'rehearse', startedAt: '2026-11-20T02:00:00.000Z', endedAt: '2026-11-20T03:00:00.000Z', outcome: 'ok',
    durationMs: end, steps, phases: [{ phase: 'Main', durationMs: end }], outage: { projectedMs: 0, criticalPath: [], outageIds, budgetMs: 120_000 },
  };
}

/** x and width of every step's bar, by step id. */
function bars(svg: string): Map<string, { x: number; w: number }> {
  const out = new Map<string, { x: number; w: number }>();
  for (const m of svg.matchAll(/<rect data-step="([^"]+)" x="([\d.]+)" y="[\d.]+" width="([\d.]+)"/g)) out.set(m[1]!, { x: Number(m[2]), w: Number(m[3]) });
  return out;
}

// Measured 2 s + 6 s of work around a stated 30-min manual step, then 4 s more.
const dominated = summary([
  step('copy', { startMs: 0, durationMs: 2000 }),
  step('verify', { startMs: 2000, durationMs: 6000, action: 'verify' }),
  step('wait', { startMs: 8000, durationMs: 1_800_000, kind: 'manual', action: undefined, side: 'none', simulated: true }),
  step('switch', { startMs: 1_808_000, durationMs: 4000, action: 'replicate-cutover' }),
], ['switch']);

describe('timeline geometry', () => {
  it('draws a dominating stated step at a fixed width with a break, measured steps in proportion', () => {
    const svg = timelineSvg(dominated);
    const b = bars(svg);
    expect([...b.keys()]).toEqual(['copy', 'verify', 'wait', 'switch']);
    // The stated 30 min takes no more than its fixed width...
    expect(b.get('wait')!.w).toBeLessThanOrEqual(STATED_W);
    // ...and the measured steps share the rest in proportion to their durations (1 : 3 : 2).
    expect(b.get('verify')!.w / b.get('copy')!.w).toBeCloseTo(3, 1);
    expect(b.get('switch')!.w / b.get('copy')!.w).toBeCloseTo(2, 1);
    expect(b.get('copy')!.w).toBeGreaterThan(80);
    // In order, side by side, within the chart.
    expect(b.get('verify')!.x).toBeCloseTo(b.get('copy')!.x + b.get('copy')!.w, 0);
    expect(b.get('wait')!.x).toBeCloseTo(b.get('verify')!.x + b.get('verify')!.w, 0);
    expect(b.get('switch')!.x).toBeCloseTo(b.get('wait')!.x + b.get('wait')!.w, 0);
    expect(b.get('switch')!.x + b.get('switch')!.w).toBeLessThanOrEqual(LAYOUT.labelW + LAYOUT.chartW + 0.5);
    // The break is marked and labelled with the stated time.
    expect(svg).toContain('data-break="8000-1808000"');
    expect(svg).toContain('30 min stated');
    expect(svg).toMatch(/<g class="break">/);
    expect(svg).toContain('shortened, not to scale');
  });

  it('keeps a linear axis when the stated steps do not dominate', () => {
    const s = summary([
      step('copy', { startMs: 0, durationMs: 3_600_000 }),
      step('wait', { startMs: 3_600_000, durationMs: 60_000, kind: 'manual', simulated: true }),
      step('verify', { startMs: 3_660_000, durationMs: 1_200_000 }),
    ]);
    const svg = timelineSvg(s);
    const b = bars(svg);
    expect(svg).not.toContain('data-break');
    expect(svg).not.toContain('shortened');
    // Everything to one scale: 60 min : 1 min : 20 min.
    expect(b.get('copy')!.w / b.get('wait')!.w).toBeCloseTo(60, 0);
    expect(b.get('copy')!.w / b.get('verify')!.w).toBeCloseTo(3, 1);
    expect(b.get('copy')!.w + b.get('wait')!.w + b.get('verify')!.w).toBeCloseTo(LAYOUT.chartW, 0);
  });

  it('shortens several stated steps, each to the fixed width at most, and keeps the axis monotonic', () => {
    const steps = [
      { startMs: 0, durationMs: 1000 }, { startMs: 1000, durationMs: 30_000, simulated: true }, { startMs: 31_000, durationMs: 2000 },
      { startMs: 33_000, durationMs: 172_800_000, simulated: true }, { startMs: 172_833_000, durationMs: 500 },
    ];
    const sc = timelineScale(steps, 600);
    expect(sc.breaks.map((b) => [b.startMs, b.endMs])).toEqual([[1000, 31_000], [33_000, 172_833_000]]);
    for (const b of sc.breaks) expect(b.x1 - b.x0).toBeLessThanOrEqual(STATED_W);
    expect(sc.x(172_833_500)).toBeCloseTo(600, 5);
    // Measured 1 s, 2 s and 0.5 s at one scale.
    expect(sc.x(33_000) - sc.x(31_000)).toBeCloseTo(2 * (sc.x(1000) - sc.x(0)), 5);
    expect(sc.x(172_833_500) - sc.x(172_833_000)).toBeCloseTo((sc.x(1000) - sc.x(0)) / 2, 5);
    let last = -1;
    for (let t = 0; t <= sc.totalMs; t += sc.totalMs / 997) { expect(sc.x(t)).toBeGreaterThanOrEqual(last); last = sc.x(t); }
  });

  it('a timeline of stated steps only stays linear', () => {
    const sc = timelineScale([{ startMs: 0, durationMs: 60_000, simulated: true }, { startMs: 60_000, durationMs: 120_000, simulated: true }], 600);
    expect(sc.breaks).toEqual([]);
    expect(sc.x(60_000)).toBeCloseTo(200, 5);
  });
});

describe('key results', () => {
  it('splits a cutover\'s phases into before the fence, the outage and after the switch', () => {
    const r = cutoverResults as Extract<KeyResults, { kind: 'switch' }>;
    expect(r.before.map((p) => p.phase)).toEqual(['catch up', 'pre-verify', 'catch up']);
    expect(r.outage.phases.map((p) => p.phase)).toEqual(['fence', 'drain', 'large objects', 'sequences', 'restore target triggers', 'deferred foreign keys', 'verify (changed since pre-verify)', 'open rollback window']);
    expect(r.after.map((p) => p.phase)).toEqual(['forward capture off the source']);
    expect(r.outage.otherMs).toBe(1000 - 975);
  });

  it('follows the engine\'s own outage marks over the phases\' names (a phase of a later version, a pooler pause)', () => {
    const r = switchResults('cutover', {
      outageMs: 500, fencedTables: 3, drainedEvents: 0, sequences: 0,
      phases: [
        { phase: 'catch up', durationMs: 30, outage: false }, { phase: 'a new phase before', durationMs: 5, outage: false },
        { phase: 'pause pooler', durationMs: 10, outage: true }, { phase: 'fence', durationMs: 20, outage: true }, { phase: 'large objects again', durationMs: 40, outage: true },
        { phase: 'switch pooler', durationMs: 15, outage: true }, { phase: 'a new phase after', durationMs: 7, outage: false },
      ],
    }) as Extract<KeyResults, { kind: 'switch' }>;
    expect(r.before.map((p) => p.phase)).toEqual(['catch up', 'a new phase before']);
    expect(r.outage.phases.map((p) => p.phase)).toEqual(['pause pooler', 'fence', 'large objects again', 'switch pooler']);
    expect(r.after.map((p) => p.phase)).toEqual(['a new phase after']);
    expect(r.outage.otherMs).toBe(500 - 85);
  });

  const withResults = summary([
    step('copy', { startMs: 0, durationMs: 2000, results: { kind: 'data', action: 'copy', tables: 9, rows: 20000, bytes: 3 * 1024 * 1024, indexes: 12 } }),
    step('verify', { startMs: 2000, durationMs: 6000, action: 'verify', results: { kind: 'verify', verify: verifyOutcome('checksums', true, counts) } }),
    step('cutover', { startMs: 8000, durationMs: 4000, action: 'replicate-cutover', results: cutoverResults, summary: 'not shown: the typed results are' }),
    step('doctor', { startMs: 12_000, durationMs: 100, action: 'doctor', summary: '3 warning(s) <b>' }),
  ], ['cutover']);

  it('the HTML report shows the verdicts first, every step\'s results and the outage breakdown, escaped', () => {
    const html = reportHtml(withResults);
    expect(html).toContain('verified (checksums): 9 tables, 20000 rows identical');
    expect(html).toContain('verified (incremental) in the cutover\'s fence: 9 tables, 20000 rows identical (19500 of them verified before the fence and unchanged since)');
    // Verdicts come before the timeline.
    expect(html.indexOf('class="verdict ok"')).toBeGreaterThan(0);
    expect(html.indexOf('class="verdict ok"')).toBeLessThan(html.indexOf('<h2>Timeline</h2>'));
    expect(html).toContain('<h2>Results</h2>');
    expect(html).toContain('copied 9 tables, 20000 rows, 3.0 MB, 12 indexes');
    // The outage's phases are in the table below the lines, not repeated in them.
    expect(html).toContain('<li>write outage 1.0 s (fence to switch)</li>');
    expect(html).toContain('<li>verified (incremental) in the fence: 9 tables, 20000 rows identical (19500 of them verified before the fence and unchanged since)</li>');
    expect(html).toContain('before the fence, writes going on: catch up 300 ms, pre-verify 2.0 s, catch up 50 ms');
    expect(html).toContain('12 tables fenced on the source, 40 events drained in the fence, 5 sequences set');
    // The breakdown table: every outage phase with its share, and the gap between phases.
    for (const [phase, pct] of [['fence', 10], ['drain', 20], ['sequences', 4], ['verify (changed since pre-verify)', 50], ['open rollback window', 10], ['other (between phases)', 3]] as const) {
      expect(html).toMatch(new RegExp(`<td>${phase.replace(/[()]/g, '\\$&')}</td><td class="n">[^<]+</td><td><span class="bar" style="width:[\\d.]+rem"></span> ${pct} %</td>`));
    }
    expect(html).not.toContain('not shown: the typed results are');
    expect(html).toContain('3 warning(s) &lt;b&gt;');
    expect(html).toContain('test &lt;move&gt;');
    expect(html).not.toContain('<move>');
  });

  it('the Markdown report says the same', () => {
    const md = reportMarkdown(withResults);
    expect(md).toContain('- ✔ **verified (checksums): 9 tables, 20000 rows identical** (Step verify)');
    expect(md).toContain('## Results');
    expect(md).toContain('### Step cutover');
    expect(md).toContain('| verify (changed since pre-verify) | 500 ms | 50 % |');
    expect(md).toContain('- copied 9 tables, 20000 rows, 3.0 MB, 12 indexes');
  });

  it('a verify line names the other parts it compared, when it knows them', () => {
    const v = verifyOutcome('full', true, { ...counts, matviews: 2, largeObjects: 1, sequences: 5, schemaObjects: 204, privileges: 0 });
    expect(resultLines({ kind: 'verify', verify: v })).toEqual(['verified (full): 9 tables, 20000 rows identical; also compared: 2 materialized views, 1 large object, 5 sequences, 204 schema objects']);
  });

  it('a verify that found differences says what differed, in red', () => {
    const bad = verifyOutcome('full', false, { ...counts, tablesDiffering: 1, rowDifferences: 3, sequencesBehind: 1 });
    const s = summary([step('verify', { startMs: 0, durationMs: 1000, outcome: 'failed', results: { kind: 'verify', verify: bad } })]);
    const v = verifyVerdicts(s);
    expect(v).toHaveLength(1);
    expect(v[0]!.ok).toBe(false);
    expect(v[0]!.line).toBe('verify (full) FOUND DIFFERENCES: 1 table differs (3 rows); 1 other difference (sequences, schema, matviews, large objects or privileges); 9 tables, 20000 rows compared');
    const html = reportHtml(s);
    expect(html).toContain('class="verdict bad"');
    expect(html).toContain('<div class="result bad">');
  });

  it('a summary.json written before key results existed still loads and renders', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cutover-report-'));
    const old = summary([step('copy', { startMs: 0, durationMs: 2000, rows: 5, summary: '1 tables, 0 indexes' }), step('x', { startMs: 2000, durationMs: 10, results: { kind: 'from the future' } as unknown as KeyResults })]);
    writeFileSync(join(dir, 'summary.json'), JSON.stringify(old));
    const s = await loadTimings(join(dir, 'summary.json'));
    expect(s.steps[0]!.results).toBeUndefined();
    // A results field this version cannot read is dropped, not trusted.
    expect(s.steps[1]!.results).toBeUndefined();
    expect(verifyVerdicts(s)).toEqual([]);
    expect(reportHtml(s)).toContain('<li>1 tables, 0 indexes</li>');
    expect(reportMarkdown(s)).not.toContain('verified');
    expect(JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8')).steps[0].rows).toBe(5);
  });

  it('the checklist rendered with the rehearsal\'s timings shows what each step found there', () => {
    const text = `---\nname: t\nconnections:\n  source: env:S\n  target: env:T\n---\n# T\n\n## Main\n\nVerify it.\n\n\`\`\`cutover verify {id=verify}\nlevel: checksums\n\`\`\`\n`;
    const rb = parseRunbook(text, 't.md').runbook!;
    const md = renderRunbook(rb, 'md', withResults);
    expect(md).toContain('  _In the rehearsal:_ verified (checksums): 9 tables, 20000 rows identical\n');
    const html = renderRunbook(rb, 'html', withResults);
    expect(html).toContain('<p class="rehearsed"><i>In the rehearsal:</i> verified (checksums): 9 tables, 20000 rows identical</p>');
    expect(renderRunbook(rb, 'html')).not.toContain('class="rehearsed"');
  });

  it('without the report\'s table, a switch says its outage phase by phase in one line', () => {
    expect(resultLines(cutoverResults)).toEqual([
      'write outage 1.0 s (fence to switch): fence 100 ms, drain 200 ms, large objects 10 ms, sequences 40 ms, restore target triggers 20 ms, deferred foreign keys 5 ms, verify (changed since pre-verify) 500 ms, open rollback window 100 ms, other (between phases) 25 ms',
      'verified (incremental) in the fence: 9 tables, 20000 rows identical (19500 of them verified before the fence and unchanged since)',
      '12 tables fenced on the source, 40 events drained in the fence, 5 sequences set',
      'before the fence, writes going on: catch up 300 ms, pre-verify 2.0 s, catch up 50 ms',
      'after the switch: forward capture off the source 70 ms',
    ]);
    const back = switchResults('rollback', { outageMs: 0, phases: [], fencedTables: 0, drainedEvents: 0, sequences: 0 }, true);
    expect(resultLines(back)).toEqual(['already rolled back by an earlier run: nothing to do']);
  });
});

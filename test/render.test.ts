import { describe, expect, it } from 'vitest';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { parseRunbook } from '../src/runbook/parse.js';
import { renderRunbook } from '../src/runbook/render.js';
import type { RunSummary } from '../src/runbook/timings.js';

// Goldens are reviewed by eye; regenerate with UPDATE_GOLDEN=1 after an intended change.
function golden(name: string, actual: string) {
  const url = new URL(`./golden/${name}`, import.meta.url);
  if (process.env.UPDATE_GOLDEN || !existsSync(url)) writeFileSync(url, actual);
  expect(actual).toBe(readFileSync(url, 'utf8'));
}

const rb = parseRunbook(readFileSync(new URL('../runbooks/heroku-to-cloudsql.md', import.meta.url), 'utf8'), 'heroku-to-cloudsql.md').runbook!;

const timings: RunSummary = {
  runbook: 'heroku-to-cloudsql.md', name: rb.front.name, mode: 'rehearse', startedAt: '2026-11-20T02:00:00.000Z', endedAt: '2026-11-20T05:40:00.000Z',
  outcome: 'ok', durationMs: 13_200_000, phases: [],
  outage: { projectedMs: 0, criticalPath: [] },
  steps: [
    { id: 'copy', title: 'Copy the database', phase: 'Change', kind: 'action', action: 'copy', side: 'both', startMs: 0, durationMs: 5_040_000, outcome: 'ok' },
    { id: 'verify', title: 'Verify', phase: 'Change', kind: 'action', action: 'verify', side: 'both', startMs: 5_040_000, durationMs: 1_860_000, outcome: 'ok' },
  ],
};

describe('render', () => {
  it('markdown checklist (golden)', () => golden('heroku.md', renderRunbook(rb, 'md')));
  it('markdown checklist with rehearsal timings (golden)', () => golden('heroku-timed.md', renderRunbook(rb, 'md', timings)));
  it('html checklist with rehearsal timings (golden), self-contained', () => {
    const html = renderRunbook(rb, 'html', timings);
    golden('heroku-timed.html', html);
    expect(html).not.toMatch(/<(script|link|img)\b|https?:\/\//);
    expect((html.match(/<input type="checkbox">/g) ?? []).length).toBe(rb.steps.length);
  });
  it('uses rehearsal durations over estimates in totals and the outage', () => {
    const md = renderRunbook(rb, 'md', timings);
    // copy 1 h 24 + verify 31 min + switch 5 min (est.) = 2 h
    expect(md).toContain('Projected write outage: 2 h against a budget of 6 h: within budget.');
    expect(md).toContain('**Copy the database** `cutover copy` (expected 1 h 24 min)');
  });
  it('never shows a secret from a step body', () => {
    const text = readFileSync(new URL('../runbooks/heroku-to-cloudsql.md', import.meta.url), 'utf8')
      .replace('jobs: auto\n   ```\n4.', 'jobs: auto\n   ```\n   ```sh {id=leak}\n   pg_isready -d "postgres://admin:s3cr3t@db/app" && psql "password=hunter2 host=x"\n   ```\n4.');
    const leaky = parseRunbook(text, 'x.md').runbook!;
    expect(leaky.steps.some((s) => s.id === 'leak')).toBe(true);
    for (const f of ['md', 'html'] as const) {
      const out = renderRunbook(leaky, f);
      expect(out).not.toContain('s3cr3t');
      expect(out).not.toContain('hunter2');
    }
  });
});

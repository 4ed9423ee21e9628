import { describe, expect, it } from 'vitest';
import { readFileSync, readdirSync } from 'node:fs';
import { parseRunbook } from '../src/runbook/parse.js';
import { formatProblem } from '../src/runbook/model.js';
import { projectOutage } from '../src/runbook/timings.js';
import { parseDuration } from '../src/lib/duration.js';
import { cutover } from './helpers/cli.js';
import { ACTIONS } from '../src/runbook/actions/index.js';

const fixture = (name: string) => new URL(`./fixtures/${name}`, import.meta.url);

describe('runbook validation', () => {
  it('reports every problem at once with its line number', () => {
    const r = parseRunbook(readFileSync(fixture('broken.md'), 'utf8'), 'broken.md');
    expect(r.runbook).toBeUndefined();
    const lines = r.problems.map(formatProblem);
    const expected: [number, RegExp][] = [
      [5, /connections\.target: the connection string contains a password/],
      [6, /downtime_budget: "soon" is not a duration/],
      [7, /unknown key\(s\) "colour"/],
      [14, /unknown action "frobnicate"/],
    ];
    for (const [line, re] of expected) expect(lines.some((l) => l.startsWith(`broken.md:${line}: `) && re.test(l)), `${line} ${re}\n${lines.join('\n')}`).toBe(true);
  });

  it('reports body problems with their lines: unknown action and option, bad YAML, duplicate id, sql side, markers', () => {
    const text = readFileSync(fixture('broken.md'), 'utf8').replace('  target: postgres://app:hunter2@db.example.com/app\n', '  target: env:TARGET_URL\n')
      .replace('downtime_budget: soon\n', '').replace('colour: blue\n', '');
    const r = parseRunbook(text, 'broken.md');
    const lines = r.problems.map(formatProblem);
    const at = (n: number, re: RegExp) => expect(lines.some((l) => l.startsWith(`broken.md:${n}: `) && re.test(l)), `line ${n}: ${re}\n${lines.join('\n')}`).toBe(true);
    // (three front matter lines were removed above: the body starts two lines earlier than in the file)
    // Every operation of the registry is listed (the list is the registry's, not this test's).
    at(12, new RegExp(`unknown action "frobnicate" \\(known: ${[...ACTIONS.keys()].join(', ')}\\)`));
    expect([...ACTIONS.keys()]).toEqual(expect.arrayContaining(['doctor', 'copy', 'verify', 'replicate-cutover', 'replicate-rollback', 'replicate-finish', 'sql-file']));
    at(17, /cutover copy: jobs: must be "auto" or a whole number from 1 to 64/);
    at(18, /cutover copy: unknown option\(s\) "turbo"/);
    at(21, /duplicate id "copy" \(also at line 16\)/);
    at(22, /cutover verify: level: /);
    at(25, /sql block without \{on=source\} or \{on=target\}/);
    // replica could be a named endpoint: refused because the front matter does not name it.
    at(29, /sql \{on=replica\}: the front matter declares no endpoint "replica" \(source, target, or one named under connections\)/);
    at(35, /bad YAML/);
    at(37, /writes-resumed without an earlier writes-stopped/);
    at(43, /unknown attribute "wat"/);
    expect(lines.length).toBeGreaterThanOrEqual(10);
    // Sorted by line.
    const nums = r.problems.map((p) => p.line);
    expect(nums).toEqual([...nums].sort((a, b) => a - b));
  });

  it('sh steps declare the connections they open: parsed, and checked', () => {
    const head = '---\nname: t\nconnections:\n  source: env:S\n  target: env:T\n---\n# T\n\n## P\n\n';
    const good = parseRunbook(head + '```sh {id=a connections=2/1}\ntrue\n```\n', 'x.md');
    expect(good.problems).toEqual([]);
    expect(good.runbook?.steps[0]?.options).toEqual({ connections: { source: 2, target: 1 } });
    const bad = parseRunbook(head + '```sh {connections=lots}\ntrue\n```\n\n```sql {on=source connections=1/0}\nselect 1\n```\n', 'x.md');
    expect(bad.problems.map(formatProblem)).toEqual([
      'x.md:11: connections=lots: write it as SOURCE/TARGET counts, e.g. connections=2/1',
      'x.md:15: "connections" is for sh blocks: sql steps open one connection, actions declare their own',
    ]);
  });

  it('a runbook whose only step fails its checks reports that step, not "no steps"; an empty one says no steps', () => {
    const head = '---\nname: t\nconnections:\n  source: env:S\n  target: env:T\n---\n# T\n\n## P\n\n';
    const bad = parseRunbook(head + 'Run it.\n\n```cutover sql-file\nfile: m.sql\n```\n', 'x.md');
    expect(bad.problems.map(formatProblem)).toEqual(['x.md:14: cutover sql-file: on: required: source, target, or an endpoint named under the front matter\'s connections']);
    const empty = parseRunbook(head, 'x.md');
    expect(empty.problems.map(formatProblem)).toEqual([expect.stringMatching(/^x\.md:\d+: no steps: /)]);
  });

  it('verify steps take exclude_tables and a role map', () => {
    const head = '---\nname: t\nconnections:\n  source: env:S\n  target: env:T\n---\n# T\n\n## P\n\n';
    const good = parseRunbook(head + '```cutover verify {id=v}\nlevel: full\ntables: [app.orders, app.customers]\nexclude_tables: [app.customers]\nrole_map: { u4f8a: app }\n```\n', 'x.md');
    expect(good.problems).toEqual([]);
    expect(good.runbook?.steps[0]?.options).toMatchObject({ level: 'full', tables: ['app.orders', 'app.customers'], exclude_tables: ['app.customers'], role_map: { u4f8a: 'app' } });
    const bad = parseRunbook(head + '```cutover verify {id=v}\nrole_map: [u4f8a]\n```\n', 'x.md');
    expect(bad.problems.map(formatProblem).join('\n')).toMatch(/x\.md:12: cutover verify: role_map: /);
  });

  it('accepts the shipped runbooks and computes the outage from the estimates', () => {
    const shipped = readdirSync(new URL('../runbooks/', import.meta.url)).filter((f) => f.endsWith('.md')).sort();
    expect(shipped).toEqual(['ci-smoke.md', 'dump-restore-window.md', 'heroku-to-cloudsql.md', 'online-cutover-pgbouncer.md', 'online-cutover.md']);
    for (const f of shipped) {
      const r = parseRunbook(readFileSync(new URL(`../runbooks/${f}`, import.meta.url), 'utf8'), f);
      expect(r.problems, f).toEqual([]);
      expect(r.runbook!.steps.length, f).toBeGreaterThan(3);
    }
    // The reference runbooks hold the steps the issue names, in order.
    const actions = (f: string) => parseRunbook(readFileSync(new URL(`../runbooks/${f}`, import.meta.url), 'utf8'), f).runbook!.steps
      .filter((s) => s.kind === 'action').map((s) => s.action);
    expect(actions('online-cutover.md')).toEqual(['doctor', 'budget', 'replicate-start', 'copy', 'replicate-catch-up', 'replicate-cutover', 'replicate-catch-up', 'replicate-finish', 'replicate-rollback']);
    expect(actions('online-cutover-pgbouncer.md')).toEqual(actions('online-cutover.md'));
    const pooled = parseRunbook(readFileSync(new URL('../runbooks/online-cutover-pgbouncer.md', import.meta.url), 'utf8'), 'p.md').runbook!;
    expect(pooled.front.connections.pooler).toEqual({ env: 'POOLER_URL' });
    expect(pooled.steps.find((s) => s.action === 'replicate-cutover')!.options).toMatchObject({ fence: 'pooler', pooler: { database: 'app', pause_timeout_s: 10 } });
    expect(actions('dump-restore-window.md')).toEqual(['doctor', 'budget', 'wait-for', 'dump', 'restore', 'verify']);
    const rb = parseRunbook(readFileSync(new URL('../runbooks/heroku-to-cloudsql.md', import.meta.url), 'utf8'), 'h.md').runbook!;
    const o = projectOutage(rb, (s) => s.estimateMs);
    // Writes stop after maintenance mode: check (no est.) + copy 1 h 30 + verify 20 min + switch 5 min
    expect(o.projectedMs).toBe((90 + 20 + 5) * 60_000);
    expect(o.criticalPath).toEqual(['check-writers', 'copy', 'verify', 'point-database-url-at-the-target-restart']);
    expect(o.withinBudget).toBe(true);
    const manual = rb.steps.find((s) => s.id === 'check-writers')!;
    expect(manual.kind).toBe('sql');
    expect(manual.title).toBe('Check nothing is writing');
  });

  it('parses durations as people write them', () => {
    expect(parseDuration('6h')).toBe(6 * 3_600_000);
    expect(parseDuration('1 h 30')).toBe(90 * 60_000);
    expect(parseDuration('2 days')).toBe(2 * 86_400_000);
    expect(parseDuration('90s')).toBe(90_000);
    expect(parseDuration('5 min')).toBe(300_000);
    expect(parseDuration('2h30m')).toBe(150 * 60_000);
    expect(parseDuration('soon')).toBeUndefined();
  });

  it('cutover check: exit 2 and FILE:LINE lines for a broken runbook, the plan for a good one', async () => {
    const bad = await cutover(['check', 'test/fixtures/broken.md']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/problem\(s\) in broken\.md:\nbroken\.md:5: /);
    expect(bad.stderr).toContain('broken.md:14: unknown action');
    expect(bad.stderr).not.toContain('hunter2');
    const good = await cutover(['check', 'runbooks/heroku-to-cloudsql.md']);
    expect(good.code).toBe(0);
    expect(good.stdout).toMatch(/write outage: 4 step\(s\) between the markers, estimated 1 h 55 min \(from est\. notes\) of a 6 h budget/);
  });
});

describe('step titles are short; the text that describes a step stays as its description', () => {
  const FRONT = '---\nname: titles\nconnections:\n  source: env:S\n  target: env:T\n---\n';
  const steps = (body: string) => {
    const r = parseRunbook(FRONT + body, 'titles.md');
    expect(r.problems).toEqual([]);
    return r.runbook!.steps;
  };

  it('the first sentence of a long paragraph (not at "e.g." or a period inside `code`), the whole paragraph as description', () => {
    const para = 'Prove the target equal, e.g. by checksums in `verify.level.full`. The fence stops every writer; ' +
      'the cutover fails if a write gets past it, and the operator is told which table, role and backend wrote.';
    const [s] = steps(`## Cutover\n\n${para}\n\n\`\`\`cutover verify\n\`\`\`\n`);
    expect(s!.title).toBe('Prove the target equal, e.g. by checksums in `verify.level.full`.');
    expect(s!.description).toBe(para);
    // An id from whole words, at most 40 characters.
    expect(s!.id).toBe('prove-the-target-equal-e-g-by-checksums');
    expect(s!.id.length).toBeLessThanOrEqual(40);
  });

  it('a ### heading titles the first block under it; title= wins over both; a one-sentence paragraph has no description', () => {
    const ss = steps('## Copy\n\n### Copy the data\n\nEverything, while the application writes. It takes a while.\n\n```cutover copy\n```\n\n' +
      'Check the copy.\n\n```cutover verify\n```\n\nA paragraph about it. More words here.\n\n```cutover verify {title="Verify again"}\n```\n');
    expect(ss.map((s) => [s.title, s.description])).toEqual([
      ['Copy the data', 'Everything, while the application writes. It takes a while.'],
      ['Check the copy.', undefined],
      ['Verify again', 'A paragraph about it. More words here.'],
    ]);
    expect(ss.map((s) => s.id)).toEqual(['copy-the-data', 'check-the-copy', 'verify-again']);
  });

  it('a checklist item: its first sentence, the rest as description; a first sentence over 100 characters is cut at a word', () => {
    const long = 'Turn the maintenance mode on in the admin console of every region, then wait for the queue workers of each region to drain completely';
    const ss = steps(`## Cutover\n- [ ] Tell the on-call channel. They need to know the window started.\n- [ ] ${long}.\n`);
    expect(ss[0]).toMatchObject({ title: 'Tell the on-call channel.', description: 'Tell the on-call channel. They need to know the window started.' });
    expect(ss[1]!.title.length).toBeLessThanOrEqual(91);
    expect(ss[1]!.title).toMatch(/^Turn the maintenance mode on .*\w…$/);
    expect(ss[1]!.description).toBe(`${long}.`);
  });

  it('every shipped runbook: titles are one line of at most 100 characters, ids whole words', () => {
    for (const f of readdirSync(new URL('../runbooks/', import.meta.url)).filter((x) => x.endsWith('.md'))) {
      const r = parseRunbook(readFileSync(new URL(`../runbooks/${f}`, import.meta.url), 'utf8'), f);
      for (const s of r.runbook!.steps) {
        expect(s.title, `${f}: ${s.id}`).not.toMatch(/\n/);
        expect(s.title.length, `${f}: ${s.id}`).toBeLessThanOrEqual(100);
        expect(s.id, f).toMatch(/^[a-z0-9]+(?:[-_.][a-z0-9]+)*$/);
      }
    }
  });
});

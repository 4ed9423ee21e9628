import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { startClusters, stopAllClusters, type Cluster } from '../src/testing/index.js';
import { CLI, cutover } from './helpers/cli.js';
import { FRONT, tempRunbook } from './helpers/runbook.js';

let src: Cluster, tgt: Cluster;
let env: Record<string, string>;

beforeAll(async () => {
  [src, tgt] = (await startClusters([{ version: 15, password: 'pw-src-secret' }, { version: 15, password: 'pw-tgt-secret' }])) as [Cluster, Cluster];
  await src.createDatabase('app');
  await tgt.createDatabase('app');
  env = { SOURCE_URL: src.url('app'), TARGET_URL: tgt.url('app') };
});
afterAll(() => stopAllClusters());

const journalOf = (stateDir: string) => readFileSync(join(stateDir, 'journal.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { event: string; id?: string; outcome?: string });

// Each step appends its id to a table on the target, so re-runs are visible in the data itself.
const marks = (ids: string[]) => ids.map((id) => `\`\`\`sql {on=target id=${id}}\nINSERT INTO runlog (step) VALUES ('${id}');\n\`\`\`\n`).join('\n');
const ranSteps = async () => (await tgt.query<{ step: string }>('SELECT step FROM runlog ORDER BY n', [], 'app')).rows.map((r) => r.step);

describe('cutover run', () => {
  it('keeps each step\'s whole output in logs/<step>.log, passwords scrubbed, and the journal points to it', async () => {
    const rb = await tempRunbook(`${FRONT}\n# T\n\n## One\n\n\`\`\`sh {id=chatty}\nfor i in $(seq 1 12); do echo "line $i"; done\necho "url $TARGET_URL"\npsql -XAtc "select 'from psql'" "$TARGET_URL"\n\`\`\`\n`);
    const r = await cutover(['run', rb.file, '--state-dir', rb.stateDir], env);
    expect(r.code, r.stderr).toBe(0);
    const end = readFileSync(join(rb.stateDir, 'journal.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { event: string; id?: string; log?: string })
      .find((e) => e.event === 'step-end' && e.id === 'chatty')!;
    expect(end.log).toBe(join('logs', 'chatty.log'));
    const log = readFileSync(join(rb.stateDir, end.log!), 'utf8');
    for (let i = 1; i <= 12; i++) expect(log).toMatch(new RegExp(`^\\S+ line ${i}$`, 'm'));
    expect(log).toMatch(/from psql/);
    expect(log).toMatch(/--- ok in /);
    expect(log).not.toContain('pw-tgt-secret');
    expect(log).toMatch(/^\S+ url postgres:\/\//m);
  });

  it('runs every step in order with plain lines when not on a terminal, and records the journal', async () => {
    await tgt.query('DROP TABLE IF EXISTS runlog; CREATE TABLE runlog (n serial, step text)', [], 'app');
    const rb = await tempRunbook(`${FRONT}\n# T\n\n## One\n\n${marks(['a', 'b'])}\n## Two\n\n\`\`\`sh {id=shell}\npsql -XAtc "select current_setting('application_name')" "$TARGET_URL"\n\`\`\`\n`);
    const r = await cutover(['run', rb.file, '--state-dir', rb.stateDir], env);
    expect(r.code, r.stderr).toBe(0);
    expect(await ranSteps()).toEqual(['a', 'b']);
    // Plain lines: no cursor movement or line erasing escape codes.
    expect(r.stdout).not.toMatch(/\x1b\[\d*[ABCDGKJ]/);
    expect(r.stdout).toMatch(/One/);
    // The shell step reached the target with the password from the passfile, named after the step.
    const j = journalOf(rb.stateDir);
    expect(j.filter((e) => e.event === 'step-end' && e.outcome === 'ok').map((e) => e.id)).toEqual(['a', 'b', 'shell']);
    const summary = JSON.parse(readFileSync(join(rb.stateDir, 'summary.json'), 'utf8')) as { steps: { id: string; summary?: string }[] };
    // Named after the step, with the run's session tag (how an interruption finds the run's own sessions).
    expect(summary.steps.find((s) => s.id === 'shell')!.summary).toMatch(/^cutover\/shell#t[0-9a-f]{8}$/);
    // No secret anywhere in what the run left behind or printed.
    for (const text of [r.stdout, r.stderr, readFileSync(join(rb.stateDir, 'journal.jsonl'), 'utf8'), readFileSync(join(rb.stateDir, 'summary.json'), 'utf8')]) {
      expect(text).not.toContain('pw-src-secret');
      expect(text).not.toContain('pw-tgt-secret');
    }
    // Running a finished runbook again needs --fresh.
    const again = await cutover(['run', rb.file, '--state-dir', rb.stateDir], env);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain('already ran to completion');
  });

  it('resumes after SIGKILL at several points without re-running finished steps', async () => {
    await tgt.query('DROP TABLE IF EXISTS runlog; CREATE TABLE runlog (n serial, step text)', [], 'app');
    // Each step sleeps a little so the kill lands mid-run; the sleep is in the same transaction as the mark.
    const step = (id: string) => `\`\`\`sql {on=target id=${id}}\nSELECT pg_sleep(0.3); INSERT INTO runlog (step) VALUES ('${id}');\n\`\`\`\n`;
    const ids = ['s1', 's2', 's3', 's4', 's5', 's6'];
    const rb = await tempRunbook(`${FRONT}\n# T\n\n## Steps\n\n${ids.map(step).join('\n')}`);
    let kills = 0;
    for (let attempt = 0; attempt < 10; attempt++) {
      const args = ['run', rb.file, '--state-dir', rb.stateDir, ...(attempt > 0 ? ['--resume'] : [])];
      const child = execa('node', [CLI, ...args], { env, reject: false });
      // Kill after this run has journaled its start and about one more step has finished (a fixed delay
      // raced the run's own startup on a busy machine).
      const starts = () => { try { return journalOf(rb.stateDir).filter((e) => e.event === 'run-start').length; } catch { return 0; } };
      for (let w = 0; w < 600 && starts() <= attempt && child.exitCode === null; w++) await new Promise((r) => setTimeout(r, 25));
      await new Promise((r) => setTimeout(r, 400));
      const done = child.exitCode !== null;
      if (!done) { child.kill('SIGKILL'); kills++; }
      const res = await child;
      if (done || res.exitCode === 0) break;
      // A killed run's target session may still hold its (rolled back) transaction for a moment.
      await tgt.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name LIKE 'cutover/%'`);
    }
    const final = await cutover(['run', rb.file, '--state-dir', rb.stateDir, '--resume'], env);
    expect([0, 2]).toContain(final.code); // 2 = already complete
    // A resumed run shows what finished before as skipped with the time it finished, its title once.
    if (final.code === 0) {
      const skipped = final.stdout.split('\n').filter((l) => l.includes('[SKIPPED:'));
      expect(skipped.length).toBeGreaterThan(0);
      for (const l of skipped) expect(l).toMatch(/^\s*↓ (.+) \[SKIPPED: done at \d\d:\d\d:\d\d\]$/);
    }
    expect(kills).toBeGreaterThanOrEqual(2);
    // The contract: no step the journal recorded as finished ever starts again. (A step killed while
    // running, even after its SQL committed, is not finished: it runs again on resume. Steps should be
    // idempotent; docs/runbook-format.md says so.)
    const j = journalOf(rb.stateDir);
    const finishedAt = new Map<string, number>();
    j.forEach((e, i) => {
      if (e.event === 'step-start' && finishedAt.has(e.id!)) throw new Error(`step ${e.id} started again at journal line ${i + 1} after finishing at line ${finishedAt.get(e.id!)! + 1}`);
      if (e.event === 'step-end' && e.outcome === 'ok') finishedAt.set(e.id!, i);
    });
    expect([...finishedAt.keys()].sort()).toEqual(ids);
    expect(j.filter((e) => e.event === 'run-start').length).toBeGreaterThanOrEqual(kills + 1);
    // Every step's effect is there, in order; a step appears twice only if a kill caught it in flight.
    const ran = await ranSteps();
    expect([...new Set(ran)]).toEqual(ids);
    const inFlightAtSomeKill = new Set(j.filter((e) => e.event === 'step-start').map((e) => e.id!).filter((id) => j.filter((e) => e.event === 'step-start' && e.id === id).length > 1));
    for (const id of ids) if (!inFlightAtSomeKill.has(id)) expect(ran.filter((x) => x === id)).toHaveLength(1);
  });

  it('refuses to resume when a finished step was edited', async () => {
    await tgt.query('DROP TABLE IF EXISTS runlog; CREATE TABLE runlog (n serial, step text)', [], 'app');
    const text = `${FRONT}\n# T\n\n## Steps\n\n${marks(['first'])}\n\`\`\`sql {on=target id=boom}\nSELECT 1/0;\n\`\`\`\n`;
    const rb = await tempRunbook(text);
    const r1 = await cutover(['run', rb.file, '--state-dir', rb.stateDir], env);
    expect(r1.code).toBe(6);
    expect(r1.stderr).toMatch(/sql on target failed \(SQLSTATE 22012\)/);
    await writeFile(rb.file, text.replace("VALUES ('first')", "VALUES ('first-edited')"));
    const r2 = await cutover(['run', rb.file, '--state-dir', rb.stateDir, '--resume'], env);
    expect(r2.code).toBe(2);
    expect(r2.stderr).toMatch(/cannot resume: 1 finished step\(s\) changed since they ran:\n\s+.*runbook\.md:\d+: "first" finished at/);
    expect(await ranSteps()).toEqual(['first']);
  });

  it('a failing step triggers the rollback phase (with --yes)', async () => {
    await tgt.query('DROP TABLE IF EXISTS runlog; CREATE TABLE runlog (n serial, step text)', [], 'app');
    const rb = await tempRunbook(`${FRONT}\n# T\n\n## Change\n\n${marks(['before'])}\n\`\`\`sh {id=fails}\necho "about to fail" >&2; exit 3\n\`\`\`\n\n${marks(['never'])}\n## Rollback\n\n${marks(['undo'])}`);
    const r = await cutover(['run', rb.file, '--state-dir', rb.stateDir, '--yes'], env);
    expect(r.code).toBe(6);
    expect(r.stderr).toMatch(/sh step exited with code 3/);
    expect(r.stderr).toContain('about to fail');
    expect(r.stdout).toContain('(rollback ran)');
    expect(await ranSteps()).toEqual(['before', 'undo']);
    // Without --yes and without a terminal, the rollback is not run but named.
    await tgt.query('TRUNCATE runlog', [], 'app');
    const r2 = await cutover(['run', rb.file, '--state-dir', rb.stateDir, '--fresh'], env);
    expect(r2.code).toBe(6);
    expect(r2.stderr).toMatch(/rollback not run \(no terminal to confirm; pass --yes, or run `cutover run --rollback` later\)/);
    expect(await ranSteps()).toEqual(['before']);
    // On demand.
    const r3 = await cutover(['run', rb.file, '--state-dir', rb.stateDir, '--rollback'], env);
    expect(r3.code).toBe(0);
    expect(await ranSteps()).toEqual(['before', 'undo']);
  });

  it('manual steps need a terminal or --yes; only one run at a time per target', async () => {
    const rb = await tempRunbook(`${FRONT}\n# T\n\n## Steps\n\n- [ ] Tell the team. (est. 2 min)\n\n\`\`\`sql {on=target id=slow}\nSELECT pg_sleep(20)\n\`\`\`\n`);
    const r = await cutover(['run', rb.file, '--state-dir', rb.stateDir], env);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/manual step "Tell the team\." needs a confirmation/);
    const first = execa('node', [CLI, 'run', rb.file, '--state-dir', `${rb.stateDir}-1`, '--yes'], { env, reject: false });
    for (let i = 0; i < 100; i++) {
      const n = (await tgt.query<{ n: number }>(`SELECT count(*)::int n FROM pg_stat_activity WHERE application_name LIKE 'cutover/run-lock#%'`)).rows[0]!.n;
      if (n > 0) break;
      await new Promise((res) => setTimeout(res, 50));
    }
    const second = await cutover(['run', rb.file, '--state-dir', `${rb.stateDir}-2`, '--yes'], env);
    expect(second.code).toBe(4);
    expect(second.stderr).toMatch(/another cutover run holds the lock on the target postgres:\/\/postgres:\*\*\*\*@127\.0\.0\.1:\d+\/app/);
    expect((await first).exitCode).toBe(0);
  });

  it('a rehearsal writes summary.json, the reports and the SVG timeline, with the outage against the budget', async () => {
    await tgt.query('DROP TABLE IF EXISTS runlog; CREATE TABLE runlog (n serial, step text)', [], 'app');
    const rb = await tempRunbook(`${FRONT}\n# T\n\n## Prepare\n\n- [ ] Stop the app. (est. 30s)\n\n<!-- cutover: writes-stopped -->\n\n## Switch\n\n` +
      `\`\`\`sql {on=target id=p1 parallel=g}\nSELECT pg_sleep(0.4)\n\`\`\`\n\n\`\`\`sql {on=source id=p2 parallel=g}\nSELECT pg_sleep(0.2)\n\`\`\`\n\n${marks(['after'])}\n<!-- cutover: writes-resumed -->\n`);
    const r = await cutover(['rehearse', rb.file, '--state-dir', rb.stateDir], env);
    expect(r.code, r.stderr).toBe(0);
    const s = JSON.parse(readFileSync(join(rb.stateDir, 'summary.json'), 'utf8')) as import('../src/runbook/timings.js').RunSummary;
    expect(s.mode).toBe('rehearse');
    const manual = s.steps.find((x) => x.kind === 'manual')!;
    expect(manual).toMatchObject({ simulated: true, durationMs: 30_000 });
    // The two parallel steps overlap in time.
    const [p1, p2] = [s.steps.find((x) => x.id === 'p1')!, s.steps.find((x) => x.id === 'p2')!];
    expect(p2.startMs).toBeLessThan(p1.startMs + p1.durationMs);
    expect(s.outage.criticalPath).toEqual(['p1', 'after']);
    expect(s.outage.projectedMs).toBe(p1.durationMs + s.steps.find((x) => x.id === 'after')!.durationMs);
    expect(s.outage.withinBudget).toBe(true);
    for (const f of ['report.md', 'report.html', 'timeline.svg']) expect(existsSync(join(rb.stateDir, f))).toBe(true);
    const svg = readFileSync(join(rb.stateDir, 'timeline.svg'), 'utf8');
    expect(svg).toMatch(/^<svg xmlns/);
    expect((svg.match(/<rect [^>]*rx="3"/g) ?? []).length).toBe(s.steps.length);
    expect(svg).toContain('write outage');
    const html = readFileSync(join(rb.stateDir, 'report.html'), 'utf8');
    expect(html).toContain('<svg');
    expect(html).not.toMatch(/<(script|link)\b|src="http/);
  });
});

describe('cutover rehearse: key results', () => {
  it('a verify step\'s counts reach summary.json and the report, identical or not', async () => {
    for (const c of [src, tgt]) await c.query('DROP TABLE IF EXISTS kr; CREATE TABLE kr (id int PRIMARY KEY, v text); INSERT INTO kr SELECT g, md5(g::text) FROM generate_series(1, 250) g', [], 'app');
    const text = `${FRONT}\n# T\n\n## Check\n\nCompare the table.\n\n\`\`\`cutover verify {id=v}\nlevel: checksums\ntables: [public.kr]\n\`\`\`\n`;
    const rb = await tempRunbook(text);
    const ok = await cutover(['rehearse', rb.file, '--state-dir', rb.stateDir], env);
    expect(ok.code, ok.stderr).toBe(0);
    type S = import('../src/runbook/timings.js').RunSummary;
    const s = JSON.parse(readFileSync(join(rb.stateDir, 'summary.json'), 'utf8')) as S;
    expect(s.steps[0]!.results).toEqual({ kind: 'verify', verify: { level: 'checksums', ok: true, tables: 1, rows: 250, tablesDiffering: 0, rowDifferences: 0, otherDifferences: 0,
      compared: { matviews: 0, largeObjects: 0, sequences: 0, schemaObjects: 0, privileges: 0 } } });
    expect(readFileSync(join(rb.stateDir, 'report.html'), 'utf8')).toContain('verified (checksums): 1 table, 250 rows identical');
    expect(readFileSync(join(rb.stateDir, 'report.md'), 'utf8')).toContain('verified (checksums): 1 table, 250 rows identical');
    // Two rows changed on the target: the failed step keeps what verify found.
    await tgt.query("UPDATE kr SET v = 'changed' WHERE id IN (7, 99)", [], 'app');
    const bad = await cutover(['rehearse', rb.file, '--state-dir', rb.stateDir, '--fresh'], env);
    expect(bad.code).toBe(5);
    const f = JSON.parse(readFileSync(join(rb.stateDir, 'summary.json'), 'utf8')) as S;
    expect(f.steps[0]!.outcome).toBe('failed');
    expect(f.steps[0]!.results).toMatchObject({ kind: 'verify', verify: { ok: false, tables: 1, tablesDiffering: 1, rowDifferences: 2 } });
    expect(readFileSync(join(rb.stateDir, 'report.html'), 'utf8')).toContain('verify (checksums) FOUND DIFFERENCES: 1 table differs (2 rows)');
  });
});

describe('cutover run: SIGINT', () => {
  it('cancels the running SQL on the server, journals the step as interrupted, exits 130, and resumes', async () => {
    await tgt.query('DROP TABLE IF EXISTS runlog; CREATE TABLE runlog (n serial, step text)', [], 'app');
    const rb = await tempRunbook(`${FRONT}\n# T\n\n## Steps\n\n${marks(['first'])}\n\`\`\`sql {on=target id=slow}\nSELECT pg_sleep(3); INSERT INTO runlog (step) VALUES ('slow');\n\`\`\`\n\n${marks(['last'])}`);
    const child = execa('node', [CLI, 'run', rb.file, '--state-dir', rb.stateDir], { env, reject: false });
    for (let i = 0; i < 200; i++) {
      const n = (await tgt.query<{ n: number }>(`SELECT count(*)::int n FROM pg_stat_activity WHERE application_name LIKE 'cutover/slow#%' AND state = 'active'`)).rows[0]!.n;
      if (n > 0) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    child.kill('SIGINT');
    const r = await child;
    expect(r.exitCode).toBe(130);
    expect(r.stderr).toContain('interrupted: cancelling the running step(s)');
    const j = journalOf(rb.stateDir);
    expect(j.find((e) => e.event === 'step-end' && e.id === 'slow')?.outcome).toBe('interrupted');
    expect(j.at(-1)).toMatchObject({ event: 'run-end', outcome: 'interrupted' });
    // The statement was cancelled, not left running or committed.
    expect(await ranSteps()).toEqual(['first']);
    const resumed = await cutover(['run', rb.file, '--state-dir', rb.stateDir, '--resume'], env);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(await ranSteps()).toEqual(['first', 'slow', 'last']);
    // The step that finished before the interruption shows as skipped, once, with the time it finished.
    const skipped = resumed.stdout.split('\n').filter((l) => l.includes('[SKIPPED:'));
    expect(skipped, resumed.stdout).toHaveLength(1);
    expect(skipped[0]).toMatch(/^\s*↓ \S.* \[SKIPPED: done at \d\d:\d\d:\d\d\]$/);
  });
});

describe('cutover run with rehearsal timings', () => {
  it('shows rehearsed durations and journals a warning when a step runs 50% past its rehearsal', async () => {
    const rb = await tempRunbook(`${FRONT}\n# T\n\n## Steps\n\n\`\`\`sql {on=target id=slow}\nSELECT pg_sleep(1.6)\n\`\`\`\n\n\`\`\`sql {on=target id=quick}\nSELECT 1\n\`\`\`\n`);
    const timings = join(rb.dir, 'rehearsal.json');
    await writeFile(timings, JSON.stringify({
      runbook: 'x', name: 'test runbook', mode: 'rehearse', startedAt: '2026-11-20T00:00:00Z', endedAt: '2026-11-20T00:00:01Z', outcome: 'ok', durationMs: 1000, phases: [],
      outage: { projectedMs: 0, criticalPath: [] },
      steps: [{ id: 'slow', title: 'slow', phase: 'Steps', kind: 'sql', side: 'target', startMs: 0, durationMs: 200, outcome: 'ok' }],
    }));
    const r = await cutover(['run', rb.file, '--state-dir', rb.stateDir, '--timings', timings], env);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('(rehearsed 200 ms)');
    const warnings = readFileSync(join(rb.stateDir, 'journal.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { event: string; id?: string; message?: string }).filter((e) => e.event === 'warning');
    expect(warnings).toEqual([expect.objectContaining({ id: 'slow', message: 'running 50% past its rehearsal (200 ms)' })]);
  });
});

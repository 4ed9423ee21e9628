/**
 * runbooks/online-cutover.md under a write load, killed with SIGKILL at each of its steps and in the
 * middle of the copy and of the apply, then resumed: every case must end verified identical. And the
 * applier against a restarted source and target server, and against terminated backends.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { availableMajors, startClusters, startWorkload, stopAllClusters, type Cluster } from '../src/testing/index.js';
import { verify } from '../src/verify/verify.js';
import { installCapture } from '../src/replicate/capture.js';
import { copy } from '../src/dump/copy/copy.js';
import { Applier } from '../src/replicate/apply.js';
import { cutover as cutoverEngine } from '../src/replicate/cutover.js';
import { CLI, cutover } from './helpers/cli.js';
import { shippedRunbook, tempRunbook } from './helpers/runbook.js';
import { sampleSource } from './helpers/source.js';

let src: Cluster, tgt: Cluster;
const APP_PW = 'app-pw-reliability';
const ONLINE = shippedRunbook('online-cutover.md');

beforeAll(async () => {
  const majors = await availableMajors();
  [src, tgt] = (await startClusters([{ version: 15 }, { version: majors.at(-1) }])) as [Cluster, Cluster];
}, 60_000);
afterAll(() => stopAllClusters());

async function prepare(db: string, rows: number): Promise<string> {
  await tgt.createDatabase(db);
  return sampleSource(src, db, rows, APP_PW);
}

type Journal = { event: string; id?: string; outcome?: string }[];
const journalOf = (stateDir: string): Journal => {
  try { return readFileSync(join(stateDir, 'journal.jsonl'), 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Journal[number]); } catch { return []; }
};
const running = (j: Journal, id: string) => j.some((e) => e.event === 'step-start' && e.id === id) && !j.some((e) => e.event === 'step-end' && e.id === id);

interface KillPoint {
  name: string;
  /** The step the kill is aimed at. */
  step: string;
  /** When to kill, polled every few ms once the step has started (default: at once). */
  when?: (ctx: { db: string; stateDir: string }) => Promise<boolean>;
  /** Run once the step has started, before waiting for `when` (e.g. a big transaction to apply). */
  meanwhile?: (db: string) => Promise<void>;
  /** Edits the runbook's text for this case. */
  runbook?: (text: string) => string;
  /** Prepares the source before the run. */
  prepare?: (db: string) => Promise<void>;
  /** `when` is checked from `step`'s start on, whatever step runs then. */
  anyStepAfter?: boolean;
  /** Run after the kill, before the resume (what the application writes meanwhile). */
  afterKill?: (db: string) => Promise<void>;
}

const POINTS: KillPoint[] = [
  ...['doctor', 'budget', 'capture', 'copy', 'catch-up', 'cutover', 'reverse-catch-up', 'finish'].map((step) => ({ name: `at ${step}`, step })),
  {
    // After app.customers has its data, before app.orders (split into parts, the last to finish) has all
    // of it. A customer and its order written then reach the target in different snapshots: the order
    // yes, the customer only when the applier brings it; the resumed copy must defer that foreign key.
    // One copy job and padded rows make the order fixed (largest table first): customers, then orders.
    name: 'mid copy (tables done, others not)', step: 'copy',
    runbook: (text) => text.replace('```cutover copy {id=copy}\njobs: auto', '```cutover copy {id=copy}\njobs: 1'),
    prepare: async (db) => {
      // Incompressible and under the TOAST threshold: stored as is, so customers becomes the largest table.
      await src.query(`UPDATE app.customers SET name = name || (SELECT string_agg(md5(random()::text || g), '') FROM generate_series(1, 40) g)`, [], db);
      await src.query('VACUUM app.customers', [], db);
    },
    when: async ({ stateDir }) => {
      const f = join(stateDir, 'copy-copy', 'journal.jsonl');
      const done = existsSync(f) ? readFileSync(f, 'utf8') : '';
      return done.includes('"kind":"table","key":"\\"app\\".\\"customers\\""') && !done.includes('"kind":"table","key":"\\"app\\".\\"orders\\""');
    },
    afterKill: async (db) => {
      await src.query(`WITH c AS (INSERT INTO app.customers (email, name, status) VALUES ('late@example.com', 'late', 'active') RETURNING id)
        INSERT INTO app.orders (customer_id, token, ordered_on, ordered_at, qty, unit_price)
        SELECT id, gen_random_uuid(), current_date, localtimestamp, 1, 1 FROM c`, [], db);
    },
  },
  {
    // A large transaction committed after the copy's snapshot: applied in one long batch (by catch-up, or
    // by the cutover's drain if it commits late), where the kill lands.
    // (The application updates orders in random order: a deadlock is retried, as the application would.)
    name: 'mid apply (inside a batch)', step: 'copy', anyStepAfter: true,
    meanwhile: async (db) => {
      while (!(await src.query(`SELECT 1 FROM _cutover.state WHERE start_snapshot IS NOT NULL`, [], db).catch(() => ({ rowCount: 0 }))).rowCount) await new Promise((r) => setTimeout(r, 5));
      for (let i = 0; ; i++) {
        try { await src.query(`UPDATE app.orders SET note = 'big ' || id`, [], db); return; } catch (e) { if ((e as { code?: string }).code !== '40P01' || i > 5) throw e; }
      }
    },
    when: async ({ db }) => !!(await tgt.query(`SELECT 1 FROM pg_stat_activity WHERE datname = $1 AND application_name LIKE 'cutover/%' AND state = 'active'
        AND (query LIKE 'COPY pg_temp.%' OR query LIKE 'INSERT INTO % OVERRIDING SYSTEM VALUE %')`, [db])).rowCount,
  },
];

describe('SIGKILL at every step of online-cutover.md, then resume', () => {
  it(`ends verified identical in every case (${POINTS.length} kill points)`, async () => {
    const results: { point: string; landed: string; runs: number; identical: boolean; detail: string }[] = [];
    for (const [i, p] of POINTS.entries()) {
      const db = `kill_${i}`;
      const appUrl = await prepare(db, p.name.startsWith('mid') ? 8000 : 1500);
      await p.prepare?.(db);
      const rb = await tempRunbook(p.runbook ? p.runbook(ONLINE) : ONLINE);
      const env = { SOURCE_URL: src.url(db), TARGET_URL: tgt.url(db) };
      const load = startWorkload({ url: appUrl, clients: 2, pauseMs: 3 });
      await load.waitForCommits(20);
      const child = execa('node', [CLI, 'run', rb.file, '--state-dir', rb.stateDir, '--yes'], { env, reject: false, all: true });
      let meanwhile: Promise<void> | undefined;
      for (let w = 0; w < 6000 && child.exitCode === null; w++) {
        const j = journalOf(rb.stateDir);
        if (running(j, p.step) || (p.anyStepAfter && j.some((e) => e.event === 'step-start' && e.id === p.step))) {
          meanwhile ??= p.meanwhile?.(db);
          if (!p.when || (await p.when({ db, stateDir: rb.stateDir }))) break;
        }
        await new Promise((r) => setTimeout(r, 3));
      }
      const finishedFirst = child.exitCode !== null;
      child.kill('SIGKILL');
      const first = await child;
      await meanwhile;
      await p.afterKill?.(db);
      const j = journalOf(rb.stateDir);
      const inFlight = j.filter((e) => e.event === 'step-start').map((e) => e.id!).filter((id) => running(j, id));
      const landed = finishedFirst ? `run ended first (exit ${first.exitCode})` : inFlight.length ? `in ${inFlight.join(', ')}` : 'between steps';
      // Resume until it completes (a kill can need more than one resume only if a step fails; at most 3).
      let runs = 1, last = { code: -1, stdout: '', stderr: '' };
      while (runs < 4 && !(finishedFirst && first.exitCode === 0)) {
        last = await cutover(['run', rb.file, '--state-dir', rb.stateDir, '--yes', '--resume'], env);
        runs++;
        if (last.code === 0) break;
      }
      const app = await load.stop();
      const v = await verify({ source: src.params(db), target: tgt.params(db), level: 'full', jobs: 2 });
      const left = (await src.query(`SELECT count(*)::int n FROM pg_namespace WHERE nspname = '_cutover'`, [], db)).rows[0]!.n as number;
      const identical = v.ok && left === 0 && (last.code === 0 || (finishedFirst && first.exitCode === 0)) && app.fenced;
      const deferred = /does not hold yet/.test(last.stdout + last.stderr) ? '; foreign keys deferred to the cutover' : '';
      results.push({ point: p.name, landed: landed + deferred, runs, identical, detail: identical ? '' : `resume exit ${last.code}: ${last.stderr.slice(-800)}; verify ok ${v.ok}; _cutover left ${left}; app fenced ${app.fenced}` });
    }
    const ok = results.filter((r) => r.identical).length;
    console.log(`SIGKILL + resume, online-cutover.md under writes: ${ok} of ${results.length} verified identical\n` +
      results.map((r) => `  ${r.identical ? 'ok  ' : 'FAIL'} ${r.point.padEnd(36)} killed ${r.landed}; ${r.runs} runs${r.detail ? `; ${r.detail}` : ''}`).join('\n'));
    expect(results.filter((r) => !r.identical)).toEqual([]);
    // The kill points inside long steps must have landed there (else the case proved nothing).
    for (const name of ['mid copy (tables done, others not)', 'mid apply (inside a batch)', 'at copy', 'at cutover']) {
      expect(results.find((r) => r.point === name)!.landed, name).toMatch(/^in /);
    }
    expect(results.find((r) => r.point.startsWith('mid copy'))!.landed).toContain('foreign keys deferred to the cutover');
  }, 600_000);
});

describe('the applier survives its servers', () => {
  it('a restarted source, a restarted target and terminated backends: reconnects, resumes, cuts over identical', async () => {
    const db = 'restarts';
    const appUrl = await prepare(db, 2000);
    await installCapture({ source: src.params(db), excludeTables: ['billing.audit_log'] });
    await copy({ source: src.params(db), target: tgt.params(db), dir: join(await mkdtemp(join(tmpdir(), 'cutover-rel-')), 'copy'), jobs: 2 });
    let load = startWorkload({ url: appUrl, clients: 2, pauseMs: 2 });
    const notes: string[] = [];
    const a = await Applier.open({ source: src.params(db), target: tgt.params(db), onNote: (m) => notes.push(m) });
    let stop = false, batches = 0, eventsAfter = 0, phase = 'before';
    const applying = a.run({ until: (b) => { batches++; if (phase === 'after') eventsAfter += b.events; return stop; } });
    let applyError: unknown;
    // Bounded waits that say what they waited for (and what the applier said), instead of a test timeout.
    const waitFor = async (what: string, cond: () => boolean) => {
      for (const t0 = Date.now(); !cond(); await new Promise((r) => setTimeout(r, 10))) {
        if (applyError !== undefined || Date.now() - t0 > 120_000) throw new Error(`waiting for ${what}: ${applyError ? String(applyError) : 'timed out'}; applier notes: ${notes.join(' | ')}`);
      }
    };
    const waitBatches = async (n: number) => { const t = batches + n; await waitFor(`${n} more batches`, () => batches >= t); };
    void applying.catch((e: unknown) => { applyError = e; });
    await waitBatches(3);
    // The source restarts (fast shutdown ends every session, the application's too).
    await src.restart();
    await load.stop();
    load = startWorkload({ url: appUrl, clients: 2, pauseMs: 2 });
    await waitFor('50 commits after the restart', () => load.stats.commits >= 50);
    await waitBatches(3);
    await tgt.restart();
    await waitBatches(3);
    for (const c of [src, tgt]) await c.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND application_name LIKE 'cutover/apply-%'`, [db]);
    phase = 'after';
    const c0 = load.stats.commits;
    await waitFor('50 more commits', () => load.stats.commits >= c0 + 50);
    await waitBatches(3);
    stop = true;
    await applying;
    await a.close();
    expect(notes.filter((n) => n.includes('reconnecting')).length).toBeGreaterThanOrEqual(3);
    expect(eventsAfter).toBeGreaterThan(0);
    const r = await cutoverEngine({ source: src.params(db), target: tgt.params(db), fence: 'revoke', roles: ['app_writer'], verify: 'checksums' });
    const app = await load.stop();
    expect(app.fenced).toBe(true);
    expect(r.verify?.ok).toBe(true);
    const v = await verify({ source: src.params(db), target: tgt.params(db), level: 'full', jobs: 2 });
    expect(v.ok, JSON.stringify(v.summary)).toBe(true);
  }, 300_000);
});

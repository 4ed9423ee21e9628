/**
 * Progress (issue 19): plain lines through a pipe and the live task list through a pseudo-terminal
 * (`script`), on a copy slowed down on the target so it takes several seconds; `replicate status
 * --watch` piped, as JSON and on a terminal; and the formatting itself. No assertion on timing: only on
 * what the lines carry and that they change.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startClusters, stopAllClusters, type Cluster } from '../src/testing/index.js';
import { CLI, cutover } from './helpers/cli.js';
import { tempRunbook, FRONT } from './helpers/runbook.js';
import { sparkline } from '../src/lib/sparkline.js';
import { Meter, formatRate, humanCount, rateText } from '../src/lib/rate.js';
import { oneLine, plainIntervalMs, tablesProgress } from '../src/lib/progress.js';
import { CatchUpProgress } from '../src/replicate/progress-text.js';
import { copyProgress } from '../src/dump/copy/progress-text.js';
import { parseDuration } from '../src/lib/duration.js';
import { plainLine } from '../src/cli/commands/replicate-watch.js';
import { progressLine } from '../src/cli/progress.js';
import type { CopyProgress } from '../src/dump/copy/copy.js';
import type { WatchSample } from '../src/replicate/watch.js';

describe('progress formatting', () => {
  it('sparklines scale from zero to the largest value, one character per sample', () => {
    expect(sparkline([0, 1, 2, 3, 4, 5, 6, 7])).toBe('▁▂▃▄▅▆▇█');
    expect(sparkline([5, 5, 5])).toBe('███'); // from 0: a steady lag is not "nothing"
    expect(sparkline([0, 0])).toBe('▁▁');
    expect(sparkline([10, 0, 5], { max: 20 })).toBe('▅▁▃');
    expect(sparkline([])).toBe('');
  });

  it('rates and ETAs in any unit; counts in k and M', () => {
    const m = new Meter();
    m.sample(0, 0);
    m.sample(5000, 1000);
    expect(rateText(m, 5000, 20_000, 'rows')).toBe('5.0k rows/s, ETA 3.0 s');
    expect(rateText(m, 20_000, 20_000, 'rows')).toBe('5.0k rows/s, ETA any moment');
    expect(formatRate(3 * 1024 * 1024, 'bytes')).toBe('3.0 MB/s');
    expect(humanCount(999)).toBe('999');
    expect(humanCount(1_234_567)).toBe('1.2M');
    const idle = new Meter();
    idle.sample(10, 0);
    idle.sample(10, 3000);
    expect(rateText(idle, 10, 20, 'chunks')).toBe('');
    idle.sample(10, 6000);
    expect(rateText(idle, 10, 20, 'chunks')).toBe('stalled');
    // Nothing finished yet (work counted when a table or item ends): working, not stalled.
    const none = new Meter(Infinity);
    none.sample(0, 0);
    none.sample(0, 8000);
    expect(rateText(none, 0, 20, 'tables')).toBe('');
  });

  it('a multi-line progress text becomes one plain line; the plain period comes from CUTOVER_PROGRESS_INTERVAL', () => {
    expect(oneLine('data: tables 1/2\n  app.a: 1 MB\n  app.b: 2 MB')).toBe('data: tables 1/2 | app.a: 1 MB | app.b: 2 MB');
    expect(plainIntervalMs({})).toBe(10_000);
    expect(plainIntervalMs({ CUTOVER_PROGRESS_INTERVAL: '500ms' })).toBe(500);
    expect(plainIntervalMs({ CUTOVER_PROGRESS_INTERVAL: '30s' })).toBe(30_000);
    expect(parseDuration('2s')).toBe(2000);
  });

  it('copy: totals with rows and bytes of the estimate, rate and ETA, and a line per table streaming', () => {
    const v = copyProgress();
    const base: CopyProgress = {
      phase: 'data', tablesDone: 0, tablesTotal: 3, bytesDone: 0, bytesTotal: 100 * 1024 * 1024, indexesDone: 0, indexesTotal: 4,
      matviewsDone: 0, matviewsTotal: 0, rowsDone: 0, rowsTotal: 1_000_000, running: [],
    };
    const run = (done: number) => [{ table: 'app.big', part: '1/2', bytesDone: done, bytesTotal: 50 * 1024 * 1024, startedAt: 0 }];
    v.update({ ...base, running: run(0) }, 0);
    v.update({ ...base, bytesDone: 10 * 1024 * 1024, rowsDone: 100_000, running: run(10 * 1024 * 1024) }, 2000);
    const [head, line] = v.text(2000).split('\n');
    expect(head).toBe('data: tables 0/3, 10 MB of ~100 MB, rows ~100k of ~1.0M (5.0 MB/s, ETA 18.0 s); indexes 0/4');
    expect(line).toBe('  app.big part 1/2: 10 MB of ~50 MB (5.0 MB/s, ETA 8.0 s), 2.0 s');
    // Nothing reported for 12 s (the target holds the stream up): the redraws say it stalled.
    expect(v.text(14_000)).toMatch(/^data: .* \(stalled\); indexes 0\/4\n  app\.big part 1\/2: 10 MB of ~50 MB \(stalled\), 14\.0 s$/);
  });

  it('pre-verify: chunks done of the total drive the rate (the average since the start) and ETA; a new round starts its rate again', () => {
    const v = tablesProgress(0);
    const p = { tablesDone: 1, tablesTotal: 4, bytesDone: 0, bytesTotal: 0, rowsDone: 1000, rowsTotal: 4000, chunksDone: 10, chunksTotal: 40, running: [{ name: 'app.t', startedAt: 0 }] };
    v.update(p, 1000);
    expect(v.text(1500)).toBe('chunks 10/40, tables 1/4, rows 1.0k of ~4.0k (7 chunks/s, ETA 4.5 s)\n  app.t: 1.5 s'); // the average since the start
    v.update({ ...p, tablesDone: 0, chunksDone: 0, rowsDone: 0, running: [] }, 2000);
    expect(v.text(2000)).not.toMatch(/chunks\/s/);
  });

  it('catch-up: events pending and a lag that grows while a batch runs, the apply rate and the time left', () => {
    const v = new CatchUpProgress(0);
    v.batchStart({ events: 12_000, tables: 3, lagMs: 4000 }, 0);
    expect(v.text(2500)).toBe('applying a batch of 12k events (3 tables) for 2.5 s, lag 6.5 s; applied 0 events in 0 batches');
    v.batchDone({ events: 12_000, tables: 3, upserted: 0, deleted: 0, truncated: 0, durationMs: 3000, tick: '1:2:', lagMs: 7000 }, { events: 12_000, batches: 1 }, 3000);
    expect(v.text(3000)).toBe('pending 0 events, lag 7.0 s; applied 12k events in 1 batches (4.0k events/s)');
    v.batchStart({ events: 2000, tables: 1, lagMs: 500 }, 3000);
    expect(v.text(3000)).toMatch(/^applying a batch of 2\.0k events .*, lag 500 ms; .*\(4\.0k events\/s, ETA 500 ms\)$/);
    // Inside a long batch: where it is.
    v.batchStep({ step: 'read', table: 'app.orders', index: 2, tables: 3, bytes: 5 * 1024 * 1024 });
    expect(v.text(4000)).toMatch(/^applying a batch of 2\.0k events \(1 tables\) for 1\.0 s: reading the changes of app\.orders \(2\/3, 5\.0 MB read\), lag /);
    v.batchStep({ step: 'write', table: 'app.orders', index: 3, tables: 3, bytes: 0 });
    expect(v.text(4000)).toMatch(/: writing app\.orders \(3\/3\), lag /);
    v.batchDone({ events: 2000, tables: 1, upserted: 0, deleted: 0, truncated: 0, durationMs: 1000, tick: '1:3:', lagMs: 1500 }, { events: 14_000, batches: 2 }, 4000);
    expect(v.text(4000)).not.toMatch(/writing/);
  });

  it('the CLI\'s progress line: plain, the first report at once and then one per interval; on a terminal, a block redrawn in place', () => {
    const sink = () => {
      const chunks: string[] = [];
      return { chunks, out: { write: (t: string) => { chunks.push(t); return true; }, columns: 60, isTTY: false } as unknown as NodeJS.WriteStream };
    };
    const plain = sink();
    const p = progressLine({ tty: false, intervalMs: 3_600_000, out: plain.out });
    for (let i = 0; i < 50; i++) p.update(`copy ${i}\n  app.t: ${i} MB`);
    p.done();
    expect(plain.chunks).toHaveLength(1);
    expect(plain.chunks[0]).toMatch(/^\d+ ms \| copy 0 \| app\.t: 0 MB\n$/);
    const term = sink();
    const q = progressLine({ tty: true, intervalMs: 3_600_000, out: term.out });
    q.update('copy 1\n  app.t: 1 MB');
    q.log('note: something');
    q.update('copy 2\n  app.t: 2 MB');
    q.done();
    const all = term.chunks.join('');
    expect(all).toMatch(/^\r\x1b\[J\d+ ms \| copy 1\n  app\.t: 1 MB\x1b\[1A\r\x1b\[Jnote: something\n/);
    expect(all).toMatch(/copy 2\n  app\.t: 2 MB\n$/);
  });

  it('replicate status --watch, piped: one line per sample with lag, apply rate and their sparklines', () => {
    const s = (lagMs: number, eventsPerSecond: number | null): WatchSample => ({
      at: '2026-01-01T10:00:00.000Z', direction: 'forward', installed: true, lagMs, pendingEvents: 3, appliedEvents: 1500, eventsPerSecond, halted: null,
    });
    expect(plainLine([s(0, null), s(2000, 100), s(1000, 50)])).toBe('10:00:00 lag 1.0 s ▁█▅ | apply 50 events/s ▁█▅ | pending 3 | applied 1.5k');
  });
});

// A table whose rows the target checks slowly (a domain over a function that sleeps there only): the
// copy streams for seconds, whatever the machine, with no option of cutover's own to slow it.
const SLOW_SCHEMA = `
  CREATE FUNCTION public.slow_ok(int) RETURNS boolean LANGUAGE sql
    AS $$ SELECT CASE WHEN current_setting('test.slow', true) = 'on' THEN pg_sleep(0.0003) IS NOT NULL ELSE true END $$;
  CREATE DOMAIN public.slow_int AS int CHECK (public.slow_ok(VALUE));
  CREATE TABLE public.big (id int8 PRIMARY KEY, v public.slow_int, pad text);
  INSERT INTO public.big SELECT g, g, repeat(md5(g::text), 40) FROM generate_series(1, 6000) g;
  CREATE TABLE public.small (id int PRIMARY KEY, t text);
  INSERT INTO public.small SELECT g, md5(g::text) FROM generate_series(1, 2000) g;
  ANALYZE;`;

let c: Cluster;
beforeAll(async () => {
  [c] = (await startClusters([{ version: 15 }])) as [Cluster];
  await c.createDatabase('slow_src');
  await c.query(SLOW_SCHEMA, [], 'slow_src');
});
afterAll(() => stopAllClusters());

async function slowTarget(name: string): Promise<string> {
  const url = await c.createDatabase(name);
  await c.query(`ALTER DATABASE ${name} SET test.slow = on`);
  return url;
}

const RATE_ETA = /\d+(\.\d)? [kMG]?B\/s, ETA /;

describe('progress of a long copy', () => {
  it('piped: plain lines every CUTOVER_PROGRESS_INTERVAL with rows and bytes of the estimate, rate, ETA and the table; they change', async () => {
    const target = await slowTarget('piped_dst');
    const dir = await mkdtemp(join(tmpdir(), 'cutover-progress-'));
    const r = await cutover(['copy', '--source', 'env:SRC', '--target', 'env:DST', '--dir', dir, '-j', '2', '--split-tables-larger-than', '2'],
      { SRC: c.url('slow_src'), DST: target, CUTOVER_PROGRESS_INTERVAL: '300ms' });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).not.toMatch(/\x1b\[/); // no cursor movement down a pipe
    const lines = r.stderr.split('\n').filter((l) => / \| copy data: /.test(l));
    const withRate = lines.filter((l) => RATE_ETA.test(l));
    expect(withRate.length, r.stderr).toBeGreaterThanOrEqual(2);
    for (const l of withRate) expect(l).toMatch(/^\S+ (ms|s|min)( \d+ s)? \| copy data: tables \d+\/2, .* of ~.*, rows ~.* of ~.* \(.*\)/);
    // The parts of the big table in flight, each with its amount.
    expect(withRate.some((l) => /\| public\.big part \d\/\d: .* of ~/.test(l)), r.stderr).toBe(true);
    // The amount done moves over the copy.
    expect(new Set(lines.map((l) => /copy data: tables \d+\/2, ([^,]+) of/.exec(l)?.[1])).size, r.stderr).toBeGreaterThanOrEqual(2);
    // Per-table durations are wall-clock: the parts of the split table ran at once, so their sum would exceed the data phase.
    const summary = JSON.parse(await readFile(join(dir, 'summary.json'), 'utf8')) as { tables: { table: string; parts: number; durationMs: number }[]; phases: { phase: string; durationMs: number }[] };
    const big = summary.tables.find((t) => t.table === 'public.big')!;
    expect(big.parts).toBeGreaterThan(1);
    expect(big.durationMs).toBeLessThanOrEqual(summary.phases.find((p) => p.phase === 'data')!.durationMs);
  });

  it('piped runbook: the plain renderer prints the step\'s progress every CUTOVER_PROGRESS_INTERVAL, never more often', async () => {
    const rehearse = async (db: string, interval: string) => {
      const target = await slowTarget(db);
      const rb = await tempRunbook(`${FRONT}# T\n\n## Steps\n\n\`\`\`cutover copy {id=copy}\njobs: 2\n\`\`\`\n`);
      const r = await execa('node', [CLI, 'rehearse', rb.file, '--state-dir', rb.stateDir, '--yes'],
        { env: { SOURCE_URL: c.url('slow_src'), TARGET_URL: target, CUTOVER_NO_TTY: '1', CUTOVER_PROGRESS_INTERVAL: interval }, extendEnv: true, reject: false, all: true });
      expect(r.exitCode, r.all).toBe(0);
      return { out: r.all ?? '', log: await readFile(join(rb.stateDir, 'logs', 'copy.log'), 'utf8') };
    };
    const { out, log } = await rehearse('plain_dst', '400ms');
    expect(out).not.toMatch(/\x1b\[\d*A/);
    const lines = out.split('\n').filter((l) => /^\S+ \S+( \d+ s)? \| data: tables \d+\/2, /.test(l.replace(/^\W+/, '')));
    expect(lines.filter((l) => RATE_ETA.test(l)).length, out).toBeGreaterThanOrEqual(2);
    expect(lines.some((l) => / \| public\.big: .* of ~.*\(.*ETA /.test(l)), out).toBe(true);
    expect(new Set(lines.map((l) => /data: tables \d+\/2, ([^,]+) of/.exec(l)?.[1])).size, out).toBeGreaterThanOrEqual(2);
    // The step's log keeps the progress too (every 10 s, the first one early).
    expect(log).toMatch(/^\S+ data: tables \d+\/2, /m);
    // An hour between lines: the whole copy passes without one (the list printed a line a second before).
    const { out: quiet } = await rehearse('quiet_dst', '1h');
    expect(quiet).toMatch(/cutover copy/);
    expect(quiet).not.toMatch(/data: tables/);
  });

  it('on a terminal: the task list redraws the copy step with its rate, ETA and the table streaming', async () => {
    const target = await slowTarget('tty_dst');
    const rb = await tempRunbook(`${FRONT}# T\n\n## Steps\n\n\`\`\`cutover copy {id=copy}\njobs: 2\n\`\`\`\n`);
    const child = await execa('script', ['-qec', `stty cols 160 rows 40; node ${CLI} rehearse ${rb.file} --state-dir ${rb.stateDir} --yes`, '/dev/null'],
      { env: { SOURCE_URL: c.url('slow_src'), TARGET_URL: target, TERM: 'xterm', CUTOVER_PROGRESS_INTERVAL: undefined }, extendEnv: true, reject: false });
    const out = child.stdout;
    expect(child.exitCode, out).toBe(0);
    expect(out).toMatch(/\x1b\[1A/); // redrawn in place
    // eslint-disable-next-line no-control-regex
    const plain = out.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '');
    const heads = plain.split(/\r?\n|\r/).filter((l) => /data: tables \d+\/2/.test(l) && RATE_ETA.test(l));
    expect(heads.length, plain).toBeGreaterThanOrEqual(2);
    expect(new Set(heads.map((l) => /data: tables \d+\/2, ([^,]+) of/.exec(l)?.[1])).size, plain).toBeGreaterThanOrEqual(2);
    // The table in flight on a line of its own under the totals.
    expect(plain).toMatch(/^\s+public\.big: .* of ~.*\(.*ETA .*\), .*$/m);
  });
});

describe('progress inside one long catch-up batch', () => {
  it('replicate apply says which table the batch is reading or writing, and how much it read', async () => {
    await c.createDatabase('batch_src');
    await c.query(SLOW_SCHEMA, [], 'batch_src');
    const env = { CUTOVER_SOURCE_URL: c.url('batch_src'), CUTOVER_TARGET_URL: await slowTarget('batch_dst'), CUTOVER_PROGRESS_INTERVAL: '300ms' };
    for (const args of [['replicate', 'start'], ['copy', '--dir', await mkdtemp(join(tmpdir(), 'cutover-batch-'))]]) {
      const r = await cutover(args, env);
      expect(r.code, r.stderr).toBe(0);
    }
    // One batch of 6000 changed rows whose every value the target checks slowly (reading them into the
    // batch's table and writing them back): seconds inside one batch.
    await c.query(`UPDATE public.big SET pad = pad || 'x'`, [], 'batch_src');
    const a = await cutover(['replicate', 'apply', '--until-caught-up'], env);
    expect(a.code, a.stderr).toBe(0);
    const inside = a.stderr.split('\n').filter((l) => /applying a batch of 6\.0k events \(1 tables\) for [^:]+: (reading the changes of|removing changed keys of|writing) public\.big \(1\/1/.test(l));
    expect(inside.length, a.stderr).toBeGreaterThanOrEqual(2);
    expect(a.stderr).toMatch(/reading the changes of public\.big \(1\/1, [\d.]+ [kM]?B read\)|writing public\.big \(1\/1\)/);
    // The target equals the source (the test's own comparison).
    const sum = async (url: string) => (await c.query<{ h: string }>(`SELECT md5(string_agg(id || ':' || v || ':' || pad, ',' ORDER BY id)) AS h FROM public.big`, [], url.split('/').pop()!.split('?')[0])).rows[0]!.h;
    expect(await sum(env.CUTOVER_TARGET_URL)).toBe(await sum(env.CUTOVER_SOURCE_URL));
  });
});

describe('replicate status --watch', () => {
  let env: Record<string, string>;
  beforeAll(async () => {
    await c.createDatabase('rep_src');
    await c.query('CREATE TABLE t (id int PRIMARY KEY, v int); INSERT INTO t SELECT g, g FROM generate_series(1, 100) g', [], 'rep_src');
    await c.createDatabase('rep_dst');
    env = { CUTOVER_SOURCE_URL: c.url('rep_src'), CUTOVER_TARGET_URL: c.url('rep_dst') };
    for (const args of [['replicate', 'start'], ['copy', '--dir', await mkdtemp(join(tmpdir(), 'cutover-watch-'))]]) {
      const r = await cutover(args, env);
      expect(r.code, r.stderr).toBe(0);
    }
    await c.query('UPDATE t SET v = v + 1 WHERE id <= 10', [], 'rep_src');
    const a = await cutover(['replicate', 'apply', '--until-caught-up'], env);
    expect(a.code, a.stderr).toBe(0);
    // The catch-up's progress: events pending (or a batch applying them) and the lag.
    expect(a.stderr).toMatch(/(pending \d+ events|applying a batch of \d+ events \(1 tables\) for [^,]+), lag /);
  });

  /** Starts the watch, waits for `n` samples on stdout, then Ctrl-C. */
  async function watch(args: string[], n: number) {
    const child = execa('node', [CLI, 'replicate', 'status', '--watch', '--interval', '300ms', ...args], { env: { ...env, CUTOVER_NO_TTY: '1' }, extendEnv: true, reject: false });
    let out = '';
    let sent = false;
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (!sent && out.split('\n').filter(Boolean).length >= n) { sent = true; child.kill('SIGINT'); }
    });
    const r = await child;
    return { code: r.exitCode, out, stderr: r.stderr, sent };
  }

  it('piped: a line per sample with the lag and apply-rate sparklines, until Ctrl-C (exit 0)', async () => {
    const r = await watch([], 3);
    expect(r.sent, r.out + r.stderr).toBe(true);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.out.split('\n').filter(Boolean);
    expect(lines.length).toBeGreaterThanOrEqual(3);
    for (const l of lines) expect(l).toMatch(/^\d\d:\d\d:\d\d lag \S+( ms| s)? [▁-█]+ \| apply .* [▁-█]+ \| pending \d+ \| applied \d+/);
    // The sparklines grow by a sample per line.
    const spark = (l: string) => /lag \S+(?: ms| s)? ([▁-█]+)/.exec(l)![1]!.length;
    expect(spark(lines[2]!)).toBe(spark(lines[0]!) + 2);
  });

  it('--json --watch: one JSON object per line per sample', async () => {
    const r = await watch(['--json'], 2);
    expect(r.code, r.stderr).toBe(0);
    const samples = r.out.split('\n').filter(Boolean).map((l) => JSON.parse(l) as WatchSample);
    expect(samples.length).toBeGreaterThanOrEqual(2);
    expect(samples[0]).toMatchObject({ direction: 'forward', installed: true, lagMs: 0, pendingEvents: 0, appliedEvents: 10, halted: null });
    expect(samples[1]!.eventsPerSecond).toBe(0);
  });

  it('on a terminal: a block redrawn in place, ended by Ctrl-C with exit 0', async () => {
    const child = execa('script', ['-qec', `stty cols 100 rows 30; exec node ${CLI} replicate status --watch --interval 300ms`, '/dev/null'],
      { env: { ...env, TERM: 'xterm' }, extendEnv: true, reject: false, stdin: 'pipe' });
    let out = '';
    let sent = false;
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (!sent && (out.match(/Ctrl-C to stop/g) ?? []).length >= 3) { sent = true; child.stdin!.write('\x03'); }
    });
    const r = await child;
    expect(sent, out).toBe(true);
    expect(r.exitCode, out).toBe(0);
    expect(out).toMatch(/\x1b\[\d+A\r\x1b\[Jreplicate status every 300 ms/); // redrawn over the previous block
    expect(out).toMatch(/lag +[▁-█]{3,}/);
    expect(out).toMatch(/apply +[▁-█]{3,}/);
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { createSampleDatabase, startClusters, stopAllClusters, type Cluster } from '../src/testing/index.js';
import { verify } from '../src/verify/verify.js';
import { cutover } from './helpers/cli.js';
import { tempRunbook } from './helpers/runbook.js';
import type { RunSummary } from '../src/runbook/timings.js';

// Both servers allow 20 connections; "the application" holds 12 on each for the whole test.
let src: Cluster, tgt: Cluster;
const app: pg.Client[] = [];

beforeAll(async () => {
  [src, tgt] = (await startClusters([{ version: 15, settings: { max_connections: 20 } }, { version: 15, settings: { max_connections: 20 } }])) as [Cluster, Cluster];
  await src.createDatabase('shop');
  await createSampleDatabase(src.url('shop'), { rows: 3000 });
  for (const c of [src, tgt]) {
    for (let i = 0; i < 12; i++) {
      const client = new pg.Client({ connectionString: c.url(), application_name: 'the-app' });
      await client.connect();
      app.push(client);
    }
  }
});
afterAll(async () => {
  await Promise.all(app.map((c) => c.end().catch(() => undefined)));
  await stopAllClusters();
});

const RUNBOOK = `---
name: budget test
connections:
  source: env:SOURCE_URL
  target: env:TARGET_URL
---

# Budget

## Dump and restore

\`\`\`cutover dump {id=dump}
jobs: auto
\`\`\`

\`\`\`cutover restore {id=restore}
jobs: auto
\`\`\`

\`\`\`cutover verify {id=verify-restore}
jobs: auto
\`\`\`

## Copy

\`\`\`sql {on=target id=reset}
DROP SCHEMA app CASCADE; DROP SCHEMA billing CASCADE; DROP SCHEMA "Ünïcode ""Schema""" CASCADE;
\`\`\`

\`\`\`cutover copy {id=copy}
jobs: auto
\`\`\`

\`\`\`cutover verify {id=verify-copy}
jobs: auto
level: full
\`\`\`
`;

describe('connection budget', () => {
  it('runs dump, restore, copy and verify on automatic parallelism within what the servers have left', async () => {
    await tgt.createDatabase('shop');
    const rb = await tempRunbook(RUNBOOK);
    // Our own watcher: one more connection per server (counted as someone else's by cutover).
    const watch = await Promise.all([src, tgt].map(async (c) => { const w = new pg.Client({ connectionString: c.url(), application_name: 'watcher' }); await w.connect(); return w; }));
    const peaks = [0, 0];
    const totals = [0, 0];
    let stop = false;
    const sampling = (async () => {
      while (!stop) {
        await Promise.all(watch.map(async (w, i) => {
          const r = (await w.query<{ ours: number; total: number }>(`SELECT count(*) FILTER (WHERE application_name LIKE 'cutover/%')::int ours, count(*)::int total FROM pg_stat_activity WHERE backend_type = 'client backend'`)).rows[0]!;
          peaks[i] = Math.max(peaks[i]!, r.ours);
          totals[i] = Math.max(totals[i]!, r.total);
        }));
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    const r = await cutover(['run', rb.file, '--state-dir', rb.stateDir], { SOURCE_URL: src.url('shop'), TARGET_URL: tgt.url('shop') });
    stop = true;
    await sampling;
    await Promise.all(watch.map((w) => w.end()));
    expect(r.code, r.stderr).toBe(0);
    // 20 slots - 12 application - 1 watcher = 7 for cutover on each side, everything included.
    expect(peaks[0]).toBeLessThanOrEqual(7);
    expect(peaks[1]).toBeLessThanOrEqual(7);
    expect(Math.max(...totals)).toBeLessThanOrEqual(20);
    expect(peaks[0]).toBeGreaterThanOrEqual(3); // it did use parallelism
    // Nothing failed for lack of slots: the application kept its 12 and the data arrived.
    expect((await src.query<{ n: number }>(`SELECT count(*)::int n FROM pg_stat_activity WHERE application_name = 'the-app'`)).rows[0]!.n).toBe(12);
    expect((await verify({ source: src.params('shop'), target: tgt.params('shop'), level: 'counts', jobs: 2 })).ok).toBe(true);
    const summary = JSON.parse(readFileSync(join(rb.stateDir, 'summary.json'), 'utf8')) as RunSummary;
    expect(summary.connections?.source?.peakOurs).toBeLessThanOrEqual(7);
    expect(summary.steps.find((s) => s.id === 'copy')?.concurrency).toBeGreaterThanOrEqual(1);
  });

  it('refuses before touching anything when not even one worker fits, with the numbers', async () => {
    await tgt.createDatabase('small');
    const more: pg.Client[] = [];
    for (let i = 0; i < 5; i++) {
      const c = new pg.Client({ connectionString: tgt.url(), application_name: 'the-app' });
      await c.connect();
      more.push(c);
    }
    try {
      // Target: 20 - 17 application - run lock - sampler = 1 left; a copy needs 2 there.
      const rb = await tempRunbook(RUNBOOK.replace(/## Dump and restore[\s\S]*## Copy/, '## Copy').replace(/```sql \{on=target id=reset\}[\s\S]*?```\n/, ''));
      const r = await cutover(['run', rb.file, '--state-dir', rb.stateDir], { SOURCE_URL: src.url('shop'), TARGET_URL: tgt.url('small') });
      expect(r.code).toBe(4);
      expect(r.stderr).toMatch(/copy: not enough connections: one job needs 3 source and 2 target connection\(s\); source \d+ available .*; target 1 available \(max_connections 20, 0 reserved, 19 in use of which 2 cutover's\)/);
      expect((await tgt.query<{ n: number }>(`SELECT count(*)::int n FROM pg_class WHERE relnamespace NOT IN (SELECT oid FROM pg_namespace WHERE nspname IN ('pg_catalog','information_schema','pg_toast'))`, [], 'small')).rows[0]!.n).toBe(0);
    } finally {
      await Promise.all(more.map((c) => c.end()));
    }
  });

  it('steps of a parallel group share the budget instead of each taking all of it', async () => {
    const rb = await tempRunbook(`---\nname: parallel budget\nconnections:\n  source: env:SOURCE_URL\n  target: env:TARGET_URL\nmax_parallel: 2\n---\n# P\n\n## Checks\n\n` +
      ['a', 'b'].map((id) => `\`\`\`cutover verify {id=${id} parallel=both}\njobs: auto\n\`\`\`\n`).join('\n'));
    const r = await cutover(['run', rb.file, '--state-dir', rb.stateDir], { SOURCE_URL: src.url('shop'), TARGET_URL: tgt.url('shop') });
    // At most 20 - 12 application - sampler (and the lock on the target): 6 on the source, 5 on the target;
    // halves of that fit two verifies side by side (each jobs + 1 per side). Without sharing, each would
    // take jobs 4 and the pair would need 10 slots: "too many clients".
    expect(r.code, r.stderr + r.stdout).toBe(0);
    // Measured once for the group: both members report the same share.
    const shares = [...r.stdout.matchAll(/verify: jobs auto -> (\d+) \(available, its 1\/2 share: source (\d+), target (\d+)\)/g)].map((m) => m.slice(1).join(','));
    expect(shares).toHaveLength(2);
    expect(new Set(shares).size).toBe(1);
    const [jobs, s, t] = shares[0]!.split(',').map(Number) as [number, number, number];
    expect(jobs + 1).toBeLessThanOrEqual(Math.min(s, t));
    expect(s).toBeLessThanOrEqual(4); // half of at most 20 - 12 application - sampler - probe
    const summary = JSON.parse(readFileSync(join(rb.stateDir, 'summary.json'), 'utf8')) as RunSummary;
    expect(summary.connections?.target?.peakOurs).toBeLessThanOrEqual(8);
  });

  it('when the application grows mid-run, the copy gives back sessions instead of either side failing', async () => {
    // 80 tables of 20,000 rows: a data phase long enough to grow the application in the middle of it.
    await src.createDatabase('many');
    await tgt.createDatabase('many');
    await src.query(`DO $$ BEGIN FOR i IN 1..80 LOOP
      EXECUTE format('CREATE TABLE %I (id int PRIMARY KEY, v text)', 't' || i);
      EXECUTE format('INSERT INTO %I SELECT g, repeat(md5(g::text), 2) FROM generate_series(1, 20000) g', 't' || i);
    END LOOP; END $$`, [], 'many');
    const rb = await tempRunbook(`---\nname: growing app\nconnections:\n  source: env:SOURCE_URL\n  target: env:TARGET_URL\nheadroom: 2\n---\n# G\n\n## Copy\n\n\`\`\`cutover copy {id=copy}\njobs: auto\n\`\`\`\n`);
    const run = cutover(['run', rb.file, '--state-dir', rb.stateDir], { SOURCE_URL: src.url('many'), TARGET_URL: tgt.url('many') });
    // Watch the target over one of the application's own connections (no extra slot taken).
    const watch = app[12]!;
    const copyWorkers = async () => (await watch.query<{ n: number }>(`SELECT count(*)::int n FROM pg_stat_activity WHERE application_name LIKE 'cutover/copy/target-%'`)).rows[0]!.n;
    const until = async (cond: () => Promise<boolean>, what: string) => {
      for (const t0 = Date.now(); !(await cond());) {
        if (Date.now() - t0 > 60_000) throw new Error(`timed out waiting for ${what}`);
        await new Promise((r) => setTimeout(r, 25));
      }
    };
    // Target: 20 - 12 application - run lock - sampler - headroom 2 = 4 -> copy jobs 2 (2 table + 2 index
    // sessions). The application then takes its 2 headroom slots: the server is full.
    await until(async () => (await copyWorkers()) >= 2, 'two copy workers');
    const grown: pg.Client[] = [];
    const openApp = async () => {
      const c = new pg.Client({ connectionString: tgt.url(), application_name: 'the-app' });
      await c.connect(); // throws "too many clients" if cutover took the slot
      grown.push(c);
    };
    try {
      await openApp();
      await openApp();
      // cutover now holds more than it may: one table worker gives its sessions back...
      await until(async () => (await copyWorkers()) <= 1, 'a copy worker to give back its sessions');
      // ...so the application can open one more even though it had used up its headroom.
      await openApp();
      await new Promise((r) => setTimeout(r, 1000));
    } finally {
      await Promise.all(grown.map((c) => c.end()));
    }
    const r = await run;
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(grown).toHaveLength(3);
    const summary = JSON.parse(readFileSync(join(rb.stateDir, 'summary.json'), 'utf8')) as RunSummary;
    const events = summary.connections?.governor ?? [];
    expect(events.filter((e) => e.kind === 'shed' && e.who.startsWith('cutover/copy/worker-')).length).toBeGreaterThanOrEqual(1);
    expect(summary.connections?.target?.minLimit).toBeLessThanOrEqual(4);
    expect(summary.connections?.target?.peakTotal).toBeLessThanOrEqual(20);
    expect((await verify({ source: src.params('many'), target: tgt.params('many'), level: 'counts', jobs: 1 })).ok).toBe(true);
  });

  it('cutover budget prints each side, who holds the connections, and the plan per action', async () => {
    const r = await cutover(['budget', '--source', 'env:S', '--target', 'env:T', '--headroom', '2'], { S: src.url('shop'), T: tgt.url('shop') });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/source: 6 available \(max_connections 20, 0 reserved, 12 in use, 2 kept for the application\)/);
    expect(r.stdout).toMatch(/by application: the-app 12/);
    expect(r.stdout).toMatch(/copy\s+3\s+5\s+6/);
    expect(r.stdout).toMatch(/dump\s+5\s+6\s+0/);
  });
});

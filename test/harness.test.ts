import { afterAll, describe, expect, it } from 'vitest';
import { existsSync, statSync } from 'node:fs';
import { execa } from 'execa';
import { fileURLToPath } from 'node:url';
import { availableMajors, startClusters, stopAllClusters, type Cluster } from '../src/testing/index.js';

afterAll(() => stopAllClusters());

describe('throwaway clusters', () => {
  it('starts two clusters of different major versions at once and queries both', async () => {
    const majors = await availableMajors();
    expect(majors.length).toBeGreaterThanOrEqual(2);
    const [lo, hi] = [majors[0]!, majors.at(-1)!];
    const [a, b] = await startClusters([{ version: lo }, { version: hi, settings: { max_connections: 20, work_mem: '8MB' } }]);
    const [ra, rb] = await Promise.all([
      a!.query<{ v: string; mc: string }>(`SELECT current_setting('server_version_num') v, current_setting('max_connections') mc`),
      b!.query<{ v: string; mc: string; wm: string }>(`SELECT current_setting('server_version_num') v, current_setting('max_connections') mc, current_setting('work_mem') wm`),
    ]);
    expect(Math.floor(Number(ra.rows[0]!.v) / 10000)).toBe(lo);
    expect(Math.floor(Number(rb.rows[0]!.v) / 10000)).toBe(hi);
    expect(rb.rows[0]!.mc).toBe('20');
    expect(rb.rows[0]!.wm).toBe('8MB');
    // Real work on both: a table round trip.
    for (const c of [a!, b!]) {
      await c.query('CREATE TABLE t (id int primary key, v text)');
      await c.query(`INSERT INTO t SELECT i, 'v' || i FROM generate_series(1, 100) i`);
      expect((await c.query('SELECT sum(id)::int s FROM t')).rows[0]!.s).toBe(5050);
    }
  });

  it('runs the server as an unprivileged user and removes everything on stop', async () => {
    const [c] = await startClusters([{}]);
    const dir = (await c!.query<{ d: string }>(`SELECT current_setting('data_directory') d`)).rows[0]!.d;
    expect(existsSync(dir)).toBe(true);
    if (process.getuid?.() === 0) expect(statSync(dir).uid).not.toBe(0);
    await c!.stop();
    expect(existsSync(dir)).toBe(false);
  });

  it('requires the password it was started with', async () => {
    const [c] = await startClusters([{ password: 'right-one' }]);
    const { default: pg } = await import('pg');
    const bad = new pg.Client({ host: c!.host, port: c!.port, user: 'postgres', password: 'wrong', database: 'postgres' });
    await expect(bad.connect()).rejects.toMatchObject({ code: '28P01' });
    await c!.stop();
  });

  it('removes a cluster whose owning process was killed with SIGKILL', async () => {
    const script = fileURLToPath(new URL('./helpers/orphan.ts', import.meta.url));
    const child = execa('node', ['--import', 'tsx', script], { reject: false, buffer: true, cwd: fileURLToPath(new URL('..', import.meta.url)) });
    let dir = '';
    let pid = 0;
    await new Promise<void>((resolve, reject) => {
      child.stdout!.on('data', (d: Buffer) => {
        const m = /READY (\S+) (\d+)/.exec(d.toString());
        if (m) { dir = m[1]!; pid = Number(m[2]); resolve(); }
      });
      void child.then((r) => reject(new Error(`orphan helper exited early: ${r.stderr}`)));
    });
    expect(existsSync(dir)).toBe(true);
    child.kill('SIGKILL');
    await child;
    // The watchdog polls once a second; wait for it (bounded), then check the outcome.
    for (let i = 0; i < 60 && existsSync(dir); i++) await new Promise((r) => setTimeout(r, 500));
    expect(existsSync(dir)).toBe(false);
    let alive = true;
    try { process.kill(pid, 0); } catch { alive = false; }
    expect(alive).toBe(false);
  });
});

export type { Cluster };

/**
 * The pooler switch inside a run: the run's AbortSignal (not the process's signals, which the CLI owns)
 * resumes a paused pooler on the old server, and the switch refuses to happen after that.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { startClusters, stopAllClusters, type Cluster } from '../src/testing/index.js';
import { startPgBouncer, type PgBouncer } from '../src/testing/pgbouncer.js';
import { PoolerSwitch } from '../src/pooler/switch.js';
import pg from 'pg';

let src: Cluster, tgt: Cluster;
let pooler: PgBouncer;
const PW = 'pool-sig-pw';

beforeAll(async () => {
  [src, tgt] = (await startClusters([{ version: 15 }, { version: 15 }])) as [Cluster, Cluster];
  for (const c of [src, tgt]) {
    await c.query(`CREATE ROLE sig_app LOGIN PASSWORD '${PW}'`);
    await c.createDatabase('sig', 'sig_app');
  }
  pooler = await startPgBouncer({
    databases: { sig: { host: src.host, port: src.port, dbname: 'sig', user: 'sig_app', password: PW } },
    users: { sig_app: PW }, poolMode: 'transaction', poolSize: 2,
  });
}, 60_000);
afterAll(async () => { await pooler?.stop(); await stopAllClusters(); });

describe('PoolerSwitch with the run\'s AbortSignal', () => {
  it('an abort while paused resumes the old server (onSignal runs), and switchTo refuses; no process signal listener is added', async () => {
    const abort = new AbortController();
    const source = src.params('sig');
    const target = tgt.params('sig');
    const { sw, switched } = await PoolerSwitch.prepare({ admin: pooler.adminParams(), database: 'sig', repoint: { ini: pooler.ini }, signal: abort.signal },
      { host: source.host, port: source.port, dbname: source.dbname }, { host: target.host, port: target.port, dbname: target.dbname });
    expect(switched).toBe(false);
    const iniBefore = readFileSync(pooler.ini, 'utf8');
    const listeners = process.listenerCount('SIGINT');
    let resumed!: () => void;
    const onSignalRan = new Promise<void>((r) => { resumed = r; });
    // Connected (and logged in through the pooler) before the pause.
    const client = new pg.Client({ connectionString: pooler.url('sig', 'sig_app') });
    await client.connect();
    await client.query('SELECT 1');
    try {
      await sw.pause(async () => { await sw.resumeOld(); resumed(); });
      expect(sw.isPaused).toBe(true);
      expect(process.listenerCount('SIGINT')).toBe(listeners);
      // A client's query waits while the pooler is paused, and goes through once the abort resumed it.
      try {
        const q = client.query('SELECT 1 AS one');
        const early = await Promise.race([q.then(() => 'answered'), new Promise((r) => setTimeout(() => r('waiting'), 700))]);
        expect(early).toBe('waiting');
        abort.abort('SIGINT');
        await onSignalRan;
        expect((await q).rows).toEqual([{ one: 1 }]);
      } finally {
        await client.end().catch(() => undefined);
      }
      await expect(sw.switchTo({ host: target.host, port: target.port, dbname: target.dbname })).rejects.toThrow(/interrupted \(SIGINT\): the pooler was resumed on the source/);
      expect(readFileSync(pooler.ini, 'utf8')).toBe(iniBefore);
    } finally {
      await sw.close();
    }
  }, 30_000);
});

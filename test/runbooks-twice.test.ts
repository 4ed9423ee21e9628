/**
 * Every step of every shipped runbook is safe to run twice: what a resume does after a kill right after a
 * step finished (before the journal recorded it). Each runbook runs against throwaway servers in order,
 * and every step that may write runs a second time at once: it must succeed and leave both databases
 * exactly as its first run did (fingerprints computed by the test's own SQL, test/helpers/evidence.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { availableMajors, startClusters, stopAllClusters, type Cluster } from '../src/testing/index.js';
import { loadRunbook } from '../src/runbook/parse.js';
import { resolveConnections } from '../src/runbook/connections.js';
import { executeStep } from '../src/runbook/execute.js';
import { ACTIONS } from '../src/runbook/actions/index.js';
import { parseHeadroom } from '../src/budget/capacity.js';
import { verify } from '../src/verify/verify.js';
import type { Step } from '../src/runbook/model.js';
import { startPgBouncer, type PgBouncer } from '../src/testing/pgbouncer.js';
import { fingerprint } from './helpers/evidence.js';
import { sampleSource } from './helpers/source.js';

let src: Cluster, tgt: Cluster;
const poolers: PgBouncer[] = [];
beforeAll(async () => {
  const majors = await availableMajors();
  [src, tgt] = (await startClusters([{ version: 15, password: 'pw-twice-src' }, { version: majors.at(-1), password: 'pw-twice-tgt' }])) as [Cluster, Cluster];
}, 60_000);
afterAll(async () => { await Promise.all(poolers.map((p) => p.stop())); await stopAllClusters(); });

/**
 * The runbook as shipped, or, when it switches through PgBouncer, with its pooler section pointed at a
 * real PgBouncer started here (entry `app` on the source; the shipped ini path replaced by the harness's).
 */
async function runbookFor(name: string, db: string, password: string): Promise<{ file: string; env: Record<string, string> }> {
  const file = new URL(`../runbooks/${name}`, import.meta.url).pathname;
  const text = await readFile(file, 'utf8');
  if (!/^\s+pooler:/m.test(text)) return { file, env: {} };
  const pooler = await startPgBouncer({
    databases: { app: { host: src.host, port: src.port, dbname: db, user: 'app_writer', password } },
    users: { app_writer: password }, poolMode: 'transaction',
  });
  poolers.push(pooler);
  const shippedIni = /^\s+ini:\s*(\S+)/m.exec(text)?.[1];
  expect(shippedIni, `${name}: the pooler's ini path`).toBeDefined();
  const copy = join(await mkdtemp(join(tmpdir(), 'cutover-twice-rb-')), name);
  await writeFile(copy, text.replace(shippedIni!, pooler.ini).replace(/^(\s+database:\s*)\S+/m, '$1app'));
  return { file: copy, env: { POOLER_URL: pooler.adminUrl() } };
}

const writes = (s: Step) => s.kind === 'sql' || s.kind === 'sh' || (s.kind === 'action' && ACTIONS.get(s.action!)?.readOnly !== true);
const shipped = readdirSync(new URL('../runbooks/', import.meta.url)).filter((f) => f.endsWith('.md')).sort();

describe('every step of every shipped runbook is safe to run twice', () => {
  it('lists the shipped runbooks', () => {
    expect(shipped).toEqual(['ci-smoke.md', 'dump-restore-window.md', 'heroku-to-cloudsql.md', 'online-cutover-pgbouncer.md', 'online-cutover.md']);
  });

  for (const name of shipped) {
    it(`${name}: each write step run again succeeds with the same end state`, async () => {
      const db = `twice_${name.replace(/\.md$/, '').replace(/\W/g, '_')}`;
      await sampleSource(src, db, 200, 'app-pw-twice');
      await tgt.createDatabase(db);
      const file = await runbookFor(name, db, 'app-pw-twice');
      const rb = await loadRunbook(file.file);
      const env = { ...file.env, [rb.front.connections.source.env ?? 'SOURCE_URL']: src.url(db), [rb.front.connections.target.env ?? 'TARGET_URL']: tgt.url(db) };
      const { source, target, pooler } = await resolveConnections(rb, 'run', env);
      const stateDir = await mkdtemp(join(tmpdir(), 'cutover-twice-'));
      const abort = new AbortController();
      const logs: string[] = [];
      const ctx = (s: Step) => ({ stepId: s.id, source, target, pooler, endpoints: { source, target, ...(pooler ? { pooler } : {}) }, stateDir, headroom: parseHeadroom(rb.front.headroom), signal: abort.signal, progress: () => undefined, log: (t: string) => logs.push(t) });
      const state = async () => `${await fingerprint(src, db)}\n----\n${await fingerprint(tgt, db)}`;
      const twice: string[] = [];
      for (const s of rb.steps.filter((x) => !x.rollback && x.kind !== 'manual')) {
        await executeStep(s, ctx(s));
        if (!writes(s)) continue;
        const after = await state();
        const again = await executeStep(s, ctx(s)).then(() => 'ok', (e: unknown) => `failed: ${(e as Error).message}`);
        expect(again, `${name}: step "${s.id}" (line ${s.line}) run a second time`).toBe('ok');
        expect(await state(), `${name}: step "${s.id}" (line ${s.line}) changed the databases when run again`).toBe(after);
        twice.push(s.id);
      }
      expect(twice.length).toBeGreaterThan(0);
      // And the run did its job: the target holds what the source holds.
      const v = await verify({ source: src.params(db), target: tgt.params(db), level: 'full', jobs: 2 });
      expect(v.tables.filter((t) => t.status !== 'same').map((t) => t.table)).toEqual([]);
    }, 240_000);
  }
});

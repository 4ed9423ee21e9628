/**
 * Every command that works on two databases refuses source == target before anything runs (same URL, and
 * localhost vs 127.0.0.1 of one server), and every table selection must name tables the source has:
 * copy, dump, replicate, restore (runbook, where the source is known) and doctor. Both databases are
 * checked unchanged afterwards.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startCluster, stopAllClusters, type Cluster } from '../src/testing/index.js';
import type { ConnParams } from '../src/pg/conninfo.js';
import { copy } from '../src/dump/copy/copy.js';
import { dump } from '../src/dump/dump.js';
import { restore } from '../src/dump/restore.js';
import { Applier } from '../src/replicate/apply.js';
import { installCapture } from '../src/replicate/capture.js';
import { doctor } from '../src/doctor/doctor.js';
import { refuseSameDatabaseAt } from '../src/pg/entry-checks.js';
import { resolveSelection, type CatalogRelation } from '../src/pg/select-tables.js';

let c: Cluster;
let same: ConnParams, alias: ConnParams, other: ConnParams;

beforeAll(async () => {
  c = await startCluster({ version: 15 });
  await c.createDatabase('app');
  await c.createDatabase('empty');
  await c.query(`CREATE SCHEMA s; CREATE TABLE s.orders (id int PRIMARY KEY, v text); INSERT INTO s.orders SELECT i, 'v' || i FROM generate_series(1, 10) i;
    CREATE TABLE s.secrets (id int PRIMARY KEY); ALTER TABLE s.secrets ENABLE ROW LEVEL SECURITY; ALTER TABLE s.secrets FORCE ROW LEVEL SECURITY`, [], 'app');
  same = c.params('app');
  expect(same.host).toBe('127.0.0.1');
  alias = { ...same, host: 'localhost' };
  other = c.params('empty');
});
afterAll(() => stopAllClusters());

const fingerprint = async () => (await c.query(`SELECT (SELECT count(*) FROM pg_namespace)::int AS ns, (SELECT count(*) FROM s.orders)::int AS n`, [], 'app')).rows[0];
const sameDb = /the source and the target are the same database/;

describe('source == target is refused before anything runs', () => {
  for (const [label, target] of [['same URL', () => same], ['localhost vs 127.0.0.1', () => alias]] as const) {
    it(`copy (${label})`, async () => {
      const before = await fingerprint();
      const dir = await mkdtemp(join(tmpdir(), 'cutover-refusal-'));
      const e = await copy({ source: same, target: target(), dir: join(dir, 'copy') }).catch((x: unknown) => x);
      expect(e).toMatchObject({ code: 'E_USAGE', message: expect.stringMatching(sameDb) });
      expect((e as { hint: string }).hint).not.toMatch(/drop/i);
      expect(existsSync(join(dir, 'copy'))).toBe(false);
      expect(await fingerprint()).toEqual(before);
    });

    it(`replicate (${label})`, async () => {
      const e = await Applier.open({ source: same, target: target() }).catch((x: unknown) => x);
      expect(e).toMatchObject({ code: 'E_USAGE', message: expect.stringMatching(sameDb) });
    });

    it(`restore in a runbook (${label})`, async () => {
      await expect(refuseSameDatabaseAt('restore', same, target(), { sourceOptional: true })).rejects.toMatchObject({ code: 'E_USAGE', message: expect.stringMatching(sameDb) });
    });

    it(`doctor (${label})`, async () => {
      const r = await doctor({ source: same, target: target(), copyOnly: true });
      expect(r.ok).toBe(false);
      const check = r.checks.find((x) => x.id === 'same-database')!;
      expect(check).toMatchObject({ status: 'fail', message: expect.stringMatching(sameDb) });
      expect(check.hint).not.toMatch(/drop/i);
    });
  }

  it('restore of a dump into the database it was taken from (by another URL), with no source given', async () => {
    const dir = join(await mkdtemp(join(tmpdir(), 'cutover-refusal-')), 'dump');
    await dump({ source: same, dir, jobs: 1 });
    const before = await fingerprint();
    const e = await restore({ target: alias, dir }).catch((x: unknown) => x);
    expect(e).toMatchObject({ code: 'E_USAGE', message: expect.stringMatching(sameDb) });
    expect((e as { hint: string }).hint).not.toMatch(/drop/i);
    expect(await fingerprint()).toEqual(before);
    // Into another database of the same server it goes.
    await c.createDatabase('restored_here');
    await restore({ target: c.params('restored_here'), dir });
    expect((await c.query(`SELECT count(*)::int n FROM s.orders`, [], 'restored_here')).rows[0]!.n).toBe(10);
  });

  it('another database of the same server is not refused; an unreachable source of a restore is skipped', async () => {
    await expect(refuseSameDatabaseAt('copy', same, other)).resolves.toBeUndefined();
    const r = await doctor({ source: same, target: other, copyOnly: true });
    expect(r.checks.find((x) => x.id === 'same-database')).toBeUndefined();
    await expect(refuseSameDatabaseAt('restore', { ...same, port: 1 }, same, { sourceOptional: true })).resolves.toBeUndefined();
  });
});

describe('table selections must name tables the source has', () => {
  it('copy: an unknown table fails with a close match, before the target is touched', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cutover-refusal-'));
    const e = await copy({ source: same, target: other, dir: join(dir, 'copy'), tables: ['s.ordrs'] }).catch((x: unknown) => x);
    expect(e).toMatchObject({ code: 'E_USAGE', message: expect.stringContaining('"s.ordrs" not found (did you mean s.orders?)') });
    expect((await c.query(`SELECT count(*)::int n FROM pg_namespace WHERE nspname = 's'`, [], 'empty')).rows[0]!.n).toBe(0);
  });

  it('dump: a misspelt exclusion fails; a selection that leaves nothing fails', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cutover-refusal-'));
    await expect(dump({ source: same, dir: join(dir, 'd'), excludeTables: ['s.nosuch'] })).rejects.toMatchObject({ code: 'E_USAGE', message: expect.stringContaining('exclude_tables: "s.nosuch" not found') });
    await expect(dump({ source: same, dir: join(dir, 'd'), tables: ['s.orders'], excludeTables: ['s.orders'] })).rejects.toMatchObject({ code: 'E_USAGE', message: expect.stringMatching(/leaves no table/) });
    expect(existsSync(join(dir, 'd'))).toBe(false);
  });

  it('replicate start: an unknown table fails before anything is installed', async () => {
    await expect(installCapture({ source: same, tables: ['orderz'] })).rejects.toMatchObject({ code: 'E_USAGE', message: expect.stringContaining('"orderz" not found') });
    expect((await c.query(`SELECT count(*)::int n FROM pg_namespace WHERE nspname = '_cutover'`, [], 'app')).rows[0]!.n).toBe(0);
  });

  it('resolution rules: exact text, quoted parts, case folding, search_path, ambiguity', () => {
    const rel = (schema: string, name: string, leaves: { schema: string; name: string }[] = []): CatalogRelation => ({ schema, name, kind: leaves.length ? 'p' : 'r', leaves });
    const cat = [rel('public', 'users'), rel('app', 'users'), rel('app', 'Orders'), rel('a.b', 'c'), rel('x', 'twin'), rel('y', 'twin'),
      rel('app', 'inv', [{ schema: 'app', name: 'inv_1' }, { schema: 'app', name: 'inv_2' }]), rel('app', 'inv_1'), rel('app', 'inv_2')];
    const pick = (tables: string[], exclude?: string[]) => [...resolveSelection(cat, ['public'], { tables, excludeTables: exclude }, 't').keys].sort();
    expect(pick(['users'])).toEqual(['public.users']);
    expect(pick(['app.users'])).toEqual(['app.users']);
    expect(pick(['APP.USERS'])).toEqual(['app.users']);
    expect(pick(['app."Orders"'])).toEqual(['app.Orders']);
    expect(pick(['app.Orders'])).toEqual(['app.Orders']);
    expect(pick(['"a.b".c'])).toEqual(['a.b.c']);
    expect(pick(['a.b.c'])).toEqual(['a.b.c']);
    expect(pick(['app.inv'], ['app.inv_2'])).toEqual(['app.inv', 'app.inv_1']);
    expect(() => pick(['twin'])).toThrow(/"twin" is ambiguous: x\.twin, y\.twin/);
    expect(() => pick(['app.usres', 'nope'])).toThrow(/"app\.usres" not found \(did you mean app\.users[^\n]*\n\s+tables: "nope" not found/);
    expect(() => pick([])).toThrow(/leaves no table/);
  });
});

describe('doctor reports tables whose rows row-level security hides', () => {
  it('names the FORCE RLS table the owner would read filtered', async () => {
    await c.query(`CREATE ROLE tab_owner LOGIN PASSWORD 'pw-owner'; GRANT USAGE ON SCHEMA s TO tab_owner; ALTER TABLE s.secrets OWNER TO tab_owner; GRANT SELECT ON s.orders TO tab_owner`, [], 'app');
    const r = await doctor({ source: { ...same, user: 'tab_owner', password: 'pw-owner' }, target: other, copyOnly: true });
    const check = r.checks.find((x) => x.id === 'row-level-security' && x.side === 'source')!;
    expect(check).toMatchObject({ status: 'fail', message: expect.stringContaining('s.secrets (FORCE ROW LEVEL SECURITY: even its owner is filtered)') });
    expect(check.hint).toMatch(/BYPASSRLS/);
    // The superuser bypasses RLS: nothing to report.
    expect((await doctor({ source: same, target: other, copyOnly: true })).checks.find((x) => x.id === 'row-level-security')).toBeUndefined();
  });
});

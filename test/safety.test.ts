/**
 * Never touch the wrong database, never leave anything behind (issue 22): state bound to its databases,
 * signals at each step kind followed by an immediate resume, what a SIGKILL leaves (processes, sessions,
 * passfiles), and Markdown the parser would otherwise silently recover from.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { startClusters, stopAllClusters, type Cluster } from '../src/testing/index.js';
import { CLI } from './helpers/cli.js';
import { FRONT } from './helpers/runbook.js';
import { fingerprint } from './helpers/evidence.js';
import { cutoverSessions, filesIn, processesWithEnv, waitFor } from './helpers/leftovers.js';
import { sampleSource } from './helpers/source.js';

let src: Cluster, tgt: Cluster;
let work: string;
/** cutover's runtime directories (passfiles) go here: what is left in it is what a command left behind. */
let runtime: string;

beforeAll(async () => {
  [src, tgt] = (await startClusters([{ version: 15, password: 'pw-src-safety' }, { version: 15, password: 'pw-tgt-safety' }])) as [Cluster, Cluster];
  work = await mkdtemp(join(tmpdir(), 'cutover-safety-'));
  runtime = join(work, 'runtime');
}, 60_000);
afterAll(() => stopAllClusters());

type Env = Record<string, string>;
/** The CLI, run from the work directory (default state directories land there). */
function start(args: string[], env: Env): ResultPromise<{ reject: false; all: true; forceKillAfterDelay: false }> {
  // forceKillAfterDelay: false: execa would SIGKILL 5 s after a SIGTERM; what cutover does with the signal
  // is the subject here, however long a loaded machine makes it take.
  return execa('node', [CLI, ...args], { env: { ...env, CUTOVER_RUNTIME_DIR: runtime, CUTOVER_DEBUG: undefined, CUTOVER_SESSION_TAG: undefined }, extendEnv: true, reject: false, all: true, cwd: work, forceKillAfterDelay: false });
}
async function run(args: string[], env: Env) {
  const r = await start(args, env);
  return { code: r.exitCode ?? -1, out: String(r.all ?? '') };
}

interface JournalLine { event: string; id?: string; outcome?: string; signal?: string; tag?: string; target?: { dbName: string } }
const journalOf = (dir: string): JournalLine[] => {
  const f = join(dir, 'journal.jsonl');
  return existsSync(f) ? readFileSync(f, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as JournalLine) : [];
};
/** The default state directories of a runbook's runs: `.cutover/<name>/<target>/run`. */
const runDirs = (slug: string) => {
  const root = join(work, '.cutover', slug);
  return existsSync(root) ? readdirSync(root).map((d) => join(root, d, 'run')).filter((d) => existsSync(join(d, 'journal.jsonl'))) : [];
};
async function runbookFile(name: string, text: string): Promise<string> {
  const f = join(work, `${name}.md`);
  await writeFile(f, text.replace('name: test runbook', `name: ${name}`));
  return f;
}

describe('state bound to its databases', () => {
  it('run --resume (and --rollback) against another source or target is refused, naming both; both databases unchanged', async () => {
    await src.createDatabase('b_src');
    await src.query('CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT g, md5(g::text) FROM generate_series(1, 100) g', [], 'b_src');
    await src.createDatabase('b_src2');
    for (const db of ['b_a', 'b_other']) await tgt.createDatabase(db);
    await tgt.query('CREATE TABLE items (id int PRIMARY KEY, v text); INSERT INTO items SELECT g, md5(g::text) FROM generate_series(1, 1000) g', [], 'b_other');
    const file = await runbookFile('bound-run', `${FRONT}\n# T\n\n## Steps\n\n\`\`\`sql {on=target id=make}\nCREATE TABLE IF NOT EXISTS items (id int PRIMARY KEY, v text);\nDELETE FROM items;\n\`\`\`\n\n` +
      `\`\`\`sh {id=fails}\nexit 3\n\`\`\`\n\n## Rollback\n\n\`\`\`sql {on=target id=undo}\nDROP TABLE IF EXISTS items\n\`\`\`\n`);
    const first = await run(['run', file], { SOURCE_URL: src.url('b_src'), TARGET_URL: tgt.url('b_a') });
    expect(first.code, first.out).toBe(6);
    const [dir] = runDirs('bound-run');
    expect(dir).toBeDefined();
    const before = await Promise.all([fingerprint(src, 'b_src'), fingerprint(src, 'b_src2'), fingerprint(tgt, 'b_a'), fingerprint(tgt, 'b_other')]);

    // The default state directory belongs to the target: for another target there is nothing to resume.
    const other = await run(['run', file, '--resume'], { SOURCE_URL: src.url('b_src'), TARGET_URL: tgt.url('b_other') });
    expect(other.code, other.out).toBe(2);
    expect(other.out).toMatch(/nothing to resume for database "b_other"/);
    expect(other.out).toMatch(/database "b_a" \(oid \d+\)/);
    // The journal itself, pointed at another target (or source): refused, naming both.
    for (const [env, side, was, now] of [
      [{ SOURCE_URL: src.url('b_src'), TARGET_URL: tgt.url('b_other') }, 'target', 'b_a', 'b_other'],
      [{ SOURCE_URL: src.url('b_src2'), TARGET_URL: tgt.url('b_a') }, 'source', 'b_src', 'b_src2'],
    ] as const) {
      for (const mode of [['--resume'], ['--rollback', '--yes']]) {
        const r = await run(['run', file, '--state-dir', dir!, ...mode], env);
        expect(r.code, r.out).toBe(2);
        expect(r.out).toContain('describes other database(s) than the ones given now; nothing was changed');
        expect(r.out).toMatch(new RegExp(`${side}: the journal is for database "${was}" \\(oid \\d+\\) on 127\\.0\\.0\\.1:\\d+, system \\d+`));
        expect(r.out).toMatch(new RegExp(`now given: database "${now}"`));
      }
    }
    expect(await Promise.all([fingerprint(src, 'b_src'), fingerprint(src, 'b_src2'), fingerprint(tgt, 'b_a'), fingerprint(tgt, 'b_other')])).toEqual(before);
    expect((await tgt.query<{ n: number }>('SELECT count(*)::int n FROM items', [], 'b_other')).rows[0]!.n).toBe(1000);
  });

  it('the same runbook runs for two databases in turn without --fresh; --fresh waits for no one: it refuses while a run holds the lock', async () => {
    await src.createDatabase('f_src');
    for (const db of ['f_a', 'f_b']) await tgt.createDatabase(db);
    const file = await runbookFile('fleet', `${FRONT}\n# T\n\n## Steps\n\n\`\`\`sql {on=target id=mark}\nCREATE TABLE IF NOT EXISTS marks (at timestamptz DEFAULT now(), db text DEFAULT current_database());\nINSERT INTO marks DEFAULT VALUES;\n\`\`\`\n`);
    for (const db of ['f_a', 'f_b']) {
      const r = await run(['run', file], { SOURCE_URL: src.url('f_src'), TARGET_URL: tgt.url(db) });
      expect(r.code, r.out).toBe(0);
    }
    const dirs = runDirs('fleet');
    expect(dirs.map((d) => journalOf(d).find((e) => e.event === 'run-start')!.target!.dbName).sort()).toEqual(['f_a', 'f_b']);
    for (const db of ['f_a', 'f_b']) expect((await tgt.query<{ n: number }>('SELECT count(*)::int n FROM marks', [], db)).rows[0]!.n).toBe(1);
    const again = await run(['run', file], { SOURCE_URL: src.url('f_src'), TARGET_URL: tgt.url('f_a') });
    expect(again.code).toBe(2);
    expect(again.out).toContain('already ran to completion');

    // --fresh while another run of the target holds the lock: refused, the running run's journal stays.
    const slow = await runbookFile('fresh-lock', `${FRONT}\n# T\n\n## Steps\n\n\`\`\`sql {on=target id=slow}\nSELECT pg_sleep(60)\n\`\`\`\n`);
    const state = join(work, 'fresh-state');
    const first = start(['run', slow, '--state-dir', state], { SOURCE_URL: src.url('f_src'), TARGET_URL: tgt.url('f_a') });
    expect(await waitFor(async () => (await tgt.query(`SELECT 1 FROM pg_stat_activity WHERE application_name LIKE 'cutover/slow#%' AND state = 'active'`)).rowCount! > 0)).toBe(true);
    const fresh = await run(['run', slow, '--state-dir', state, '--fresh'], { SOURCE_URL: src.url('f_src'), TARGET_URL: tgt.url('f_a') });
    expect(fresh.code, fresh.out).toBe(4);
    expect(fresh.out).toContain('another cutover run holds the lock on the target');
    expect(readdirSync(state).filter((f) => f.startsWith('journal'))).toEqual(['journal.jsonl']);
    expect(journalOf(state).filter((e) => e.event === 'run-start')).toHaveLength(1);
    // SIGHUP (a closed terminal) stops it like SIGINT and SIGTERM: the statement cancelled, exit 129.
    first.kill('SIGHUP');
    expect((await first).exitCode).toBe(129);
    expect(journalOf(state).at(-1)).toMatchObject({ event: 'run-end', outcome: 'interrupted', signal: 'SIGHUP' });
    expect(journalOf(state).find((e) => e.event === 'step-end' && e.id === 'slow')?.outcome).toBe('interrupted');
    expect([...await cutoverSessions(src), ...await cutoverSessions(tgt)]).toEqual([]);
  });

  it('copy --resume and restore against another database are refused before anything is touched', async () => {
    await src.createDatabase('c_src');
    await src.query(`CREATE TABLE items (id int PRIMARY KEY, v text); INSERT INTO items SELECT g, md5(g::text) FROM generate_series(1, 2000) g;
      CREATE TABLE notes (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, body text); INSERT INTO notes (body) SELECT 'n' || g FROM generate_series(1, 300) g`, [], 'c_src');
    for (const db of ['c_a', 'c_other']) await tgt.createDatabase(db);
    await tgt.query('CREATE TABLE items (id int PRIMARY KEY, v text); INSERT INTO items SELECT g, \'theirs\' FROM generate_series(1, 1000) g', [], 'c_other');
    const dir = join(work, 'copy-dir');
    const env = { S: src.url('c_src'), A: tgt.url('c_a'), O: tgt.url('c_other') };
    const copied = await run(['copy', '--source', 'env:S', '--target', 'env:A', '--dir', dir], env);
    expect(copied.code, copied.out).toBe(0);
    const before = await Promise.all([fingerprint(src, 'c_src'), fingerprint(tgt, 'c_a'), fingerprint(tgt, 'c_other')]);
    const r = await run(['copy', '--resume', '--source', 'env:S', '--target', 'env:O', '--dir', dir], env);
    expect(r.code, r.out).toBe(2);
    expect(r.out).toMatch(/target: the journal is for database "c_a" \(oid \d+\)[^\n]*\n\s+now given: database "c_other"/);
    expect(await Promise.all([fingerprint(src, 'c_src'), fingerprint(tgt, 'c_a'), fingerprint(tgt, 'c_other')])).toEqual(before);
    expect((await tgt.query<{ v: string }>('SELECT DISTINCT v FROM items', [], 'c_other')).rows).toEqual([{ v: 'theirs' }]);

    // Restore: the state names the target by URL; the database behind it was recreated (another one).
    const dump = join(work, 'dump-dir');
    expect((await run(['dump', '--source', 'env:S', '--dir', dump], env)).code).toBe(0);
    await tgt.createDatabase('r_a');
    const pre = await run(['restore', '--target', `${tgt.url('r_a')}`, '--dir', dump, '--section', 'pre-data'], env);
    expect(pre.code, pre.out).toBe(0);
    await tgt.query('DROP DATABASE r_a');
    await tgt.createDatabase('r_a');
    await tgt.query('CREATE TABLE items (id int PRIMARY KEY, v text); INSERT INTO items SELECT g, \'theirs\' FROM generate_series(1, 1000) g', [], 'r_a');
    const recreated = await fingerprint(tgt, 'r_a');
    const again = await run(['restore', '--target', 'env:R', '--dir', dump], { ...env, R: tgt.url('r_a') });
    expect(again.code, again.out).toBe(2);
    expect(again.out).toMatch(/target: the journal is for database "r_a" \(oid (\d+)\)[^\n]*\n\s+now given: database "r_a" \(oid (?!\1)\d+\)/);
    expect(await fingerprint(tgt, 'r_a')).toBe(recreated);
  });
});

describe('signals: SIGTERM and SIGINT at each step kind, then an immediate --resume', () => {
  // Slow steps read how long to take from a gate table: slow the first time, quick once the test opens it.
  const RUNBOOK = `${FRONT}\n# T\n\n## Steps\n\n` +
    `\`\`\`sql {on=source id=slow-sql}\nSELECT pg_sleep(d) FROM public.gate WHERE k = 'sql'\n\`\`\`\n\n` +
    `\`\`\`sh {id=slow-sh}\npsql -XAtq "$SOURCE_URL" -c "SELECT pg_sleep(d) FROM public.gate WHERE k = 'sh'"\n\`\`\`\n\n` +
    `\`\`\`cutover copy {id=copy}\njobs: 1\nindex_jobs: 1\n\`\`\`\n\n` +
    `\`\`\`sql {on=target id=after}\nSELECT count(*) FROM public.big\n\`\`\`\n`;

  /** `bigRows`: enough for the copy of public.big to be seen under way (polled every 10 ms). */
  async function prepare(db: string, bigRows = 20_000): Promise<void> {
    await src.createDatabase(db);
    await tgt.createDatabase(db);
    await src.query(`CREATE TABLE public.gate (k text PRIMARY KEY, d float8);
      INSERT INTO public.gate VALUES ('sql', 60), ('sh', 60);
      CREATE TABLE public.big (id int PRIMARY KEY, a text, b text);
      INSERT INTO public.big SELECT g, md5(g::text), repeat(md5((g * 7)::text), 3) FROM generate_series(1, ${bigRows}) g;
      -- An index whose build takes a while where the database says so (the target, until the test opens it).
      CREATE FUNCTION public.slow_key(x int) RETURNS int LANGUAGE plpgsql IMMUTABLE AS
        'BEGIN PERFORM pg_sleep(coalesce(nullif(current_setting(''cutover_test.index_sleep'', true), ''''), ''0'')::float8); RETURN x; END';
      -- A table whose COPY takes a while where the database says so: its CHECK waits on every row.
      CREATE FUNCTION public.slow_check(x int) RETURNS boolean LANGUAGE plpgsql IMMUTABLE AS
        'BEGIN PERFORM pg_sleep(coalesce(nullif(current_setting(''cutover_test.copy_sleep'', true), ''''), ''0'')::float8); RETURN x > 0; END';
      CREATE TABLE public.slowcopy (id int PRIMARY KEY CHECK (public.slow_check(id)), v text);
      INSERT INTO public.slowcopy SELECT g, md5(g::text) FROM generate_series(1, 2000) g;
      CREATE TABLE public.slowidx (id int PRIMARY KEY, v int);
      INSERT INTO public.slowidx SELECT g, g FROM generate_series(1, 1000) g;
      CREATE INDEX slowidx_key ON public.slowidx (public.slow_key(v))`, [], db);
    await tgt.query(`ALTER DATABASE ${db} SET cutover_test.index_sleep = '0.02'`);
    await tgt.query(`ALTER DATABASE ${db} SET cutover_test.copy_sleep = '0.01'`);
  }

  /** Starts the run (or the resume), waits for `when`, sends `sig`; checks what must hold after it. */
  async function interrupt(file: string, state: string, env: Env, sig: 'SIGTERM' | 'SIGINT', step: string, when: () => Promise<boolean>, resume: boolean) {
    const child = start(['run', file, '--state-dir', state, ...(resume ? ['--resume'] : [])], env);
    const reached = await waitFor(async () => child.exitCode === null && await when(), 60_000);
    expect(reached, `${step}: never reached (exit ${child.exitCode})`).toBe(true);
    const tag = journalOf(state).filter((e) => e.event === 'run-start').at(-1)!.tag!;
    expect(tag).toMatch(/^t[0-9a-f]{8}$/);
    child.kill(sig);
    const r = await child;
    const j = journalOf(state);
    const at = `${sig} at ${step}`;
    expect(r.exitCode, `${at}: ${String(r.all)}`).toBe(sig === 'SIGTERM' ? 143 : 130);
    expect(j.find((e) => e.event === 'step-end' && e.id === step.replace(/ .*/, '') && e.outcome === 'interrupted'), at).toBeDefined();
    expect(j.at(-1), at).toMatchObject({ event: 'run-end', outcome: 'interrupted', signal: sig });
    // Nothing left: no session on either server, no process of the run, no passfile.
    expect([...await cutoverSessions(src), ...await cutoverSessions(tgt)], at).toEqual([]);
    expect(processesWithEnv(`CUTOVER_SESSION_TAG=${tag}`), at).toEqual([]);
    expect(filesIn(runtime), at).toEqual([]);
  }

  for (const sig of ['SIGTERM', 'SIGINT'] as const) {
    it(`${sig}: sql, sh with a child psql, copy mid-data and mid-index; each resumed at once`, async () => {
      const db = `sig_${sig.toLowerCase()}`;
      await prepare(db);
      const file = await runbookFile(`signals-${sig.toLowerCase()}`, RUNBOOK);
      const state = join(work, `state-${db}`);
      const env = { SOURCE_URL: src.url(db), TARGET_URL: tgt.url(db) };
      const active = (c: Cluster, app: string, query = '%') => async () =>
        (await c.query(`SELECT 1 FROM pg_stat_activity WHERE application_name LIKE $1 AND state = 'active' AND query LIKE $2`, [app, query])).rowCount! > 0;

      await interrupt(file, state, env, sig, 'slow-sql', active(src, 'cutover/slow-sql#%', '%pg_sleep%'), false);
      await src.query(`UPDATE public.gate SET d = 0 WHERE k = 'sql'`, [], db);

      // The psql child runs its pg_sleep on the source: the signal reaches it through its process group.
      await interrupt(file, state, env, sig, 'slow-sh', async () => await active(src, 'cutover/slow-sh#%', '%pg_sleep%')() &&
        processesWithEnv(`CUTOVER_SESSION_TAG=${journalOf(state).filter((e) => e.event === 'run-start').at(-1)!.tag}`).some((p) => /(^|\/)psql /.test(p.cmdline)), true);
      await src.query(`UPDATE public.gate SET d = 0 WHERE k = 'sh'`, [], db);

      await interrupt(file, state, env, sig, 'copy (mid-data)', active(tgt, 'cutover/copy/target-%', 'COPY "public"."slowcopy"%'), true);
      // Its TRUNCATE + COPY was one transaction: cancelled, nothing of it stays.
      expect((await tgt.query<{ n: number }>('SELECT count(*)::int n FROM public.slowcopy', [], db)).rows[0]!.n).toBe(0);
      await tgt.query(`ALTER DATABASE ${db} SET cutover_test.copy_sleep = '0'`);

      await interrupt(file, state, env, sig, 'copy (mid-index)', active(tgt, 'cutover/copy/index-%', 'CREATE INDEX slowidx_key%'), true);
      expect((await tgt.query('SELECT 1 FROM pg_class WHERE relname = \'slowidx_key\'', [], db)).rowCount).toBe(0);
      await tgt.query(`ALTER DATABASE ${db} SET cutover_test.index_sleep = '0'`);

      const done = await run(['run', file, '--state-dir', state, '--resume'], env);
      expect(done.code, done.out).toBe(0);
      // The target holds what the source holds (compared here, not by cutover), the slow index included.
      const hash = (c: Cluster) => c.query<{ h: string; n: number }>(`SELECT md5(string_agg(b::text, '|' ORDER BY id)) h, count(*)::int n FROM public.big b`, [], db).then((x) => x.rows[0]);
      expect(await hash(tgt)).toEqual(await hash(src));
      expect((await tgt.query(`SELECT 1 FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname = 'slowidx_key' AND i.indisvalid`, [], db)).rowCount).toBe(1);
      expect([...await cutoverSessions(src), ...await cutoverSessions(tgt)]).toEqual([]);
      expect(filesIn(runtime)).toEqual([]);
    }, 300_000);
  }

  it('cutover copy on its own: SIGTERM mid-index ends the build on the server, exits 143 with nothing left, and copy --resume completes', async () => {
    const db = 'sig_copy';
    await prepare(db, 1000);
    await tgt.query(`ALTER DATABASE ${db} SET cutover_test.copy_sleep = '0'`);
    const env = { S: src.url(db), T: tgt.url(db) };
    const dir = join(work, 'sig-copy');
    const child = start(['copy', '--source', 'env:S', '--target', 'env:T', '--dir', dir, '-j', '1', '--index-jobs', '1'], env);
    expect(await waitFor(async () => (await tgt.query(`SELECT 1 FROM pg_stat_activity WHERE application_name LIKE 'cutover/copy/index-%' AND state = 'active' AND query LIKE 'CREATE INDEX slowidx_key%'`)).rowCount! > 0, 60_000)).toBe(true);
    child.kill('SIGTERM');
    const r = await child;
    expect(r.exitCode, String(r.all)).toBe(143);
    expect([...await cutoverSessions(src), ...await cutoverSessions(tgt)]).toEqual([]);
    expect(filesIn(runtime)).toEqual([]);
    expect((await tgt.query(`SELECT 1 FROM pg_class WHERE relname = 'slowidx_key'`, [], db)).rowCount).toBe(0);
    await tgt.query(`ALTER DATABASE ${db} SET cutover_test.index_sleep = '0'`);
    const resumed = await run(['copy', '--resume', '--source', 'env:S', '--target', 'env:T', '--dir', dir, '-j', '1'], env);
    expect(resumed.code, resumed.out).toBe(0);
    expect(resumed.out).toContain('(resumed)');
    const hash = (c: Cluster) => c.query<{ h: string }>(`SELECT md5(string_agg(b::text, '|' ORDER BY id)) h FROM public.big b`, [], db).then((x) => x.rows[0]!.h);
    expect(await hash(tgt)).toBe(await hash(src));
    expect((await tgt.query(`SELECT 1 FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname = 'slowidx_key' AND i.indisvalid`, [], db)).rowCount).toBe(1);
  }, 180_000);
});

describe('replicate apply: SIGTERM and SIGINT in the middle of a batch', () => {
  it('finishes or rolls back the batch, exits 128 + signal with nothing left, and an immediate apply resumes with nothing lost', async () => {
    const db = 'rep_sig';
    await sampleSource(src, db, 3000, 'app-pw-safety');
    await tgt.createDatabase(db);
    const env = { S: src.url(db), T: tgt.url(db) };
    // billing.audit_log has no key: the sample's one table that capture refuses.
    const started = await run(['replicate', 'start', '--source', 'env:S', '--exclude-table', 'billing.audit_log'], env);
    expect(started.code, started.out).toBe(0);
    const copied = await run(['copy', '--source', 'env:S', '--target', 'env:T', '--dir', join(work, 'rep-copy')], env);
    expect(copied.code, copied.out).toBe(0);
    for (const sig of ['SIGTERM', 'SIGINT'] as const) {
      // One big transaction: its batch takes a while to apply; the signal lands inside it.
      await src.query(`UPDATE app.orders SET note = $1 || id`, [`big ${sig} `], db);
      const child = start(['replicate', 'apply', '--source', 'env:S', '--target', 'env:T'], env);
      const busy = await waitFor(async () => (await tgt.query(`SELECT 1 FROM pg_stat_activity WHERE application_name LIKE 'cutover/apply-target#%' AND state = 'active'
        AND (query LIKE 'COPY pg_temp.%' OR query LIKE 'INSERT INTO % OVERRIDING SYSTEM VALUE %')`)).rowCount! > 0, 60_000);
      expect(busy, sig).toBe(true);
      child.kill(sig);
      const r = await child;
      expect(r.exitCode, String(r.all)).toBe(sig === 'SIGTERM' ? 143 : 130);
      expect(String(r.all)).toContain(`(stopped by ${sig})`);
      expect([...await cutoverSessions(src), ...await cutoverSessions(tgt)], sig).toEqual([]);
      expect(filesIn(runtime), sig).toEqual([]);
      const resumed = await run(['replicate', 'apply', '--source', 'env:S', '--target', 'env:T', '--until-caught-up'], env);
      expect(resumed.code, resumed.out).toBe(0);
    }
    const hash = (c: Cluster) => c.query<{ h: string }>(`SELECT md5(string_agg(o::text, '|' ORDER BY o.id)) h FROM app.orders o`, [], db).then((x) => x.rows[0]!.h);
    expect(await hash(tgt)).toBe(await hash(src));
    expect((await tgt.query<{ n: number }>(`SELECT count(*)::int n FROM app.orders WHERE note LIKE 'big SIGINT %'`, [], db)).rows[0]!.n).toBeGreaterThan(0);
  }, 180_000);
});

describe('SIGKILL of the runner', () => {
  it('the next command ends its orphaned psql and removes its passfile; --resume ends its session on the server', async () => {
    const db = 'kill9';
    await src.createDatabase(db);
    await tgt.createDatabase(db);
    await src.query(`CREATE TABLE public.gate (k text PRIMARY KEY, d float8); INSERT INTO public.gate VALUES ('sh', 120)`, [], db);
    const file = await runbookFile('kill9', `${FRONT}\n# T\n\n## Steps\n\n\`\`\`sh {id=slow-sh}\npsql -XAtq "$SOURCE_URL" -c "SELECT pg_sleep(d) FROM public.gate WHERE k = 'sh'"\n\`\`\`\n\n\`\`\`sql {on=target id=after}\nSELECT 1\n\`\`\`\n`);
    const state = join(work, 'state-kill9');
    const env = { SOURCE_URL: src.url(db), TARGET_URL: tgt.url(db) };
    const runStart = Date.now();
    const child = start(['run', file, '--state-dir', state], env);
    const tagOf = () => journalOf(state).find((e) => e.event === 'run-start')?.tag;
    expect(await waitFor(() => !!tagOf() && processesWithEnv(`CUTOVER_SESSION_TAG=${tagOf()}`).some((p) => /(^|\/)psql /.test(p.cmdline)), 60_000)).toBe(true);
    expect(await waitFor(async () => (await src.query(`SELECT 1 FROM pg_stat_activity WHERE application_name LIKE 'cutover/slow-sh#%' AND state = 'active'`)).rowCount! > 0)).toBe(true);
    const tag = tagOf()!;
    child.kill('SIGKILL');
    await child;
    // What a SIGKILL leaves: the passfile (holding both passwords), the psql child, its session.
    const left = filesIn(runtime);
    expect(left.some((f) => /\/cred-[^/]+\/pgpass$/.test(f.path) && readFileSync(f.path, 'utf8').includes('pw-src-safety'))).toBe(true);
    expect(processesWithEnv(`CUTOVER_SESSION_TAG=${tag}`).some((p) => /(^|\/)psql /.test(p.cmdline))).toBe(true);

    // Any next command (here `check`) sweeps: no passfile older than it, no orphan.
    const check = await run(['check', file], env);
    expect(check.code, check.out).toBe(0);
    expect(filesIn(runtime).filter((f) => f.mtimeMs >= runStart - 1000)).toEqual([]);
    expect(processesWithEnv(`CUTOVER_SESSION_TAG=${tag}`)).toEqual([]);
    // The killed psql's statement still runs on the server (a vanished client does not stop pg_sleep)...
    expect((await src.query(`SELECT 1 FROM pg_stat_activity WHERE application_name = $1 AND state = 'active'`, [`cutover/slow-sh#${tag}`])).rowCount).toBe(1);
    await src.query(`UPDATE public.gate SET d = 0 WHERE k = 'sh'`, [], db);
    // ...until the resume ends it before starting the step again.
    const resumed = await run(['run', file, '--state-dir', state, '--resume'], env);
    expect(resumed.code, resumed.out).toBe(0);
    expect(resumed.out).toMatch(/ended 1 session\(s\) the interrupted run left on the source/);
    expect([...await cutoverSessions(src), ...await cutoverSessions(tgt)]).toEqual([]);
    expect(filesIn(runtime)).toEqual([]);
  }, 120_000);
});

describe('Markdown the parser recovered from', () => {
  it('an unterminated code fence (or HTML comment) is a check error with FILE:LINE, and nothing runs', async () => {
    const fence = await runbookFile('unterminated', `${FRONT}\n# T\n\n## Steps\n\n\`\`\`sh {id=one}\necho one\n\`\`\`\n\n\`\`\`sh {id=two}\necho two\n\n## Rollback\n\nrm -rf "$HOME/important"\n`);
    const r = await run(['check', fence], {});
    expect(r.code).toBe(2);
    const line = readFileSync(fence, 'utf8').split('\n').indexOf('```sh {id=two}') + 1;
    expect(r.out).toContain(`unterminated.md:${line}: code fence \`\`\`sh is never closed`);
    const ran = await run(['run', fence, '--state-dir', join(work, 'never')], { SOURCE_URL: src.url(), TARGET_URL: tgt.url() });
    expect(ran.code).toBe(2);
    expect(existsSync(join(work, 'never', 'journal.jsonl'))).toBe(false);
    const comment = await runbookFile('unclosed-comment', `${FRONT}\n# T\n\n## Steps\n\n\`\`\`sql {on=target id=one}\nSELECT 1\n\`\`\`\n\n<!-- note to self\n\n## Rollback\n\n\`\`\`sql {on=target id=undo}\nSELECT 2\n\`\`\`\n`);
    const c = await run(['check', comment], {});
    expect(c.code).toBe(2);
    expect(c.out).toMatch(/unclosed-comment\.md:\d+: HTML comment "<!--" is never closed/);
  });
});

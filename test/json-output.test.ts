/**
 * `--json` on every command, through the built CLI against real servers: stdout is exactly one
 * document, and each success and each failure validates (strictly: a field too many or missing fails)
 * against the schema docs/json.md documents; the exit status is the code's; no password anywhere.
 * docs/json.md is what the schemas generate, and every --help ends with an example and the exit codes.
 */
import { readFileSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { execa } from 'execa';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { ERROR_CODES, type ErrorCode } from '../src/errors.js';
import { buildProgram } from '../src/cli/program.js';
import { ErrorDoc, JSON_COMMANDS, type JsonCommandName } from '../src/cli/json/index.js';
import { EXAMPLES, ERROR_EXAMPLE } from '../src/cli/json/examples.js';
import { renderJsonDocs } from '../src/cli/json/docs.js';
import { createSampleDatabase, freePort, startClusters, stopAllClusters, type Cluster } from '../src/testing/index.js';
import { CLI, cutover } from './helpers/cli.js';
import { FRONT, shippedRunbook, tempRunbook } from './helpers/runbook.js';

const SECRET = 'Json-Sekrit-41';
const WRONG = 'Wr0ng-Pw';
let src: Cluster, tgt: Cluster;
const work = () => mkdtemp(join(tmpdir(), 'cutover-json-'));

beforeAll(async () => {
  [src, tgt] = (await startClusters([{ password: SECRET }, { password: SECRET }])) as [Cluster, Cluster];
  await src.createDatabase('shop');
  await createSampleDatabase(src.url('shop'), { rows: 200 });
}, 120_000);
afterAll(() => stopAllClusters());

type Run = { code: number; stdout: string; stderr: string };
type Doc<C extends JsonCommandName> = z.output<(typeof JSON_COMMANDS)[C]['shape']>;
const seen = { success: new Set<string>(), failure: new Set<string>() };

/** The whole of stdout is one JSON document: JSON.parse refuses anything before or after it. */
function documentOf(r: Run): unknown {
  expect(r.stdout + r.stderr).not.toContain(SECRET);
  expect(r.stdout + r.stderr).not.toContain(WRONG);
  return JSON.parse(r.stdout);
}

function success<C extends JsonCommandName>(cmd: C, r: Run): Doc<C> {
  expect(r.code, `${cmd}: ${r.stderr}`).toBe(0);
  const doc = JSON_COMMANDS[cmd].shape.parse(documentOf(r)) as Doc<C>;
  expect(doc.ok).toBe(true);
  seen.success.add(cmd);
  return doc;
}

/** A failure that is the command's result: its own shape, ok false, the code and the exit status. */
function resultFailure<C extends JsonCommandName>(cmd: C, r: Run, code: ErrorCode, exit: number): Doc<C> {
  expect(r.code, `${cmd}: ${r.stderr}`).toBe(exit);
  const doc = JSON_COMMANDS[cmd].shape.parse(documentOf(r)) as Doc<C>;
  expect(doc).toMatchObject({ ok: false, code });
  seen.failure.add(cmd);
  return doc;
}

/** A failure before a result: the error document, with the exit status its code stands for. */
function errorDoc(cmd: JsonCommandName, r: Run, code: ErrorCode, exit: number = ERROR_CODES[code]): ErrorDoc {
  expect(r.code, `${cmd}: ${r.stderr}`).toBe(exit);
  const doc = ErrorDoc.parse(documentOf(r));
  expect(doc.code, doc.message).toBe(code);
  // The same message on stderr, as without --json (a signal's stop prints none).
  if (code !== 'E_INTERRUPTED') expect(r.stderr).toContain(doc.message.split('\n')[0]);
  seen.failure.add(cmd);
  return doc;
}

const env = (s: string, t: string) => ({ S: src.url(s), T: tgt.url(t) });
const conns = ['--source', 'env:S', '--target', 'env:T', '--json'];
/** A run whose process gets `signal` once `ready` matches its stderr, or after `ready` ms. */
async function signalled(args: string[], e: Record<string, string>, ready: RegExp | number, signal: NodeJS.Signals): Promise<Run> {
  const p = execa('node', [CLI, ...args], { reject: false, env: { CUTOVER_NO_TTY: '1', ...e } });
  let err = '';
  await new Promise<void>((resolve) => {
    p.stderr!.on('data', (d: Buffer) => { err += d.toString(); if (typeof ready !== 'number' && ready.test(err)) resolve(); });
    if (typeof ready === 'number') setTimeout(resolve, ready);
    void p.finally(() => resolve());
  });
  p.kill(signal);
  const r = await p;
  return { code: r.exitCode ?? -1, stdout: r.stdout as string, stderr: err + (r.stderr as string) };
}

describe('docs and help', () => {
  it('docs/json.md is what the schemas and examples generate, and every example validates', () => {
    expect(readFileSync(new URL('../docs/json.md', import.meta.url), 'utf8')).toBe(renderJsonDocs());
    ErrorDoc.parse(ERROR_EXAMPLE);
    for (const [cmd, list] of Object.entries(EXAMPLES)) {
      expect(list.length, cmd).toBeGreaterThan(0);
      for (const e of list) JSON_COMMANDS[cmd as JsonCommandName].shape.parse(e);
    }
  });

  it('every command has --json and a documented shape; every --help ends with an example and the exit codes', async () => {
    const leaves: string[] = [];
    const walk = (c: ReturnType<typeof buildProgram>, path: string[]) => {
      for (const sub of c.commands) {
        if (sub.commands.length) walk(sub, [...path, sub.name()]);
        else {
          leaves.push([...path, sub.name()].join(' '));
          expect(sub.options.map((o) => o.long), sub.name()).toContain('--json');
        }
      }
    };
    walk(buildProgram(), []);
    expect(leaves.sort()).toEqual(Object.keys(JSON_COMMANDS).sort());
    const helps = await Promise.all(leaves.map((l) => cutover([...l.split(' '), '--help'])));
    helps.forEach((h, i) => {
      expect(h.code, leaves[i]).toBe(0);
      expect(h.stdout, leaves[i]).toMatch(new RegExp(`\\nExample:\\n  cutover ${leaves[i]}( .*)?\\n(.*\\n)*?\\nExit codes:\\n(.*\\n)*  128\\+n +stopped by signal n.*\\s*$`));
    });
  });
});

describe('--json documents', () => {
  it('doctor, budget, check, render: success and failure', async () => {
    await tgt.createDatabase('doc');
    success('doctor', await cutover(['doctor', ...conns, '--copy-only'], env('shop', 'doc')));
    // A fence naming a role that does not exist: doctor's result is the failure.
    const d = resultFailure('doctor', await cutover(['doctor', ...conns, '--fence', 'revoke', '--role', 'no_such_role'], env('shop', 'doc')), 'E_PREFLIGHT', 4);
    expect(d.checks.some((c) => c.id === 'fence' && c.status === 'fail')).toBe(true);

    const b = success('budget', await cutover(['budget', ...conns], env('shop', 'doc')));
    expect(b.plan.length).toBeGreaterThan(3);
    errorDoc('budget', await cutover(['budget', '--source', 'env:CUTOVER_TEST_UNSET', '--target', 'env:T', '--json'], env('shop', 'doc')), 'E_USAGE');

    const smoke = await tempRunbook(shippedRunbook('ci-smoke.md'));
    const c = success('check', await cutover(['check', smoke.file, '--json']));
    expect(c.ok && c.steps.map((s) => s.id)).toContain('verify');
    expect(c.ok && c.connections.source).toEqual({ env: 'SOURCE_URL' });
    const broken = await tempRunbook(`${FRONT}\n## A\n\n\`\`\`cutover verify {id=v}\nlevel: deep\n\`\`\`\n\n\`\`\`sql {id=v}\nselect 1\n\`\`\`\n`);
    const p = resultFailure('check', await cutover(['check', broken.file, '--json']), 'E_RUNBOOK', 2);
    expect(!p.ok && p.problems.length).toBeGreaterThanOrEqual(2);
    expect(!p.ok && p.problems.every((x) => x.file === basename(broken.file) && x.line > 7)).toBe(true);

    const md = success('render', await cutover(['render', smoke.file, '--json']));
    expect(md.text).toMatch(/^# /);
    const out = join(smoke.dir, 'checklist.html');
    const html = success('render', await cutover(['render', smoke.file, '--format', 'html', '-o', out, '--json']));
    expect(html).toMatchObject({ output: out, timings: null });
    expect(html.text).toBeUndefined();
    expect(readFileSync(out, 'utf8')).toMatch(/<html/i);
    errorDoc('render', await cutover(['render', join(smoke.dir, 'nope.md'), '--json']), 'E_USAGE');
  });

  it('dump, restore, sql-file, wait-for, copy, verify: success and failure; a signal mid-copy ends with E_INTERRUPTED', async () => {
    const dir = join(await work(), 'dump');
    const dmp = success('dump', await cutover(['dump', '--source', 'env:S', '--dir', dir, '--json'], env('shop', 'x')));
    expect(dmp.tables).toBeGreaterThan(5);
    const port = await freePort();
    const down = `postgres://app:${SECRET}@127.0.0.1:${port}/shop?connect_timeout=2`;
    errorDoc('dump', await cutover(['dump', '--source', down, '--dir', join(dir, 'x'), '--json']), 'E_UNREACHABLE');

    await tgt.createDatabase('restored');
    const rs = success('restore', await cutover(['restore', '--target', 'env:T', '--dir', dir, '--json'], env('shop', 'restored')));
    expect(rs.sections.map((s) => s.section)).toEqual(['pre-data', 'data', 'post-data']);
    errorDoc('restore', await cutover(['restore', '--target', 'env:T', '--dir', join(dir, 'missing'), '--json'], env('shop', 'restored')), 'E_USAGE');

    // sql-file: the file's result, or the error naming its FILE:LINE (E_SQL, exit 6).
    const sqlDir = await work();
    await writeFile(join(sqlDir, 'ok.sql'), 'CREATE TABLE json_sql (id int);\n');
    await writeFile(join(sqlDir, 'bad.sql'), 'SELECT 1;\nSELECT no_such_column;\n');
    expect(success('sql-file', await cutover(['sql-file', '--file', join(sqlDir, 'ok.sql'), '--on', 'target', '--target', 'env:T', '--json'], env('shop', 'restored'))))
      .toMatchObject({ on: 'target', statements: 1 });
    expect(errorDoc('sql-file', await cutover(['sql-file', '--file', join(sqlDir, 'bad.sql'), '--on', 'target', '--target', 'env:T', '--json'], env('shop', 'restored')), 'E_SQL').message)
      .toMatch(/bad\.sql:2: /);
    // wait-for: true at once, or still false at the timeout (E_SQL, exit 6, its last value named).
    expect(success('wait-for', await cutover(['wait-for', '--on', 'target', '--sql', 'SELECT true', '--target', 'env:T', '--json'], env('shop', 'restored'))))
      .toMatchObject({ on: 'target', checks: 1 });
    expect(errorDoc('wait-for', await cutover(['wait-for', '--on', 'target', '--sql', 'SELECT 41 + 1', '--timeout', '1s', '--interval', '1s', '--target', 'env:T', '--json'], env('shop', 'restored')), 'E_SQL').message)
      .toMatch(/still false after 1s \(last value: 42\)/);

    await tgt.createDatabase('copied');
    const cp = success('copy', await cutover(['copy', ...conns, '--dir', join(await work(), 'copy')], env('shop', 'copied')));
    expect(cp.tables.length).toBeGreaterThan(5);

    // Level full: sequences, schema and privileges too.
    const same = success('verify', await cutover(['verify', ...conns, '--level', 'full'], env('shop', 'copied')));
    expect(same.ok && same.summary.rows).toBeGreaterThan(0);
    expect(same.privileges?.compared).toBeGreaterThan(0);
    await tgt.query(`UPDATE app.customers SET email = 'changed' WHERE id = 7`, [], 'copied');
    const v = resultFailure('verify', await cutover(['verify', ...conns], env('shop', 'copied')), 'E_DIFFERENCE', 5);
    expect(!v.ok && v.message).toMatch(/DIFFERENCES: 1 table/);

    // A copy waiting behind a lock, stopped by SIGTERM: the default stop's document.
    await tgt.createDatabase('locked');
    const holder = new pg.Client({ connectionString: src.url('shop') });
    await holder.connect();
    try {
      await holder.query('BEGIN; LOCK TABLE app.customers IN ACCESS EXCLUSIVE MODE');
      const r = await signalled(['copy', ...conns, '--dir', join(await work(), 'copy')], env('shop', 'locked'), /copy|pre-data|schema/i, 'SIGTERM');
      const e = errorDoc('copy', r, 'E_INTERRUPTED', 143);
      expect(e.message).toBe('stopped by SIGTERM');
    } finally {
      await holder.end();
    }
  });
});

describe('--json documents of runbooks and the demo', () => {
  it('rehearse and run: the task list on stderr, the document on stdout; a failed step and a refused resume', async () => {
    await tgt.createDatabase('smoke');
    const rbEnv = { SOURCE_URL: src.url('shop'), TARGET_URL: tgt.url('smoke') };
    const smoke = await tempRunbook(shippedRunbook('ci-smoke.md'));
    const r = await cutover(['rehearse', smoke.file, '--yes', '--state-dir', smoke.stateDir, '--json'], rbEnv);
    const reh = success('rehearse', r);
    expect(reh).toMatchObject({ mode: 'rehearse', outcome: 'ok', stateDir: smoke.stateDir, summary: join(smoke.stateDir, 'summary.json') });
    expect(reh.reports).toHaveLength(3);
    expect(reh.steps.find((x) => x.id === 'verify')).toMatchObject({ outcome: 'ok', action: 'verify' });
    expect(r.stderr).toMatch(/Copy and verify/);
    errorDoc('rehearse', await cutover(['rehearse', smoke.file, '--resume', '--state-dir', join(smoke.dir, 'none'), '--json'], rbEnv), 'E_USAGE');

    const one = await tempRunbook(`${FRONT}\n## Go\n\nCount the tables.\n\n\`\`\`sql {on=target id=count}\nselect count(*) from pg_class\n\`\`\`\n`);
    const ran = success('run', await cutover(['run', one.file, '--state-dir', one.stateDir, '--json'], rbEnv));
    expect(ran).toMatchObject({ mode: 'run', outcome: 'ok', rolledBack: false });
    expect(ran.reports).toBeUndefined();
    const bad = await tempRunbook(`${FRONT}\n## Go\n\n\`\`\`sql {on=target id=divide}\nselect 1/0\n\`\`\`\n`);
    const f = resultFailure('run', await cutover(['run', bad.file, '--state-dir', bad.stateDir, '--json'], rbEnv), 'E_SQL', 6);
    expect(!f.ok && f.message).toMatch(/22012|division by zero/);
    expect(f.steps).toEqual([expect.objectContaining({ id: 'divide', outcome: 'failed' })]);
  });

  it('demo: what it measured; a server version that does not exist', async () => {
    const out = join(await work(), 'demo');
    const d = success('demo', await cutover(['demo', '--rows', '200', '--writers', '1', '--out', out, '--json'], { CUTOVER_DEMO_PASSWORD: SECRET }));
    expect(d).toMatchObject({ outcome: 'ok', outDir: out, rollback: { verify: 'verify incremental: identical' } });
    expect(d.writeOutageMs).toBeGreaterThan(0);
    expect(readFileSync(d.files.summary, 'utf8')).not.toContain(SECRET);
    errorDoc('demo', await cutover(['demo', '--source-version', '9', '--json']), 'E_HARNESS');
  });
});

describe('--json documents of replicate', () => {
  it('start, apply, status, cutover --window, apply --reverse, rollback, finish, unfence, teardown', async () => {
    await src.createDatabase('live');
    await createSampleDatabase(src.url('live'), { rows: 200 });
    await tgt.createDatabase('live');
    const e = env('live', 'live');
    const started = success('replicate start', await cutover(['replicate', 'start', '--source', 'env:S', '--json'], e));
    expect(started.tables.find((t) => t.schema === 'app' && t.name === 'customers')).toEqual({ schema: 'app', name: 'customers', key: ['id'], keySource: 'primary key' });
    const wrongPw = src.url('live').replace(encodeURIComponent(SECRET), WRONG);
    errorDoc('replicate start', await cutover(['replicate', 'start', '--source', 'env:S', '--json'], { S: wrongPw }), 'E_AUTH');
    expect((await cutover(['copy', '--source', 'env:S', '--target', 'env:T', '--dir', join(await work(), 'c')], e)).code).toBe(0);
    // Before any window: the commands of one are refused.
    errorDoc('replicate rollback', await cutover(['replicate', 'rollback', ...conns], e), 'E_NOT_STARTED');

    await src.query(`UPDATE app.customers SET email = email || '.x' WHERE id <= 5`, [], 'live');
    const applied = success('replicate apply', await cutover(['replicate', 'apply', ...conns, '--until-caught-up'], e));
    expect(applied).toMatchObject({ direction: 'forward' });
    expect(applied.events).toBeGreaterThanOrEqual(5);
    // A follow ends by a signal: the totals, ok false, exit 143.
    const stopped = resultFailure('replicate apply', await signalled(['replicate', 'apply', ...conns], e, 2000, 'SIGTERM'), 'E_INTERRUPTED', 143);
    expect(stopped).toMatchObject({ stoppedBy: 'SIGTERM', direction: 'forward' });
    expect(success('replicate status', await cutover(['replicate', 'status', ...conns], e))).toMatchObject({ installed: true, direction: 'forward' });

    const cut = success('replicate cutover', await cutover(['replicate', 'cutover', ...conns, '--window'], e));
    expect(cut.verify).toMatchObject({ level: 'checksums', ok: true });
    expect(cut.window?.tables).toBeGreaterThan(5);
    await tgt.query(`UPDATE app.customers SET email = email || '.y' WHERE id <= 3`, [], 'live');
    expect(success('replicate apply', await cutover(['replicate', 'apply', ...conns, '--reverse', '--until-caught-up'], e))).toMatchObject({ direction: 'reverse' });
    expect(success('replicate status', await cutover(['replicate', 'status', ...conns], e))).toMatchObject({ direction: 'reverse', window: expect.any(Object) });
    const back = success('replicate rollback', await cutover(['replicate', 'rollback', ...conns], e));
    expect(back).toMatchObject({ already: false, verify: { ok: true } });
    expect(success('replicate rollback', await cutover(['replicate', 'rollback', ...conns], e))).toMatchObject({ already: true });
    success('replicate finish', await cutover(['replicate', 'finish', ...conns], e));
    errorDoc('replicate finish', await cutover(['replicate', 'finish', ...conns], { S: src.url('live'), T: tgt.url('live').replace(encodeURIComponent(SECRET), WRONG) }), 'E_AUTH');
    // The rollback left the new server fenced: unfence lifts it there.
    const lifted = success('replicate unfence', await cutover(['replicate', 'unfence', '--source', 'env:T', '--json'], e));
    expect(lifted.tables).toBeGreaterThan(5);
    const port = await freePort();
    errorDoc('replicate unfence', await cutover(['replicate', 'unfence', '--source', `postgres://x:${SECRET}@127.0.0.1:${port}/live?connect_timeout=2`, '--json']), 'E_UNREACHABLE');
    success('replicate teardown', await cutover(['replicate', 'teardown', ...conns], e));
    errorDoc('replicate teardown', await cutover(['replicate', 'teardown', ...conns], { S: wrongPw, T: tgt.url('live') }), 'E_AUTH');
    // Capture is gone: a cutover is refused before anything.
    errorDoc('replicate cutover', await cutover(['replicate', 'cutover', ...conns], e), 'E_NOT_STARTED');
  });

  it('a schema change halts replication: apply fails with E_HALTED, status reports it (exit 7)', async () => {
    await src.createDatabase('ddl');
    await tgt.createDatabase('ddl');
    await src.query('CREATE TABLE t (id int PRIMARY KEY, v int); INSERT INTO t SELECT g, g FROM generate_series(1, 3) g', [], 'ddl');
    const e = env('ddl', 'ddl');
    success('replicate start', await cutover(['replicate', 'start', '--source', 'env:S', '--json'], e));
    expect((await cutover(['copy', '--source', 'env:S', '--target', 'env:T', '--dir', join(await work(), 'c')], e)).code).toBe(0);
    await src.query('ALTER TABLE t ADD COLUMN w int; INSERT INTO t VALUES (4, 4, 4)', [], 'ddl');
    errorDoc('replicate apply', await cutover(['replicate', 'apply', ...conns, '--until-caught-up'], e), 'E_HALTED');
    const st = resultFailure('replicate status', await cutover(['replicate', 'status', ...conns], e), 'E_HALTED', 7);
    expect(st.applied?.halted).toBeTruthy();
  });
});

describe('coverage', () => {
  it('every command\'s success and failure documents were validated above', () => {
    const all = Object.keys(JSON_COMMANDS);
    expect(all.filter((c) => !seen.success.has(c))).toEqual([]);
    expect(all.filter((c) => !seen.failure.has(c))).toEqual([]);
  });
});

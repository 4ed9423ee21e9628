/**
 * The operations registry (src/runbook/actions): each operation declares its endpoints and connection
 * demand, the report's side and the budget's plan come from there, the documentation's action table is
 * generated from it, and a new operation is one module plus its test (sql-file, against a real server).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { startClusters, stopAllClusters, type Cluster } from '../src/testing/index.js';
import { ACTIONS } from '../src/runbook/actions/index.js';
import { endpointsOf } from '../src/runbook/actions/types.js';
import { withActionsTable } from '../src/runbook/actions/doc-table.js';
import { loadRunbook } from '../src/runbook/parse.js';
import { sideOf } from '../src/runbook/timings.js';
import { cutover } from './helpers/cli.js';
import { FRONT, tempRunbook } from './helpers/runbook.js';

describe('the operations registry', () => {
  it('every operation declares its endpoints; checks only read; an operation with jobs declares its demand', () => {
    expect(ACTIONS.size).toBeGreaterThanOrEqual(15);
    for (const a of ACTIONS.values()) {
      const shape = (a.schema as unknown as z.ZodObject).shape as Record<string, unknown>;
      if (typeof a.endpoints === 'function') expect(a.endpointsText, a.name).toBeTruthy();
      else {
        expect(Object.keys(a.endpoints).length, a.name).toBeGreaterThan(0);
        if (a.readOnly) expect(Object.values(a.endpoints).every((u) => u === 'read'), a.name).toBe(true);
      }
      if ('jobs' in shape) expect(a.demand, `${a.name} has jobs but no demand`).toBeDefined();
    }
  });

  it('docs/runbook-format.md\'s action table is the registry\'s (npm run actions-docs)', () => {
    const doc = readFileSync(new URL('../docs/runbook-format.md', import.meta.url), 'utf8');
    expect(doc).toBe(withActionsTable(doc));
    for (const name of ACTIONS.keys()) expect(doc).toContain(`| \`${name}\` |`);
  });

  it('a step\'s side in the report is what its operation declares, with its options', async () => {
    const rb = await tempRunbook(`${FRONT}\n# T\n\n## Steps\n\n` + [
      '```cutover dump {id=d}\njobs: 1\n```', '```cutover restore {id=r}\njobs: 1\n```', '```cutover copy {id=c}\njobs: 1\n```',
      '```cutover wait-for {id=w}\nsql: select true\non: target\n```', '```cutover sql-file {id=f}\nfile: x.sql\non: source\n```', '```cutover replicate-start {id=s}\n```',
    ].join('\n\n') + '\n');
    const steps = (await loadRunbook(rb.file)).steps;
    expect(Object.fromEntries(steps.map((s) => [s.id, sideOf(s)]))).toEqual({ d: 'source', r: 'target', c: 'both', w: 'target', f: 'source', s: 'source' });
    expect(endpointsOf(ACTIONS.get('wait-for')!, steps.find((s) => s.id === 'w')!.options)).toEqual({ target: 'read' });
  });
});

describe('sql-file (a new operation: one module plus this test)', () => {
  let c: Cluster;
  let env: Record<string, string>;
  beforeAll(async () => {
    [c] = (await startClusters([{ version: 15 }])) as [Cluster];
    await c.createDatabase('app');
    env = { SOURCE_URL: c.url('app'), TARGET_URL: c.url('app') };
  }, 180_000);
  afterAll(() => stopAllClusters());

  it('runs the file beside the runbook on the named side; a failing statement is named by FILE:LINE and nothing of the file is committed', async () => {
    const ok = await tempRunbook(`${FRONT}\n# T\n\n## Steps\n\nAdd the audit table.\n\n\`\`\`cutover sql-file {id=audit}\nfile: sql/audit.sql\non: target\n\`\`\`\n`);
    await mkdir(join(ok.dir, 'sql'));
    await writeFile(join(ok.dir, 'sql', 'audit.sql'), `-- the audit table\nCREATE TABLE "Audit ""Log""" (id int PRIMARY KEY, at timestamptz DEFAULT now());\nINSERT INTO "Audit ""Log""" (id) VALUES (1), (2);\n`);
    const r = await cutover(['run', ok.file, '--state-dir', ok.stateDir, '--yes'], env);
    expect(r.code, r.stderr).toBe(0);
    expect((await c.query<{ n: number }>(`SELECT count(*)::int AS n FROM "Audit ""Log"""`, [], 'app')).rows[0]!.n).toBe(2);
    const journal = readFileSync(join(ok.stateDir, 'journal.jsonl'), 'utf8');
    expect(journal).toMatch(/ran [^"]*audit\.sql on the target/);

    const bad = await tempRunbook(`${FRONT}\n# T\n\n## Steps\n\nA broken migration.\n\n\`\`\`cutover sql-file {id=broken}\nfile: broken.sql\non: source\n\`\`\`\n`);
    await writeFile(join(bad.dir, 'broken.sql'), `CREATE TABLE half_done (id int);\n\nINSERT INTO half_done VALUES (1);\nSELECT * FROM no_such_table;\n`);
    const f = await cutover(['run', bad.file, '--state-dir', bad.stateDir, '--yes'], env);
    expect(f.code).not.toBe(0);
    expect(f.stderr).toMatch(/broken\.sql:4: relation "no_such_table" does not exist \(SQLSTATE 42P01\); the file ran as one transaction: none of it was committed/);
    expect((await c.query<{ r: string | null }>(`SELECT to_regclass('half_done')::text AS r`, [], 'app')).rows[0]!.r).toBeNull();
    // Which step failed, where in the runbook, and the way on.
    expect(f.stderr).toMatch(/step "broken" \(.*runbook\.md:\d+\) failed; fix the cause, then `cutover run .*runbook\.md --resume`/);

    // A file that is not there: a clear error before anything runs on the server.
    const missing = await tempRunbook(`${FRONT}\n# T\n\n## Steps\n\nMissing.\n\n\`\`\`cutover sql-file {id=missing}\nfile: nowhere.sql\non: target\n\`\`\`\n`);
    const m = await cutover(['run', missing.file, '--state-dir', missing.stateDir, '--yes'], env);
    expect(m.code).not.toBe(0);
    expect(m.stderr).toMatch(/sql-file: cannot read .*nowhere\.sql/);
    // `check` refuses a file that is not .sql, by FILE:LINE of the runbook.
    const wrong = await tempRunbook(`${FRONT}\n# T\n\n## Steps\n\nWrong.\n\n\`\`\`cutover sql-file {id=wrong}\nfile: notes.txt\non: target\n\`\`\`\n`);
    const w = await cutover(['check', wrong.file], env);
    expect(w.code).not.toBe(0);
    expect(w.stderr).toMatch(/runbook\.md:\d+: .*file.*must name a \.sql file/);
  });

  it('as a command (generated from the registry): the same run, its --json document, FILE:LINE and exit 6 on a failing statement', async () => {
    const dir = (await tempRunbook('')).dir;
    await writeFile(join(dir, 'seed.sql'), 'CREATE TABLE cli_seeded (id int);\nINSERT INTO cli_seeded VALUES (1);\n');
    const r = await cutover(['sql-file', '--file', join(dir, 'seed.sql'), '--on', 'target', '--target', 'env:TARGET_URL', '--json'], env);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: true, on: 'target', statements: 2 });
    expect((await c.query<{ n: number }>('SELECT count(*)::int AS n FROM cli_seeded', [], 'app')).rows[0]!.n).toBe(1);
    // Only the side it runs on is needed.
    await writeFile(join(dir, 'bad.sql'), 'INSERT INTO cli_seeded VALUES (2);\nSELECT nope;\n');
    const f = await cutover(['sql-file', '--file', join(dir, 'bad.sql'), '--on', 'source', '--source', 'env:SOURCE_URL'], env);
    expect(f.code).toBe(6);
    expect(f.stderr).toMatch(/bad\.sql:2: column "nope" does not exist \(SQLSTATE 42703\); the file ran as one transaction/);
    expect((await c.query<{ n: number }>('SELECT count(*)::int AS n FROM cli_seeded', [], 'app')).rows[0]!.n).toBe(1);
  });
});

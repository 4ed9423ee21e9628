/**
 * Named endpoints: a runbook's front matter may name connections beside source and target (a reporting
 * database, a second target), and its steps use them by name: `sql {on=reporting}`, `cutover sql-file`
 * and `cutover wait-for` with `on: reporting`, `$REPORTING_URL` in a sh step. Each reaches that database
 * and no other; an undeclared or badly named endpoint is refused by `cutover check` before anything runs;
 * its password appears in nothing the run leaves behind.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync, readdirSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startClusters, stopAllClusters, type Cluster } from '../src/testing/index.js';
import { cutover } from './helpers/cli.js';
import { tempRunbook } from './helpers/runbook.js';

let a: Cluster, b: Cluster, r: Cluster;
let env: Record<string, string>;

beforeAll(async () => {
  [a, b, r] = (await startClusters([{ version: 15, password: 'pw-a-secret' }, { version: 15, password: 'pw-b-secret' }, { version: 15, password: 'pw-reporting-secret' }])) as [Cluster, Cluster, Cluster];
  for (const c of [a, b, r]) {
    await c.createDatabase('app');
    await c.query('CREATE TABLE audit (n serial, what text)', [], 'app');
  }
  env = { SOURCE_URL: a.url('app'), TARGET_URL: b.url('app'), REPORTING_URL: r.url('app') };
});
afterAll(() => stopAllClusters());

const front = (extra: string, rehearsal = '') => `---
name: named endpoints
connections:
  source: env:SOURCE_URL
  target: env:TARGET_URL
${extra}${rehearsal}---
`;
const audit = async (c: Cluster) => (await c.query<{ what: string }>('SELECT what FROM audit ORDER BY n', [], 'app')).rows.map((x) => x.what);

describe('named endpoints', () => {
  it('sql, sql-file, wait-for and sh steps reach the endpoint they name and no other; nothing keeps its password', async () => {
    const rb = await tempRunbook(`${front('  reporting: env:REPORTING_URL\n')}
# T

## Report

\`\`\`sql {on=reporting id=sql}
INSERT INTO audit (what) VALUES ('sql step');
\`\`\`

\`\`\`cutover sql-file {id=file}
file: mark.sql
on: reporting
\`\`\`

\`\`\`sh {id=shell}
psql -XAtc "INSERT INTO audit (what) VALUES ('sh step')" "$REPORTING_URL"
echo "reporting at $REPORTING_URL"
\`\`\`

\`\`\`cutover wait-for {id=wait}
sql: SELECT count(*) = 3 FROM audit
on: reporting
timeout: 10s
interval: 1s
\`\`\`

\`\`\`sql {on=target id=tgt}
INSERT INTO audit (what) VALUES ('target step');
\`\`\`
`);
    await writeFile(join(rb.dir, 'mark.sql'), `INSERT INTO audit (what) VALUES ('sql-file step');\n`);
    const check = await cutover(['check', rb.file, '--json']);
    expect(check.code, check.stderr).toBe(0);
    const doc = JSON.parse(check.stdout) as { connections: { named?: Record<string, { env?: string }> }; steps: { id: string; on?: string }[] };
    expect(doc.connections.named).toEqual({ reporting: { env: 'REPORTING_URL' } });
    expect(doc.steps.find((s) => s.id === 'sql')!.on).toBe('reporting');

    const run = await cutover(['run', rb.file, '--state-dir', rb.stateDir], env);
    expect(run.code, run.stderr).toBe(0);
    expect(await audit(r)).toEqual(['sql step', 'sql-file step', 'sh step']);
    expect(await audit(b)).toEqual(['target step']);
    expect(await audit(a)).toEqual([]);
    // The sh step got the reporting URL without its password (that is in a passfile the step's end removes).
    const log = readFileSync(join(rb.stateDir, 'logs', 'shell.log'), 'utf8');
    expect(log).toMatch(/reporting at postgres:\/\/[^\s]*:\d+\/app/);
    const left = [run.stdout, run.stderr, ...readdirSync(rb.stateDir, { recursive: true, withFileTypes: true })
      .filter((d) => d.isFile()).map((d) => readFileSync(join(d.parentPath, d.name), 'utf8'))];
    for (const text of left) {
      expect(text).not.toContain('pw-reporting-secret');
      expect(text).not.toContain('pw-a-secret');
    }
  });

  it('an endpoint a step names but the front matter does not declare, a bad name, or one missing from the rehearsal is refused before anything runs', async () => {
    const undeclared = await tempRunbook(`${front('')}\n# T\n\n## One\n\n\`\`\`sql {on=reporting}\nINSERT INTO audit (what) VALUES ('never');\n\`\`\`\n\n\`\`\`cutover sql-file\nfile: x.sql\non: archive\n\`\`\`\n`);
    const c1 = await cutover(['check', undeclared.file]);
    expect(c1.code).toBe(2);
    expect(c1.stderr).toMatch(/:\d+: sql \{on=reporting\}: the front matter declares no endpoint "reporting" .*: add connections: \{ reporting: env:REPORTING_URL \}/);
    expect(c1.stderr).toMatch(/:\d+: cutover sql-file: on: the front matter declares no endpoint "archive"/);
    const run = await cutover(['run', undeclared.file, '--state-dir', undeclared.stateDir], env);
    expect(run.code).toBe(2);
    expect(await audit(r)).not.toContain('never');

    // A typo of a declared endpoint is named with the declared one.
    const typo = await tempRunbook(`${front('  reporting: env:REPORTING_URL\n')}\n# T\n\n## One\n\n\`\`\`sql {on=reportng}\nSELECT 1;\n\`\`\`\n`);
    const c0 = await cutover(['check', typo.file]);
    expect(c0.code).toBe(2);
    expect(c0.stderr).toMatch(/sql \{on=reportng\}: the front matter declares no endpoint "reportng" .*; did you mean "reporting"\?/);

    const badName = await tempRunbook(`${front('  Reporting: env:REPORTING_URL\n')}\n# T\n\n## One\n\n\`\`\`sql {on=target}\nSELECT 1;\n\`\`\`\n`);
    const c2 = await cutover(['check', badName.file]);
    expect(c2.code).toBe(2);
    expect(c2.stderr).toMatch(/connections\.Reporting: an endpoint's name is lower case letters/);

    const noRehearsal = await tempRunbook(front('  reporting: env:REPORTING_URL\n', '  rehearsal:\n    source: env:SOURCE_URL\n    target: env:TARGET_URL\n') + `\n# T\n\n## One\n\n\`\`\`sql {on=reporting}\nSELECT 1;\n\`\`\`\n`);
    const c3 = await cutover(['check', noRehearsal.file]);
    expect(c3.code).toBe(2);
    expect(c3.stderr).toMatch(/connections\.reporting: declared for the run but not under connections\.rehearsal/);
  });

  it('the command line knows source and target: sql-file --on with another name says where named endpoints live', async () => {
    const rb = await tempRunbook(`${front('')}`);
    await writeFile(join(rb.dir, 'x.sql'), 'SELECT 1;\n');
    const c = await cutover(['sql-file', '--file', join(rb.dir, 'x.sql'), '--on', 'reporting'], env);
    expect(c.code).toBe(2);
    expect(c.stderr).toMatch(/no endpoint named reporting/);
    expect(c.stderr).toMatch(/named endpoints are a runbook's/);
  });
});

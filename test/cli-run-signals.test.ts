import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { startClusters, stopAllClusters, type Cluster } from '../src/testing/index.js';
import { CLI } from './helpers/cli.js';
import { FRONT, tempRunbook } from './helpers/runbook.js';

// The CLI owns the process's signals (src/cli/run-session.ts); the library run only sees AbortSignals.
// A step that ignores the signal: a second signal ends the run at once, journaled; otherwise its process
// group is killed and the run ends by itself.
let c: Cluster;
let env: Record<string, string>;
beforeAll(async () => {
  [c] = (await startClusters([{ version: 15 }])) as [Cluster];
  await c.createDatabase('app');
  env = { SOURCE_URL: c.url('app'), TARGET_URL: c.url('app'), CUTOVER_NO_TTY: '1' };
});
afterAll(() => stopAllClusters());

type J = { event: string; id?: string; outcome?: string; signal?: string };
const journalOf = (dir: string): J[] => (existsSync(join(dir, 'journal.jsonl'))
  ? readFileSync(join(dir, 'journal.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as J) : []);

async function started(dir: string, id: string): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (journalOf(dir).some((e) => e.event === 'step-start' && e.id === id)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`step ${id} did not start`);
}

const STUBBORN = `${FRONT}\n# T\n\n## Steps\n\n\`\`\`sh {id=stubborn}\ntrap '' INT TERM HUP; sleep 60\n\`\`\`\n`;

describe('cutover run: a step that ignores the graceful stop', () => {
  it('a second SIGINT stops at once: the step and the run journaled as interrupted, exit 130', async () => {
    const rb = await tempRunbook(STUBBORN);
    const child = execa('node', [CLI, 'run', rb.file, '--state-dir', rb.stateDir], { env, extendEnv: true, reject: false, forceKillAfterDelay: false });
    await started(rb.stateDir, 'stubborn');
    const t0 = Date.now();
    child.kill('SIGINT');
    await new Promise((r) => setTimeout(r, 500));
    child.kill('SIGINT');
    const r = await child;
    expect(r.exitCode, r.stderr).toBe(130);
    expect(Date.now() - t0).toBeLessThan(9000);
    expect(r.stderr).toContain('interrupted: cancelling the running step(s) (SIGINT); send it again (Ctrl-C) to stop at once');
    const j = journalOf(rb.stateDir);
    expect(j.find((e) => e.event === 'step-end' && e.id === 'stubborn')?.outcome).toBe('interrupted');
    expect(j.at(-1)).toMatchObject({ event: 'run-end', outcome: 'interrupted', signal: 'SIGINT' });
  });

  it('one SIGTERM: the step\'s process group is ended (killed, as it ignores the signal), the run ends by itself before the 10 s, exit 143', async () => {
    const rb = await tempRunbook(STUBBORN);
    const child = execa('node', [CLI, 'run', rb.file, '--state-dir', rb.stateDir], { env, extendEnv: true, reject: false, forceKillAfterDelay: false });
    await started(rb.stateDir, 'stubborn');
    const t0 = Date.now();
    child.kill('SIGTERM');
    const r = await child;
    expect(r.exitCode, r.stderr).toBe(143);
    expect(Date.now() - t0).toBeLessThan(9500);
    const j = journalOf(rb.stateDir);
    expect(j.find((e) => e.event === 'step-end' && e.id === 'stubborn')?.outcome).toBe('interrupted');
    expect(j.at(-1)).toMatchObject({ event: 'run-end', outcome: 'interrupted', signal: 'SIGTERM' });
    expect(j.filter((e) => e.event === 'run-end')).toHaveLength(1);
  }, 40_000);
});

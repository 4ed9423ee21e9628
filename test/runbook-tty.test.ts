import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startClusters, stopAllClusters, type Cluster } from '../src/testing/index.js';
import { CLI } from './helpers/cli.js';
import { tempRunbook } from './helpers/runbook.js';

// `script` (util-linux) gives the CLI a pseudo-terminal, so the live renderer and the prompt are used.
let c: Cluster;
beforeAll(async () => { [c] = (await startClusters([{ version: 15 }])) as [Cluster]; });
afterAll(() => stopAllClusters());

async function onTerminal(file: string, stateDir: string, answer: string) {
  const child = execa('script', ['-qec', `stty cols 120 rows 40; node ${CLI} run ${file} --state-dir ${stateDir}`, '/dev/null'],
    { env: { SOURCE_URL: c.url(), TARGET_URL: c.url(), TERM: 'xterm' }, reject: false, stdin: 'pipe' });
  let out = '';
  let answered = false;
  child.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
    if (!answered && /done\?/.test(out)) {
      answered = true;
      setTimeout(() => child.stdin!.write(answer), 200);
    }
  });
  const r = await child;
  return { code: r.exitCode, out, answered };
}

const RB = `---\nname: tty\nconnections:\n  source: env:SOURCE_URL\n  target: env:TARGET_URL\n---\n# T\n\n## Steps\n\n- [ ] Tell the team.\n\n\`\`\`sql {on=target id=q}\nselect 1\n\`\`\`\n`;

describe('cutover run on a terminal', () => {
  it('asks for manual steps, renders a live task list, and goes on when confirmed', async () => {
    const rb = await tempRunbook(RB);
    const r = await onTerminal(rb.file, rb.stateDir, 'y\r');
    expect(r.answered).toBe(true);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/Tell the team\.: done\?/);
    expect(r.out).toMatch(/\x1b\[1A/); // the live view redraws lines in place
    const j = readFileSync(join(rb.stateDir, 'journal.jsonl'), 'utf8');
    expect(j).toMatch(/"event":"step-end","at":"[^"]+","id":"q".*"outcome":"ok"/);
  });

  it('stops when a manual step is not confirmed', async () => {
    const rb = await tempRunbook(RB);
    const r = await onTerminal(rb.file, rb.stateDir, 'n\r');
    expect(r.answered).toBe(true);
    expect(r.code).toBe(2);
    expect(r.out).toMatch(/manual step "Tell the team\." was not confirmed/);
    expect(readFileSync(join(rb.stateDir, 'journal.jsonl'), 'utf8')).not.toMatch(/"id":"q"/);
  });
});

describe('cutover run | tee night.log with a person at the terminal', () => {
  it('asks on the terminal (/dev/tty) while the output goes down the pipe, and goes on when confirmed', async () => {
    const rb = await tempRunbook(RB);
    const log = join(rb.stateDir, '..', 'night.log');
    const child = execa('script', ['-qec', `bash -o pipefail -c 'stty cols 120 rows 40; node ${CLI} run ${rb.file} --state-dir ${rb.stateDir} | tee ${log} > /dev/null'`, '/dev/null'],
      { env: { SOURCE_URL: c.url(), TARGET_URL: c.url(), TERM: 'xterm', CUTOVER_NO_TTY: undefined }, extendEnv: true, reject: false, stdin: 'pipe' });
    let out = '';
    let answered = false;
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (!answered && /Tell the team\.: done\? \(Y\/n\)/.test(out)) {
        answered = true;
        setTimeout(() => child.stdin!.write('y\r'), 200);
      }
    });
    const r = await child;
    expect(answered, out).toBe(true);
    expect(r.exitCode, out).toBe(0);
    // The run's own output went to the pipe (plain lines), not to the terminal.
    const piped = readFileSync(log, 'utf8');
    expect(piped).toMatch(/Tell the team\./);
    expect(piped).not.toMatch(/\x1b\[1A/);
    expect(out).not.toMatch(/summary\.json/);
    expect(readFileSync(join(rb.stateDir, 'journal.jsonl'), 'utf8')).toMatch(/"event":"step-end","at":"[^"]+","id":"q".*"outcome":"ok"/);
  });
});

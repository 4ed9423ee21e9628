import { readFileSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Writes a runbook into a fresh temp dir and returns its path and a state dir beside it. */
export async function tempRunbook(text: string): Promise<{ file: string; stateDir: string; dir: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'cutover-rb-'));
  const file = join(dir, 'runbook.md');
  await writeFile(file, text);
  return { file, stateDir: join(dir, 'state'), dir };
}

export const FRONT = `---
name: test runbook
connections:
  source: env:SOURCE_URL
  target: env:TARGET_URL
  rehearsal:
    source: env:SOURCE_URL
    target: env:TARGET_URL
downtime_budget: 1 min
max_parallel: 2
---
`;

/** The text of a runbook shipped in runbooks/. */
export function shippedRunbook(name: string): string {
  return readFileSync(new URL(`../../runbooks/${name}`, import.meta.url), 'utf8');
}

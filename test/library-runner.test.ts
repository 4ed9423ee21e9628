import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startClusters, stopAllClusters, type Cluster } from '../src/testing/index.js';
// The package's public API (src/index.ts), as a library user imports it.
import { loadRunbook, resolveEndpoint, RunEmitter, RunInterruptedError, runRunbook, type ConfirmRequest, type Endpoint, type RunEvents } from '../src/index.js';
import { FRONT, tempRunbook } from './helpers/runbook.js';

// The library API of a run: it reports through events, asks through its confirm hook, and stops on its
// AbortSignal; it never writes to stdout/stderr, never prompts and never exits the process.
let src: Cluster, tgt: Cluster;
let source: Endpoint, target: Endpoint;

beforeAll(async () => {
  [src, tgt] = (await startClusters([{ version: 15 }, { version: 15 }])) as [Cluster, Cluster];
  await src.createDatabase('app');
  await tgt.createDatabase('app');
  source = await resolveEndpoint(src.params('app'));
  target = await resolveEndpoint(tgt.params('app'));
});
afterAll(() => stopAllClusters());

type Seen = { [K in keyof RunEvents]: { name: K; e: RunEvents[K] } }[keyof RunEvents];

function record(events: RunEmitter): Seen[] {
  const seen: Seen[] = [];
  for (const name of ['run-start', 'run-end', 'phase', 'step-start', 'step-skip', 'progress', 'note', 'warning', 'budget', 'step-end', 'rollback', 'interrupt'] as const) {
    events.on(name, (e) => seen.push({ name, e } as Seen));
  }
  return seen;
}

/** Spies on everything that could print or end the process while `fn` runs. */
async function silently<T>(fn: () => Promise<T>): Promise<{ value: T; writes: unknown[][]; exits: unknown[][] }> {
  const out = vi.spyOn(process.stdout, 'write');
  const err = vi.spyOn(process.stderr, 'write');
  const logs = (['log', 'info', 'warn', 'error'] as const).map((m) => vi.spyOn(console, m));
  const exit = vi.spyOn(process, 'exit').mockImplementation(((code?: number) => { throw new Error(`process.exit(${code})`); }) as never);
  try {
    const value = await fn();
    return { value, writes: [...out.mock.calls, ...err.mock.calls, ...logs.flatMap((l) => l.mock.calls)], exits: exit.mock.calls };
  } finally {
    for (const s of [out, err, ...logs, exit]) s.mockRestore();
  }
}

describe('runRunbook as a library', () => {
  it('emits step events in order, asks the confirm hook for a manual step, and prints nothing', async () => {
    const rb = await tempRunbook(`${FRONT}\n# T\n\n## Steps\n\n- [ ] Tell the team.\n\n\`\`\`sh {id=chatty}\necho one\necho two\n\`\`\`\n\n\`\`\`sql {on=target id=q}\nselect 42 as answer\n\`\`\`\n`);
    const events = new RunEmitter();
    const seen = record(events);
    const asked: ConfirmRequest[] = [];
    const { value: r, writes, exits } = await silently(async () => runRunbook({
      runbook: await loadRunbook(rb.file), mode: 'run', source, target, stateDir: rb.stateDir, events,
      confirm: async (q) => { asked.push(q); return 'yes'; },
    }));
    expect(r.outcome, String(r.error)).toBe('ok');
    expect(writes).toEqual([]);
    expect(exits).toEqual([]);
    expect(asked.map((q) => q.kind === 'manual' && q.message)).toEqual(['Tell the team.: done?']);

    const manual = r.summary.steps[0]!.id;
    const order = seen.filter((s) => s.name !== 'budget').map((s) => s.name === 'phase' ? `phase ${s.e.phase}`
      : s.name === 'step-start' ? `start ${s.e.step.id}` : s.name === 'step-end' ? `end ${s.e.step.id} ${s.e.outcome}`
        : s.name === 'note' ? `note ${s.e.stepId}: ${s.e.text}` : s.name);
    expect(order).toEqual(['run-start', 'phase Steps', `start ${manual}`, `end ${manual} ok`, 'start chatty', 'note chatty: one', 'note chatty: two', 'end chatty ok',
      'start q', 'note q: answer=42', 'end q ok', 'run-end']);
    const end = seen.find((s) => s.name === 'step-end' && s.e.step.id === 'q');
    expect(end?.name === 'step-end' && end.e.outputs?.summary).toBe('answer=42');
    // The step log subscribes to the same notes.
    expect(readFileSync(join(rb.stateDir, 'logs', 'chatty.log'), 'utf8')).toMatch(/^\S+ two$/m);
  });

  it('fails a manual step nobody can confirm (no hook, no yes) instead of prompting', async () => {
    const rb = await tempRunbook(`${FRONT}\n# T\n\n## Steps\n\n- [ ] Tell the team.\n`);
    const { value: r, writes } = await silently(async () => runRunbook({ runbook: await loadRunbook(rb.file), mode: 'run', source, target, stateDir: rb.stateDir }));
    expect(r.outcome).toBe('failed');
    expect(String(r.error)).toMatch(/manual step "Tell the team\." needs a confirmation/);
    expect(writes).toEqual([]);
  });

  it('ends with a typed error when its signal aborts, journaled, without process.exit', async () => {
    const rb = await tempRunbook(`${FRONT}\n# T\n\n## Steps\n\n\`\`\`sql {on=target id=slow}\nselect pg_sleep(30)\n\`\`\`\n\n\`\`\`sql {on=target id=after}\nselect 1\n\`\`\`\n`);
    const events = new RunEmitter();
    const abort = new AbortController();
    events.on('step-start', (e) => { if (e.step.id === 'slow') setTimeout(() => abort.abort('SIGINT'), 300); });
    const seen = record(events);
    const t0 = Date.now();
    const { value: r, writes, exits } = await silently(async () => runRunbook({ runbook: await loadRunbook(rb.file), mode: 'run', source, target, stateDir: rb.stateDir, events, signal: abort.signal }));
    expect(Date.now() - t0).toBeLessThan(15_000);
    expect(r.outcome).toBe('interrupted');
    expect(r.signal).toBe('SIGINT');
    expect(r.error).toBeInstanceOf(RunInterruptedError);
    expect(r.error).toMatchObject({ code: 'E_INTERRUPTED', reason: 'SIGINT', immediate: false });
    expect(writes).toEqual([]);
    expect(exits).toEqual([]);
    expect(seen.some((s) => s.name === 'interrupt')).toBe(true);
    expect(seen.some((s) => s.name === 'step-start' && s.e.step.id === 'after')).toBe(false);
    const journal = readFileSync(join(rb.stateDir, 'journal.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { event: string; id?: string; outcome?: string; signal?: string });
    expect(journal.find((e) => e.event === 'step-end' && e.id === 'slow')?.outcome).toBe('interrupted');
    expect(journal.at(-1)).toMatchObject({ event: 'run-end', outcome: 'interrupted', signal: 'SIGINT' });
  });

  it('stops at once on stopNow: rejects with an immediate RunInterruptedError after journaling the run\'s end', async () => {
    const rb = await tempRunbook(`${FRONT}\n# T\n\n## Steps\n\n\`\`\`sh {id=stubborn}\ntrap '' INT TERM; sleep 20\n\`\`\`\n`);
    const events = new RunEmitter();
    const abort = new AbortController();
    const now = new AbortController();
    events.on('step-start', () => { setTimeout(() => abort.abort('SIGTERM'), 300); setTimeout(() => now.abort('SIGTERM'), 800); });
    const { value: e, exits } = await silently(async () => runRunbook({ runbook: await loadRunbook(rb.file), mode: 'run', source, target, stateDir: rb.stateDir, events, signal: abort.signal, stopNow: now.signal })
      .then(() => undefined, (x: unknown) => x));
    expect(e).toBeInstanceOf(RunInterruptedError);
    expect(e).toMatchObject({ immediate: true, signal: 'SIGTERM' });
    expect(exits).toEqual([]);
    const journal = readFileSync(join(rb.stateDir, 'journal.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { event: string; id?: string; outcome?: string });
    expect(journal.find((x) => x.event === 'step-end' && x.id === 'stubborn')?.outcome).toBe('interrupted');
    expect(journal.at(-1)).toMatchObject({ event: 'run-end', outcome: 'interrupted' });
    // The steps still unwinding after the stop add nothing to the journal.
    await new Promise((res) => setTimeout(res, 1500));
    expect(readFileSync(join(rb.stateDir, 'journal.jsonl'), 'utf8').trim().split('\n')).toHaveLength(journal.length);
  });
});

/** ddl: follow test helpers: a source with the app schema, capture, a copy, a following applier. */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { availableMajors, createAppDatabase, startClusters, type Cluster } from '../../src/testing/index.js';
import { copy } from '../../src/dump/copy/copy.js';
import { installCapture } from '../../src/replicate/capture.js';
import { Applier, type ApplyOptions } from '../../src/replicate/apply.js';
import type { ConnParams } from '../../src/pg/conninfo.js';

export const q = (s: string) => `"${s.replace(/"/g, '""')}"`;

export async function prepare(src: Cluster, tgt: Cluster, db: string, o: { before?: string; mode?: 'row' | 'statement'; excludeSchemas?: string[]; owner?: string } = {}) {
  await src.createDatabase(db, o.owner);
  await tgt.createDatabase(db, o.owner);
  await createAppDatabase(src.url(db));
  if (o.before) await src.query(o.before, [], db);
  const source = src.params(db), target = tgt.params(db);
  await installCapture({ source, mode: o.mode, excludeSchemas: o.excludeSchemas });
  await copy({ source, target, dir: join(await mkdtemp(join(tmpdir(), 'cutover-redteam-')), 'copy'), jobs: 1 });
  return { source, target };
}

export async function until(what: string, ok: () => Promise<boolean>, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** An applier running in the background; failed holds what ended it. */
export async function background(o: Partial<ApplyOptions> & { source: ConnParams; target: ConnParams }, run: { maxReconnects?: number } = {}) {
  const notes: string[] = [];
  const a = await Applier.open({ followDdl: true, ...o, onNote: (m) => notes.push(m) });
  const ac = new AbortController();
  const state: { failed?: unknown } = {};
  const running = a.run({ signal: ac.signal, maxReconnects: run.maxReconnects ?? 0 }).catch((e: unknown) => { state.failed = e; });
  return {
    a, notes, state,
    /** Waits for ok() (throws what ended the applier), at most ms. */
    wait: (what: string, ok: () => Promise<boolean>, ms = 60_000) => until(what, async () => { if (state.failed) throw state.failed; return ok(); }, ms),
    /** Waits until the applier ended (a halt), at most ms; returns what ended it. */
    ended: async (ms = 30_000) => { await until('the applier to end', async () => state.failed !== undefined, ms); await a.close(); return state.failed as Error & { code?: string; hint?: string }; },
    stop: async () => { ac.abort(); await running; await a.close(); return state.failed; },
  };
}

/** Lets the applier run a few idle rounds (follow checks are once a second). */
export const settle = (ms = 3500) => new Promise((r) => setTimeout(r, ms));

export async function rows(c: Cluster, db: string, sql: string, params: unknown[] = []): Promise<string[]> {
  const res = await c.query<{ r: string }>(sql, params, db) as unknown;
  // Several statements: the last one's rows.
  const last = (Array.isArray(res) ? res.at(-1) : res) as { rows: { r: string }[] };
  return last.rows.map((x) => x.r);
}

/** The pair these tests replicate between: PostgreSQL 15 and the newest major available. */
export async function startPair(): Promise<[Cluster, Cluster]> {
  const majors = await availableMajors();
  return (await startClusters([{ version: 15 }, { version: majors.at(-1) }])) as [Cluster, Cluster];
}

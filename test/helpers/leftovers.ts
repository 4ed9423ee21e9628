/** What a cutover process may leave behind: processes (from /proc), sessions (pg_stat_activity), files. */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Cluster } from '../../src/testing/index.js';

/** Live processes whose environment holds `NAME=value` (children inherit cutover's session tag). */
export function processesWithEnv(entry: string): { pid: number; cmdline: string }[] {
  const out: { pid: number; cmdline: string }[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) continue; // a zombie has ended
      if (!readFileSync(`/proc/${name}/environ`, 'utf8').split('\0').includes(entry)) continue;
      out.push({ pid: Number(name), cmdline: readFileSync(`/proc/${name}/cmdline`, 'utf8').replace(/\0/g, ' ').trim() });
    } catch { /* gone meanwhile */ }
  }
  return out;
}

/** cutover's sessions on a server (application_name cutover/...), polled until none or `waitMs` passed. */
export async function cutoverSessions(c: Cluster, waitMs = 3000): Promise<string[]> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    const rows = (await c.query<{ a: string }>(`SELECT application_name || ' ' || coalesce(state, '') || ' ' || left(coalesce(query, ''), 60) AS a
      FROM pg_stat_activity WHERE application_name LIKE 'cutover/%' ORDER BY 1`)).rows.map((r) => r.a);
    if (!rows.length || Date.now() > deadline) return rows;
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Every file under `dir`, recursively, with its modification time. */
export function filesIn(dir: string): { path: string; mtimeMs: number }[] {
  const out: { path: string; mtimeMs: number }[] = [];
  let names: string[];
  try { names = readdirSync(dir); } catch { return out; }
  for (const n of names) {
    const p = join(dir, n);
    const st = statSync(p, { throwIfNoEntry: false });
    if (!st) continue;
    if (st.isDirectory()) out.push(...filesIn(p));
    else out.push({ path: p, mtimeMs: st.mtimeMs });
  }
  return out;
}

/** Polls `f` every 10 ms until it is true (or `ms` passed); returns whether it became true. */
export async function waitFor(f: () => Promise<boolean> | boolean, ms = 30_000): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await f()) return true;
    await new Promise((r) => setTimeout(r, 10));
  }
  return false;
}

/** What the end-to-end tests look at: process arguments, files left behind, and a database's state. */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Cluster } from '../../src/testing/index.js';

/**
 * Samples every process's command line (/proc/PID/cmdline, what `ps -eo args` shows) every few ms until
 * stopped. Returns the distinct command lines seen and how many samples were taken.
 */
export function sampleProcessArgs(everyMs = 20): { stop(): { samples: number; cmdlines: string[] } } {
  const seen = new Set<string>();
  let samples = 0;
  const tick = () => {
    samples++;
    for (const pid of readdirSync('/proc')) {
      if (!/^\d+$/.test(pid)) continue;
      try {
        const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0+$/, '').replace(/\0/g, ' ');
        if (args) seen.add(args);
      } catch { /* the process ended meanwhile */ }
    }
  };
  tick();
  const t = setInterval(tick, everyMs);
  return { stop: () => { clearInterval(t); tick(); return { samples, cmdlines: [...seen] }; } };
}

/** Every regular file under `dir` (recursively) with its content as text (latin1: binary files too). */
export function filesUnder(dir: string): { path: string; text: string }[] {
  const out: { path: string; text: string }[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    const st = statSync(p);
    if (st.isDirectory()) out.push(...filesUnder(p));
    else if (st.isFile()) out.push({ path: p, text: readFileSync(p, 'latin1') });
  }
  return out;
}

/** Where `secret` occurs: the names of the texts (files, outputs, command lines) that contain it. */
export function occurrences(secret: string, texts: { path: string; text: string }[]): string[] {
  return texts.filter((t) => t.text.includes(secret)).map((t) => t.path);
}

/**
 * A database's state, as far as a migration could change it: every object outside the system schemas
 * (relations, triggers with their enabled state, functions, schemas), every table's exact row count and
 * content hash, privileges, and database and role settings. Equal fingerprints: nothing was changed.
 * The rows of cutover's own bookkeeping (schema _cutover) are left out: recording why it stopped is allowed.
 */
export async function fingerprint(c: Cluster, db: string): Promise<string> {
  const q = async (sql: string) => JSON.stringify((await c.query(sql, [], db)).rows);
  const objects = await q(`
    SELECT 'schema ' || nspname || ' ' || coalesce(nspacl::text, '') AS o FROM pg_namespace WHERE nspname !~ '^(pg_|information_schema)'
    UNION ALL SELECT 'rel ' || c.oid::regclass::text || ' ' || c.relkind::text || ' ' || coalesce(c.relacl::text, '')
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname !~ '^(pg_|information_schema)'
    UNION ALL SELECT 'trigger ' || tgrelid::regclass::text || ' ' || tgname || ' ' || tgenabled::text FROM pg_trigger WHERE NOT tgisinternal
    UNION ALL SELECT 'function ' || p.oid::regprocedure::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname !~ '^(pg_|information_schema)'
    UNION ALL SELECT 'setting ' || coalesce(r.rolname, '*') || ' ' || array_to_string(s.setconfig, ',') FROM pg_db_role_setting s LEFT JOIN pg_roles r ON r.oid = s.setrole
    ORDER BY 1`);
  const tables = (await c.query<{ t: string }>(`SELECT c.oid::regclass::text AS t FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind = 'r' AND n.nspname !~ '^(pg_|information_schema|_cutover$)' ORDER BY 1`, [], db)).rows.map((r) => r.t);
  const contents: string[] = [];
  for (const t of tables) {
    const r = (await c.query<{ n: string; h: string | null }>(`SELECT count(*) AS n, md5(string_agg(x::text, '|' ORDER BY x::text)) AS h FROM ${t} x`, [], db)).rows[0]!;
    contents.push(`${t} ${r.n} ${r.h ?? ''}`);
  }
  return `${objects}\n${contents.join('\n')}`;
}

/**
 * The tables verify found different, less the materialized views it explained as stale on the source,
 * each of those checked here with the test's own SQL: the source's contents are not what its query gives
 * on the source (a past state no copy can reproduce).
 */
export async function unexplainedDifferences(v: { tables: { schema: string; name: string; status: string }[] }, source: Cluster, target: Cluster, db: string): Promise<string[]> {
  const out: string[] = [];
  for (const t of v.tables.filter((x) => x.status !== 'same')) {
    const rel = `"${t.schema.replace(/"/g, '""')}"."${t.name.replace(/"/g, '""')}"`;
    const fresh = async (c: Cluster) => {
      const def = (await c.query<{ d: string }>('SELECT pg_get_viewdef($1::regclass) d', [rel], db)).rows[0]!.d.replace(/;\s*$/, '');
      const sig = (from: string) => `SELECT md5(string_agg(x::text, ',' ORDER BY x::text)) FROM (${from}) x`;
      return (await c.query<{ ok: boolean }>(`SELECT (${sig(`TABLE ${rel}`)}) IS NOT DISTINCT FROM (${sig(def)}) AS ok`, [], db)).rows[0]!.ok;
    };
    if (t.status === 'stale on source' && !(await fresh(source))) continue;
    out.push(`${t.schema}.${t.name}: ${t.status}`);
  }
  return out;
}

/**
 * A second write workload, on the application schema of sql/app-schema.sql: what ordinary applications do
 * that a change-capture replication must carry over: unique values swapped inside one transaction under a
 * non-deferrable UNIQUE and an EXCLUDE constraint, cycles of primary-key changes, delete and re-insert of a
 * key, rows moving across partitions, upserts, COPY, TRUNCATE and TRUNCATE ... CASCADE, deletes that cascade
 * (ON DELETE CASCADE / SET NULL), a parent renamed under children that stay, and duplicate rows in a table
 * without a key, and large objects created, rewritten, granted and unlinked. Each operation is one transaction; runAppOp runs one by name (deterministic tests),
 * startAppWorkload runs them at random from several clients, like workload.ts.
 */
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { loadSql, quoteIdent, quoteLiteral } from '../pg/sql.js';
import type { Cluster } from './cluster.js';
import type { Workload } from './workload.js';
import { startClientLoop } from './clients.js';

type Op = (c: pg.Client, rnd: () => number) => Promise<void>;

const pick = async (c: pg.Client, table: string, n: number, rnd: () => number): Promise<number[]> => {
  const { rows } = await c.query<{ id: number }>(`SELECT id FROM ${table} ORDER BY md5(id::text || $1) LIMIT ${n}`, [String(rnd())]);
  return rows.map((r) => r.id);
};

export const APP_OPS: Record<string, { weight: number; op: Op }> = {
  'swap unique emails': { weight: 3, op: async (c, rnd) => {
    const [a, b] = await pick(c, 'shop.accounts', 2, rnd);
    if (a === undefined || b === undefined) return;
    const e = new Map((await c.query<{ id: number; email: string }>('SELECT id, email FROM shop.accounts WHERE id IN ($1, $2) FOR UPDATE', [a, b])).rows.map((r) => [r.id, r.email]));
    await c.query(`UPDATE shop.accounts SET email = 'swapping-' || id WHERE id = $1`, [a]);
    await c.query('UPDATE shop.accounts SET email = $2 WHERE id = $1', [b, e.get(a)]);
    await c.query('UPDATE shop.accounts SET email = $2 WHERE id = $1', [a, e.get(b)]);
  } },
  'swap excluded ranges': { weight: 2, op: async (c, rnd) => {
    const [a, b] = await pick(c, 'shop.bookings', 2, rnd);
    if (a === undefined || b === undefined) return;
    const r = new Map((await c.query<{ id: number; during: string }>('SELECT id, during::text FROM shop.bookings WHERE id IN ($1, $2) FOR UPDATE', [a, b])).rows.map((x) => [x.id, x.during]));
    await c.query(`UPDATE shop.bookings SET during = 'empty' WHERE id = $1`, [a]);
    await c.query('UPDATE shop.bookings SET during = $2::int4range WHERE id = $1', [b, r.get(a)]);
    await c.query('UPDATE shop.bookings SET during = $2::int4range WHERE id = $1', [a, r.get(b)]);
  } },
  'cycle of key changes': { weight: 2, op: async (c, rnd) => {
    const [a, b] = await pick(c, 'shop.accounts', 2, rnd);
    if (a === undefined || b === undefined) return;
    await c.query('UPDATE shop.accounts SET id = -id WHERE id = $1', [a]);
    await c.query('UPDATE shop.accounts SET id = $1 WHERE id = $2', [a, b]);
    await c.query('UPDATE shop.accounts SET id = $1 WHERE id = $2', [b, -a]);
  } },
  'delete and re-insert a key': { weight: 2, op: async (c, rnd) => {
    const [a] = await pick(c, 'shop.accounts', 1, rnd);
    if (a === undefined) return;
    await c.query(`WITH d AS (DELETE FROM shop.accounts WHERE id = $1 RETURNING *)
      INSERT INTO shop.accounts SELECT id, email, 'happy', credit, home, tags || 'sad'::public.mood FROM d`, [a]);
  } },
  'move across partitions': { weight: 2, op: async (c, rnd) => {
    const [a] = await pick(c, 'shop.events', 1, rnd);
    if (a === undefined) return;
    await c.query(`UPDATE shop.events SET region = CASE region WHEN 'eu' THEN 'us' ELSE 'eu' END, v = v + 1 WHERE id = $1`, [a]);
  } },
  upserts: { weight: 2, op: async (c, rnd) => {
    await c.query(`INSERT INTO shop.moods VALUES ((ARRAY['sad', 'ok', 'happy']::public.mood[])[1 + floor($1::float8 * 3)::int], 1)
      ON CONFLICT (m) DO UPDATE SET n = shop.moods.n + 1`, [rnd()]);
    const id = 1 + Math.floor(rnd() * 400);
    await c.query(`INSERT INTO shop.accounts (id, email, credit) VALUES ($1::int, 'upsert-' || $1::int::text || '@example.com', 5)
      ON CONFLICT (id) DO UPDATE SET credit = coalesce(shop.accounts.credit, 0) + 1`, [id]);
  } },
  'insert accounts and children': { weight: 3, op: async (c, rnd) => {
    const id = Number((await c.query<{ id: string }>(`SELECT nextval('shop.ids') AS id`)).rows[0]!.id);
    await c.query(`INSERT INTO shop.accounts (id, email, mood, credit, home) VALUES ($1::int, 'n' || $1::int::text || '@example.com', 'sad', 3, ROW('new', '00000'))`, [id]);
    const [p] = await pick(c, 'shop.parents', 1, rnd);
    if (p !== undefined) await c.query(`INSERT INTO shop.children VALUES ($1, $2, 'new child')`, [id, p]);
    await c.query(`INSERT INTO shop.events VALUES ($1, 'eu', 0)`, [id]);
  } },
  'COPY into the source': { weight: 1, op: async (c, rnd) => {
    const at = Math.floor(rnd() * 20);
    const rows = `${at}\tcopied\t0.1\n${at}\tcopied\t0.1\n${at}\tcopied twice\t\\N\n`;
    await pipeline(Readable.from([rows]), c.query(copyFrom('COPY shop.history (at, msg, amount) FROM STDIN')));
  } },
  'duplicate rows without a key': { weight: 3, op: async (c, rnd) => {
    const at = Math.floor(rnd() * 20);
    await c.query(`INSERT INTO shop.history SELECT $1::int, 'dup', 1.5 FROM generate_series(1, 3)`, [at]);
    // One of several identical rows goes, another changes.
    await c.query(`DELETE FROM shop.history WHERE ctid = (SELECT ctid FROM shop.history WHERE at = $1 AND msg = 'dup' LIMIT 1)`, [at]);
    await c.query(`UPDATE shop.history SET amount = amount + 1 WHERE ctid = (SELECT ctid FROM shop.history WHERE at = $1::int AND msg = 'event ' || $1::int::text LIMIT 1)`, [at]);
  } },
  'rename a parent': { weight: 3, op: async (c, rnd) => {
    // Its children stay: a target that deleted and re-inserted the parent under ON DELETE CASCADE would lose them.
    const [p] = await pick(c, 'shop.parents', 1, rnd);
    if (p !== undefined) await c.query(`UPDATE shop.parents SET name = name || '.' WHERE id = $1`, [p]);
  } },
  'cascading delete': { weight: 1, op: async (c, rnd) => {
    const [p] = await pick(c, 'shop.parents', 1, rnd);
    if (p === undefined) return;
    await c.query('DELETE FROM shop.strict_refs WHERE parent_id = $1', [p]);
    await c.query('DELETE FROM shop.parents WHERE id = $1', [p]); // children go (CASCADE), links lose it (SET NULL)
    const id = Number((await c.query<{ id: string }>(`SELECT nextval('shop.ids') AS id`)).rows[0]!.id);
    await c.query(`INSERT INTO shop.parents VALUES ($1::int, 'parent ' || $1::int::text)`, [id]);
    await c.query(`INSERT INTO shop.children VALUES ($1::int, $1::int, 'child of a new parent')`, [id]);
    await c.query(`INSERT INTO shop.strict_refs VALUES ($1::int, $1::int)`, [id]);
  } },
  'large objects': { weight: 1, op: async (c, rnd) => {
    // Created, rewritten, privileges changed, unlinked: none of it passes through a table trigger.
    await c.query(`SELECT lo_from_bytea(0, convert_to(repeat(md5($1), 1 + (abs(hashtext($1)) % 50)), 'UTF8'))`, [String(rnd())]);
    const mine = `SELECT oid FROM pg_largeobject_metadata WHERE lomowner = (SELECT r.oid FROM pg_roles r WHERE r.rolname = current_user) ORDER BY md5(oid::text || $1) LIMIT 1`;
    await c.query(`SELECT lo_put(oid, 3, convert_to($1, 'UTF8')) FROM (${mine}) x`, [String(rnd())]);
    const [g] = (await c.query<{ oid: string }>(mine, [String(rnd())])).rows;
    if (g) await c.query(`GRANT SELECT ON LARGE OBJECT ${Number(g.oid)} TO PUBLIC`);
    if (rnd() < 0.3) await c.query(`SELECT lo_unlink(oid) FROM (${mine}) x`, [String(rnd())]);
  } },
  truncate: { weight: 0.3, op: async (c, rnd) => {
    const base = Math.floor(rnd() * 1000) * 1000;
    await c.query('TRUNCATE shop.bookings');
    await c.query('INSERT INTO shop.bookings SELECT i, int4range($1::int + i * 10, $1::int + i * 10 + 10) FROM generate_series(1, 100) i', [base]);
  } },
  'truncate cascade': { weight: 0.2, op: async (c) => {
    await c.query('TRUNCATE shop.parents CASCADE'); // children, links and strict_refs too
    await c.query(`INSERT INTO shop.parents SELECT i, 'again ' || i FROM generate_series(1, 100) i`);
    await c.query(`INSERT INTO shop.children SELECT i, 1 + i % 100, 'again' FROM generate_series(1, 200) i`);
    await c.query('INSERT INTO shop.links SELECT i, 1 + i % 100 FROM generate_series(1, 50) i');
  } },
};

/** Runs one named operation in its own transaction. */
export async function runAppOp(c: pg.Client, name: keyof typeof APP_OPS | string, rnd: () => number = Math.random): Promise<void> {
  const o = APP_OPS[name];
  if (!o) throw new Error(`no such operation: ${name}`);
  await c.query('BEGIN');
  try {
    await o.op(c, rnd);
    await c.query('COMMIT');
  } catch (e) {
    await c.query('ROLLBACK').catch(() => undefined);
    throw e;
  }
}

/** Loads the application schema and data into the (empty) database at `url`. */
export async function createAppDatabase(url: string): Promise<void> {
  const c = new pg.Client({ connectionString: url, application_name: 'cutover-test/app' });
  c.on('error', () => undefined);
  await c.connect();
  try {
    await c.query(loadSql(import.meta.url, 'sql/app-schema.sql'));
  } finally {
    await c.end();
  }
}

/** A password role that may write the application schema (not a superuser: a revoke fence stops it); returns its URL. */
export async function createAppWriter(cluster: Cluster, dbname: string, role: string, password: string): Promise<string> {
  const exists = (await cluster.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [role])).rowCount;
  if (!exists) await cluster.createRole(role, password, dbname);
  else await cluster.query(`ALTER ROLE ${quoteIdent(role)} LOGIN PASSWORD ${quoteLiteral(password)}`);
  const r = quoteIdent(role);
  await cluster.query(`GRANT USAGE ON SCHEMA shop TO ${r}; GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON ALL TABLES IN SCHEMA shop TO ${r};
    GRANT USAGE ON ALL SEQUENCES IN SCHEMA shop TO ${r};`, [], dbname);
  return `postgres://${encodeURIComponent(role)}:${encodeURIComponent(password)}@${cluster.host}:${cluster.port}/${encodeURIComponent(dbname)}?sslmode=disable`;
}

/** The operations at random (by weight) from `clients` connections until stop() or a write fence. */
export function startAppWorkload(o: { url: string; clients?: number; pauseMs?: number; only?: string[] }): Workload {
  const ops = Object.entries(APP_OPS).filter(([n]) => !o.only || o.only.includes(n)).map(([name, x]) => ({ name, weight: x.weight, op: name }));
  return startClientLoop({ url: o.url, clients: o.clients ?? 3, pauseMs: o.pauseMs, name: 'app-workload', seed: 4321, ops, run: (c, name, rnd) => runAppOp(c, name, rnd) });
}

/**
 * An independent fingerprint of a database's rows, computed by SQL of the tests' own (not by cutover):
 * per table of the given schemas, the row count and an md5 over its rows' text in sorted order
 * (duplicates count); and the large objects' owners, ACLs and content hashes. Compare two databases read with the same session settings.
 */
export async function rowFingerprint(url: string, schemas: string[]): Promise<Record<string, string>> {
  const c = new pg.Client({ connectionString: url, application_name: 'cutover-test/fingerprint' });
  c.on('error', () => undefined);
  await c.connect();
  try {
    await c.query(`SET extra_float_digits = 3; SET "DateStyle" = 'ISO, YMD'; SET "IntervalStyle" = postgres; SET "TimeZone" = 'UTC'; SET quote_all_identifiers = off`);
    const tables = (await c.query<{ t: string }>(`SELECT format('%I.%I', n.nspname, c.relname) AS t FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition AND n.nspname = ANY($1) ORDER BY 1`, [schemas])).rows.map((r) => r.t);
    const out: Record<string, string> = {};
    for (const t of tables) {
      const r = (await c.query<{ n: string; h: string | null }>(`SELECT count(*)::text AS n, md5(string_agg(x::text, E'\\n' ORDER BY x::text)) AS h FROM ${t} x`)).rows[0]!;
      out[t] = `${r.n}:${r.h ?? ''}`;
    }
    const lo = (await c.query<{ n: string; h: string | null }>(`SELECT count(*)::text AS n,
        md5(string_agg(m.oid || ' ' || pg_get_userbyid(m.lomowner) || ' ' || coalesce(m.lomacl::text, '-') || ' ' || md5(lo_get(m.oid)), E'\\n' ORDER BY m.oid)) AS h
      FROM pg_largeobject_metadata m`)).rows[0]!;
    out['(large objects)'] = `${lo.n}:${lo.h ?? ''}`;
    return out;
  } finally {
    await c.end();
  }
}

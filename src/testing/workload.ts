/**
 * A steady write load on the sample database (sample-schema.sql), for replication tests, the demo and
 * benchmarks: inserts, updates (primary-key changes included), deletes across foreign-keyed tables and
 * the odd TRUNCATE, each in its own transaction, from `clients` connections. It stops on stop(), or by
 * itself once a write fence refuses its writes (SQLSTATE 25006: the trigger fence or a read-only role) or
 * revokes its privileges (42501).
 */
import type pg from 'pg';
import { startClientLoop } from './clients.js';

export interface WorkloadOptions {
  /** Connection URL of the role that writes (not a superuser, if a fence is to stop it). */
  url: string;
  clients?: number;
  /** Pause between transactions per client (ms). Default 0. */
  pauseMs?: number;
  /** Include TRUNCATE of the hostile-named table now and then. Default true. */
  truncates?: boolean;
}

export interface WorkloadStats { commits: number; errors: number; fenced: boolean; byKind: Record<string, number> }

export interface Workload {
  stats: WorkloadStats;
  /** Stops the clients after their current transaction; resolves with the stats. */
  stop(): Promise<WorkloadStats>;
  /** Resolves once at least n transactions committed. */
  waitForCommits(n: number): Promise<void>;
}

type Op = (c: pg.Client, rnd: () => number) => Promise<void>;

// A random key of a table through its index (ORDER BY random() would read the whole table: on the
// benchmarks' gigabytes that throttles the load to a few transactions a second).
const randomFrom = (table: string, key: string, n = 1, cols = key) =>
  `SELECT ${cols} FROM ${table} WHERE ${key} >= (SELECT (min(${key}) + floor(random() * (max(${key}) - min(${key}) + 1)))::int8 FROM ${table}) ORDER BY ${key} LIMIT ${n}`;

const OPS: [string, number, Op][] = [
  ['insert customer+order+invoice', 4, async (c, rnd) => {
    const cust = (await c.query<{ id: string }>(
      `INSERT INTO app.customers (email, name, status, referred_by) VALUES ('w' || gen_random_uuid() || '@example.com', 'writer ' || $1, 'active',
         (SELECT id FROM app.customers ORDER BY id LIMIT 1)) RETURNING id`, [Math.floor(rnd() * 1e6)])).rows[0]!.id;
    const ord = (await c.query<{ id: string }>(
      `INSERT INTO app.orders (customer_id, product_id, token, ordered_on, ordered_at, qty, unit_price, note)
       VALUES ($1, (SELECT id FROM app.products ORDER BY id LIMIT 1), gen_random_uuid(), current_date, localtimestamp, $2, 9.99, 'w') RETURNING id`,
      [cust, 1 + Math.floor(rnd() * 5)])).rows[0]!.id;
    await c.query(`INSERT INTO billing.invoices (id, issued_on, order_id, amount) VALUES (nextval('billing.invoice_number'), DATE '2024-06-01' + ($2::int % 700), $1, 9.99)`,
      [ord, Math.floor(rnd() * 1e6)]);
  }],
  ['update orders', 4, async (c, rnd) => {
    await c.query(`UPDATE app.orders SET qty = qty % 30 + 1, note = 'u' || $1 WHERE id IN (${randomFrom('app.orders', 'id', 3)})`, [Math.floor(rnd() * 1e6)]);
  }],
  ['update customer name', 2, async (c) => {
    await c.query(`UPDATE app.customers SET name = name || '.' WHERE id = (${randomFrom('app.customers', 'id')})`);
  }],
  ['change primary key', 2, async (c) => {
    // A key change on the hostile-named table; and moving an invoice across partitions (key includes issued_on).
    await c.query(`UPDATE "Ünïcode ""Schema"""."order" SET "select" = "select" + 1000000 WHERE "select" = (${randomFrom('"Ünïcode ""Schema"""."order"', '"select"')})`);
    await c.query(`UPDATE billing.invoices SET issued_on = issued_on + 400 WHERE (id, issued_on) = (${randomFrom('billing.invoices', 'id', 1, 'id, issued_on')})`);
  }],
  ['delete invoice+order', 2, async (c) => {
    // Children before parents, as the application must.
    const o = (await c.query<{ id: string }>(randomFrom('app.orders', 'id'))).rows[0];
    if (!o) return;
    await c.query('DELETE FROM billing.invoices WHERE order_id = $1', [o.id]);
    await c.query('DELETE FROM app.orders WHERE id = $1', [o.id]);
  }],
  ['insert into hostile table', 2, async (c, rnd) => {
    await c.query(`INSERT INTO app."Table With Spaces & ""Quotes""" ("Value") VALUES ($1)`, [`v'"; DROP TABLE x; -- ${rnd()}`]);
  }],
  ['truncate hostile table', 0.2, async (c) => {
    await c.query(`TRUNCATE app."Table With Spaces & ""Quotes"""`);
    await c.query(`INSERT INTO app."Table With Spaces & ""Quotes""" ("Value") VALUES ('after truncate')`);
  }],
];

export function startWorkload(o: WorkloadOptions): Workload {
  const ops = OPS.filter(([name]) => o.truncates !== false || !name.startsWith('truncate')).map(([name, weight, op]) => ({ name, weight, op }));
  return startClientLoop({
    url: o.url, clients: o.clients ?? 3, pauseMs: o.pauseMs, name: 'workload', seed: 1234, ops,
    // A server that has just (re)started may refuse for a moment (57P03): the application would retry.
    connectAttempts: 20,
    async run(c, op, rnd) {
      try {
        await c.query('BEGIN');
        await op(c, rnd);
        await c.query('COMMIT');
      } catch (e) {
        await c.query('ROLLBACK').catch(() => undefined);
        throw e;
      }
    },
  });
}

/**
 * The client loop shared by the test workloads (workload.ts, app-workload.ts): `clients` connections,
 * each picking operations by weight with its own seeded random numbers, until stop() or a write fence
 * (42501 revoked, 25006 fenced); errors an application would retry (deadlocks, a key moved twice) are
 * counted, a connection ended by the server ends that client.
 */
import pg from 'pg';
import type { Workload, WorkloadStats } from './workload.js';

export interface ClientLoopOptions<Op> {
  url: string;
  clients: number;
  pauseMs?: number;
  /** application_name prefix; the client number is appended. */
  name: string;
  seed: number;
  ops: readonly { name: string; weight: number; op: Op }[];
  /** Runs one operation (in its own transaction or not). */
  run(c: pg.Client, op: Op, rnd: () => number): Promise<void>;
  /** Connection attempts while a server (re)starts (57P03). Default 1. */
  connectAttempts?: number;
}

export function startClientLoop<Op>(o: ClientLoopOptions<Op>): Workload {
  const stats: WorkloadStats = { commits: 0, errors: 0, fenced: false, byKind: {} };
  const total = o.ops.reduce((n, x) => n + x.weight, 0);
  const waiters: { n: number; resolve: () => void }[] = [];
  let stopping = false;
  const connect = async (i: number): Promise<pg.Client> => {
    for (let attempt = 1; ; attempt++) {
      const c = new pg.Client({ connectionString: o.url, application_name: `${o.name}-${i}` });
      c.on('error', () => undefined);
      try { await c.connect(); return c; } catch (e) {
        if (attempt >= (o.connectAttempts ?? 1) || stopping) throw e;
        await new Promise((r) => setTimeout(r, 250));
      }
    }
  };
  const client = async (i: number) => {
    let seed = o.seed + i;
    const rnd = () => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed / 2147483648; };
    const c = await connect(i);
    try {
      while (!stopping) {
        let x = rnd() * total;
        const pick = o.ops.find((w) => (x -= w.weight) < 0) ?? o.ops[0]!;
        try {
          await o.run(c, pick.op, rnd);
          stats.commits++;
          stats.byKind[pick.name] = (stats.byKind[pick.name] ?? 0) + 1;
          for (const w of waiters.splice(0)) (stats.commits >= w.n ? w.resolve() : waiters.push(w));
        } catch (e) {
          const code = (e as { code?: string }).code;
          if (code === '42501' || code === '25006') { stats.fenced = true; return; }
          if (code === undefined || code === '57P01') return; // connection ended (the fence ended the session)
          stats.errors++; // deadlocks, a key moved twice at once: the application would retry
        }
        if (o.pauseMs) await new Promise((r) => setTimeout(r, o.pauseMs));
      }
    } finally {
      await c.end().catch(() => undefined);
    }
  };
  const running = Promise.all(Array.from({ length: o.clients }, (_, i) => client(i)));
  return {
    stats,
    async stop() { stopping = true; await running; return stats; },
    waitForCommits(n) { return stats.commits >= n ? Promise.resolve() : new Promise((resolve) => waiters.push({ n, resolve })); },
  };
}

import type { Command } from 'commander';
import { withClient } from '../../pg/connect.js';
import { resolveEndpoint } from '../../pg/endpoint.js';
import { serverFacts } from '../../pg/facts.js';
import type { ConnParams } from '../../pg/conninfo.js';
import { capacity, describeCapacity, parseHeadroom, type Capacity } from '../../budget/capacity.js';
import { autoJobs } from '../../budget/auto.js';
import { ACTIONS } from '../../runbook/actions/index.js';
import { describeError } from '../../errors.js';
import { resolveConnArg } from '../connection-args.js';
import { table } from '../../lib/format.js';
import { withJson } from '../options.js';
import { printResult } from '../json/emit.js';
import { BudgetDoc } from '../../json/shapes-engines.js';

async function probe(p: ConnParams, headroom: ReturnType<typeof parseHeadroom>) {
  return withClient(await resolveEndpoint(p), 'budget', async (c) => {
    const cap = capacity(await serverFacts(c), headroom);
    const apps = (await c.query<{ app: string; n: number }>(`SELECT coalesce(nullif(application_name, ''), '(none)') AS app, count(*)::int AS n
       FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid() GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 10`)).rows;
    return { cap, apps };
  });
}

export function registerBudget(program: Command): void {
  withJson(program.command('budget'))
    .description('connections cutover may hold on each side now, who holds the rest, and the parallelism each action would get')
    .option('--source <conn>', 'source connection; default $CUTOVER_SOURCE_URL')
    .option('--target <conn>', 'target connection; default $CUTOVER_TARGET_URL')
    .option('--headroom <n|pct>', 'connections to keep free for the application on each side', '0')
    .action(async (o: { source?: string; target?: string; headroom: string; json?: boolean }) => {
      const headroom = parseHeadroom(o.headroom);
      const [s, t] = await Promise.all([
        probe(resolveConnArg('source', o.source, 'CUTOVER_SOURCE_URL'), headroom),
        probe(resolveConnArg('target', o.target, 'CUTOVER_TARGET_URL'), headroom),
      ]);
      // Every operation of the registry with a connection demand (actions/index.ts).
      const plan = [...ACTIONS.values()].flatMap((a) => (a.demand ? [[a.name, a.demand] as const] : [])).map(([action, d]) => {
        const uses = (c: Capacity | undefined, side: 'source' | 'target') => (d[side](1) > 0 ? c : undefined);
        try {
          const j = autoJobs(action, d, uses(s.cap, 'source'), uses(t.cap, 'target'));
          return { action, jobs: j, source: d.source(j), target: d.target(j) };
        } catch (e) {
          return { action, jobs: 0, source: 0, target: 0, error: describeError(e) };
        }
      });
      const lines = () => [`source: ${describeCapacity(s.cap)}`, `  by application: ${s.apps.map((a) => `${a.app} ${a.n}`).join(', ') || 'none'}`,
        `target: ${describeCapacity(t.cap)}`, `  by application: ${t.apps.map((a) => `${a.app} ${a.n}`).join(', ') || 'none'}`, '',
        table(['action', 'jobs (auto)', 'source conns', 'target conns'], plan.map((p) => [p.action, p.jobs ? String(p.jobs) : 'does not fit', String(p.source), String(p.target)]))];
      printResult(o.json, BudgetDoc, { ok: true, source: s, target: t, plan }, () => lines().join('\n'));
    });
}

import { z } from 'zod';
import { withClient } from '../../pg/connect.js';
import { resolveEndpoint } from '../../pg/endpoint.js';
import { serverFacts } from '../../pg/facts.js';
import { capacity, type Capacity } from '../../budget/capacity.js';
import { autoJobs, type Demand } from '../../budget/auto.js';
import type { Endpoint } from '../../pg/endpoint.js';
import { CutoverError } from '../../errors.js';
import type { ExecContext } from './types.js';

/** A whole number from `min` (to `max`), with one message for every way to miss it: a step's and a flag's. */
export function wholeNumber(min: number, max?: number, message = `must be a whole number ${max === undefined ? `>= ${min}` : `from ${min} to ${max}`}`) {
  const n = z.number({ error: message }).int(message).min(min, message);
  return max === undefined ? n : n.max(max, message);
}
const JOBS = 'must be "auto" or a whole number from 1 to 64';
export const jobsOption = z.union([z.literal('auto'), wholeNumber(1, 64, JOBS)], { error: JOBS }).default('auto');
export const nameList = z.array(z.string().min(1)).optional();
export const selection = {
  schemas: nameList.describe('only these schemas (exact names)'),
  exclude_schemas: nameList.describe('leave out these schemas'),
  tables: nameList.describe('only these tables (exact names; quote parts with dots: "a.b".c)'),
  exclude_tables: nameList.describe('leave out these tables'),
};
/** The selection's command-line spelling: pg_dump's singular flags and letters (the plural keys work too). */
export const selectionFlags = {
  schemas: { flag: 'schema', short: 'n', arg: 'name' },
  exclude_schemas: { flag: 'exclude-schema', short: 'N', arg: 'name' },
  tables: { flag: 'table', short: 't', arg: 'schema.table' },
  exclude_tables: { flag: 'exclude-table', short: 'T', arg: 'schema.table' },
} as const;
/** Where the client tools are, for a command (a runbook step finds them on PATH and the usual places). */
export const pgBindir = (what: string) => z.string().min(1).optional().describe(`directory holding ${what}`);

/** An endpoint by name: source or target, or (in a run) one the front matter names. */
export function endpointOf(ctx: Pick<ExecContext, 'source' | 'target' | 'stepId' | 'endpoints'>, side: string): Endpoint {
  const e = ctx.endpoints?.[side] ?? (side === 'source' ? ctx.source : side === 'target' ? ctx.target : undefined);
  if (e) return e;
  if (side === 'source' || side === 'target') throw new CutoverError('E_INTERNAL', `${ctx.stepId}: no ${side} connection was given to it`);
  throw new CutoverError('E_USAGE', `${ctx.stepId}: no endpoint named ${side}`, {
    hint: ctx.endpoints ? `declare it in the runbook's front matter: connections: { ${side}: env:${side.toUpperCase()}_URL }` : 'a command line knows source and target; named endpoints are a runbook\'s (front matter connections)',
  });
}

export async function capacities(ctx: Pick<ExecContext, 'source' | 'target' | 'stepId' | 'headroom' | 'measure'>, sides: { source?: boolean; target?: boolean }): Promise<{ source?: Capacity; target?: Capacity }> {
  const one = async (side: 'source' | 'target') => (await ctx.measure?.(side)) ??
    withClient(await resolveEndpoint(endpointOf(ctx, side)), `${ctx.stepId}/budget`, async (c) => capacity(await serverFacts(c), ctx.headroom));
  const [s, t] = await Promise.all([sides.source ? one('source') : undefined, sides.target ? one('target') : undefined]);
  return { source: s, target: t };
}

/** Resolves `jobs: auto` from what both sides have available now. */
export async function resolveJobs(ctx: ExecContext, action: string, jobs: number | 'auto', demand: Demand): Promise<number> {
  if (jobs !== 'auto') return jobs;
  // In a parallel group the runner measured once for all members and gives each its share.
  const caps = ctx.budgetShare ?? await capacities(ctx, { source: demand.source(1) > 0, target: demand.target(1) > 0 });
  const used = (c: Capacity | undefined, side: 'source' | 'target') => (demand[side](1) > 0 ? c : undefined);
  const [s, t] = [used(caps.source, 'source'), used(caps.target, 'target')];
  const j = autoJobs(action, demand, s, t);
  ctx.log(`${action}: jobs auto -> ${j} (available${ctx.budgetShare ? `, its 1/${ctx.budgetShare.of} share` : ''}: source ${s?.available ?? '-'}, target ${t?.available ?? '-'})`);
  return j;
}

/** The connections a step held on the two sides of the move when it used one session on `on` (none for a named endpoint). */
export const oneSessionOn = (on: string): { source: number; target: number } => ({ source: on === 'source' ? 1 : 0, target: on === 'target' ? 1 : 0 });

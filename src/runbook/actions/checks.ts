import { z } from 'zod';
import { doctor } from '../../doctor/doctor.js';
import { renderDoctor } from '../../doctor/render.js';
import { CutoverError } from '../../errors.js';
import { withClient } from '../../pg/connect.js';
import { resolveEndpoint } from '../../pg/endpoint.js';
import { parseDuration } from '../../lib/duration.js';
import { defineAction, type ExecContext } from './types.js';
import { WaitForDoc } from '../../json/shapes-engines.js';
import { capacities, endpointOf, oneSessionOn } from './common.js';
import { endpointOption } from '../model.js';
import { describeCapacity } from '../../budget/capacity.js';

export const doctorAction = defineAction({
  name: 'doctor',
  endpoints: { source: 'read', target: 'read' },
  readOnly: true,
  description: 'every pre-flight check on both servers; fails the step on any problem',
  schema: z.strictObject({ copy_only: z.boolean().default(false) }),
  async run(ctx, o) {
    const r = await doctor({ source: ctx.source, target: ctx.target, headroom: ctx.headroom, copyOnly: o.copy_only, roles: ctx.roles });
    ctx.log(renderDoctor(r));
    if (!r.ok) throw new CutoverError('E_PREFLIGHT', `doctor found problems:\n${renderDoctor(r)}`);
    // The warnings by name (the report shows the summary): what to look at before the night.
    const warns = r.checks.filter((c) => c.status === 'warn');
    return { connections: { source: 1, target: 1 }, summary: warns.length ? `${warns.length} warning(s): ${warns.map((c) => `${c.side} ${c.id}`).join(', ')}` : 'ready, no warnings' };
  },
});

export const budgetAction = defineAction({
  name: 'budget',
  endpoints: { source: 'read', target: 'read' },
  readOnly: true,
  description: 'connections cutover may hold on each side now (after the application headroom)',
  schema: z.strictObject({ min: z.number().int().min(1).default(2) }),
  async run(ctx, o) {
    const caps = await capacities(ctx, { source: true, target: true });
    const line = (side: string, c = caps.source!) => `${side}: ${describeCapacity(c)}`;
    ctx.log(line('source', caps.source!));
    ctx.log(line('target', caps.target!));
    for (const [side, c] of [['source', caps.source!], ['target', caps.target!]] as const) {
      if (c.available < o.min) throw new CutoverError('E_BUDGET', `${line(side, c)}: fewer than the ${o.min} required`);
    }
    return { connections: { source: 1, target: 1 }, available: { source: caps.source!.available, target: caps.target!.available }, summary: `source ${caps.source!.available}, target ${caps.target!.available} available` };
  },
});

const duration = z.string().refine((s) => parseDuration(s) !== undefined, 'a duration like "30s", "5 min" or "1h"');

const waitForSchema = z.strictObject({
  sql: z.string().min(1).describe('the condition: a query whose first column of the first row is true when done'),
  on: endpointOption.describe('where it runs: source, target, or an endpoint the runbook names'),
  timeout: duration.default('5 min').describe('give up after this long'),
  interval: duration.default('2s').describe('time between checks'),
});

/** Polls until the condition holds (checks made and the time it took), or fails naming its last value. */
async function waitFor(ctx: ExecContext, o: z.infer<typeof waitForSchema>): Promise<{ on: string; checks: number; durationMs: number }> {
  const t0 = Date.now();
  const deadline = t0 + parseDuration(o.timeout)!;
  const every = parseDuration(o.interval)!;
  return withClient(await resolveEndpoint(endpointOf(ctx, o.on)), ctx.stepId, async (c) => {
    for (let attempt = 1; ; attempt++) {
      const r = await c.query(o.sql);
      const row = r.rows[0] as Record<string, unknown> | undefined;
      const v = row ? Object.values(row)[0] : undefined;
      if (v === true || v === 't') return { on: o.on, checks: attempt, durationMs: Date.now() - t0 };
      if (Date.now() + every > deadline) throw new CutoverError('E_SQL', `wait-for: condition still false after ${o.timeout} (last value: ${JSON.stringify(v)})`);
      ctx.progress(`check ${attempt}: ${JSON.stringify(v)}; next in ${o.interval}`);
      await new Promise((res, rej) => {
        const t = setTimeout(res, every);
        ctx.signal.addEventListener('abort', () => { clearTimeout(t); rej(new CutoverError('E_USAGE', 'interrupted')); }, { once: true });
      });
    }
  });
}

export const waitForAction = defineAction({
  name: 'wait-for',
  endpoints: (o) => ({ [o.on]: 'read' }),
  endpointsText: 'the `on` endpoint (source, target or a named one): read',
  readOnly: true,
  description: 'poll a SQL condition (first column of the first row true) until it holds or times out',
  schema: waitForSchema,
  async run(ctx, o) {
    const r = await waitFor(ctx, o);
    return { connections: oneSessionOn(o.on), summary: `true after ${r.checks} check(s)` };
  },
  cli: {
    description: 'poll a SQL condition on one side until it is true (exit 0) or the timeout passes (exit 6, its last value named)',
    example: 'cutover wait-for --on target --sql "SELECT count(*) = 0 FROM pg_stat_activity WHERE usename = \'app\'" --timeout "2 min" --target env:TARGET_URL',
    flags: { sql: { arg: 'query' }, on: { arg: 'side' }, timeout: { arg: 'duration' }, interval: { arg: 'duration' } },
    execute: waitFor,
    output: (r) => ({ doc: { ok: true as const, ...r }, text: () => `wait-for: true on the ${r.on} after ${r.checks} check(s) in ${(r.durationMs / 1000).toFixed(1)} s` }),
    doc: WaitForDoc,
  },
});

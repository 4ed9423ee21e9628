import { z } from 'zod';
import { doctor } from '../../doctor/doctor.js';
import { renderDoctor } from '../../doctor/render.js';
import { CutoverError } from '../../errors.js';
import { withClient } from '../../pg/connect.js';
import { resolveEndpoint } from '../../pg/endpoint.js';
import { parseDuration } from '../../lib/duration.js';
import { defineAction } from './types.js';
import { capacities, endpointOf } from './common.js';
import { ENDPOINT_NAME } from '../model.js';
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

export const waitForAction = defineAction({
  name: 'wait-for',
  endpoints: (o) => ({ [o.on]: 'read' }),
  endpointsText: 'the `on` endpoint (source, target or a named one): read',
  readOnly: true,
  description: 'poll a SQL condition (first column of the first row true) until it holds or times out',
  schema: z.strictObject({
    sql: z.string().min(1),
    on: z.string().regex(ENDPOINT_NAME, 'source, target, or an endpoint named under the front matter\'s connections'),
    timeout: duration.default('5 min'),
    interval: duration.default('2s'),
  }),
  async run(ctx, o) {
    const deadline = Date.now() + parseDuration(o.timeout)!;
    const every = parseDuration(o.interval)!;
    return withClient(await resolveEndpoint(endpointOf(ctx, o.on)), ctx.stepId, async (c) => {
      for (let attempt = 1; ; attempt++) {
        const r = await c.query(o.sql);
        const row = r.rows[0] as Record<string, unknown> | undefined;
        const v = row ? Object.values(row)[0] : undefined;
        if (v === true || v === 't') return { connections: { source: o.on === 'source' ? 1 : 0, target: o.on === 'target' ? 1 : 0 }, summary: `true after ${attempt} check(s)` };
        if (Date.now() + every > deadline) throw new CutoverError('E_SQL', `wait-for: condition still false after ${o.timeout} (last value: ${JSON.stringify(v)})`);
        ctx.progress(`check ${attempt}: ${JSON.stringify(v)}; next in ${o.interval}`);
        await new Promise((res, rej) => {
          const t = setTimeout(res, every);
          ctx.signal.addEventListener('abort', () => { clearTimeout(t); rej(new CutoverError('E_USAGE', 'interrupted')); }, { once: true });
        });
      }
    });
  },
});

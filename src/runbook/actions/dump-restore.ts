import { isAbsolute, join } from 'node:path';
import { refuseSameDatabaseAt } from '../../pg/entry-checks.js';
import { z } from 'zod';
import { dump } from '../../dump/dump.js';
import { restore, SECTIONS } from '../../dump/restore.js';
import { dumpProgress, restoreProgress } from '../../dump/progress-text.js';
import { DEMANDS } from '../../budget/auto.js';
import { defineAction, type ActionContext } from './types.js';
import { jobsOption, resolveJobs, selection } from './common.js';
import { humanDuration } from '../../lib/format.js';

const dirIn = (ctx: ActionContext, d: string) => (isAbsolute(d) ? d : join(ctx.stateDir, d));

export const dumpAction = defineAction({
  name: 'dump',
  endpoints: { source: 'read' },
  demand: DEMANDS.dump,
  description: 'pg_dump -Fd -j N into a directory (N+1 source connections)',
  schema: z.strictObject({
    dir: z.string().min(1).default('dump'),
    jobs: jobsOption,
    compress: z.number().int().min(0).max(9).default(1),
    snapshot: z.string().optional(),
    ...selection,
  }),
  async run(ctx, o) {
    const jobs = await resolveJobs(ctx, 'dump', o.jobs, DEMANDS.dump);
    const view = dumpProgress();
    const r = await dump({
      source: ctx.source, dir: dirIn(ctx, o.dir), jobs, compress: o.compress, snapshot: o.snapshot,
      schemas: o.schemas, excludeSchemas: o.exclude_schemas, tables: o.tables, excludeTables: o.exclude_tables,
      onProgress: (p) => { view.update(p); ctx.progress(() => view.text()); },
    });
    return { bytes: r.bytesOnDisk, connections: { source: jobs + 1, target: 0 }, concurrency: jobs,
      results: { kind: 'data', action: 'dump', tables: r.tables, bytes: r.bytesOnDisk }, summary: `${r.tables} tables${r.skipped ? ` (already complete: its data is ${humanDuration(Date.now() - Date.parse(r.finishedAt))} old)` : ''}` };
  },
});

export const restoreAction = defineAction({
  name: 'restore',
  endpoints: { target: 'write' },
  demand: DEMANDS.restore,
  description: 'pg_restore -j M from a dump directory, section by section (M target connections)',
  schema: z.strictObject({
    dir: z.string().min(1).default('dump'),
    jobs: jobsOption,
    sections: z.array(z.enum(SECTIONS)).optional(),
    skip_extensions: z.boolean().default(false),
    keep_owner: z.boolean().default(false),
    keep_acl: z.boolean().default(false),
    privileges: z.boolean().default(true),
  }),
  async run(ctx, o) {
    const jobs = await resolveJobs(ctx, 'restore', o.jobs, DEMANDS.restore);
    await refuseSameDatabaseAt('restore', ctx.source, ctx.target, { sourceOptional: true });
    const view = restoreProgress();
    const r = await restore({
      target: ctx.target, dir: dirIn(ctx, o.dir), jobs, sections: o.sections, skipExtensions: o.skip_extensions,
      noOwner: !o.keep_owner, noAcl: !o.keep_acl, privileges: o.privileges, roles: ctx.roles,
      onProgress: (p) => { view.update(p); ctx.progress(() => view.text()); },
    });
    return { connections: { source: 0, target: Math.max(2, jobs) }, concurrency: jobs, sections: r.sections,
      results: { kind: 'data', action: 'restore', tables: r.tables, sections: r.sections.map((x) => ({ phase: x.section, durationMs: x.durationMs, items: x.items, skipped: x.skipped })) }, summary: r.sections.map((s) => `${s.section} ${Math.round(s.durationMs / 1000)}s`).join(', ') };
  },
});

import { join } from 'node:path';
import { z } from 'zod';
import { copy } from '../../dump/copy/copy.js';
import { copyProgress } from '../../dump/copy/progress-text.js';
import { DEMANDS } from '../../budget/auto.js';
import { defineAction } from './types.js';
import { jobsOption, resolveJobs, selection } from './common.js';

export const copyAction = defineAction({
  name: 'copy',
  endpoints: { source: 'read', target: 'write' },
  demand: DEMANDS.copy,
  description: 'stream every table source -> target (COPY to COPY), indexes as tables land, constraints, sequences, ANALYZE',
  schema: z.strictObject({
    jobs: jobsOption,
    index_jobs: z.number().int().min(1).optional(),
    split_tables_larger_than_mb: z.number().min(0).optional(),
    privileges: z.boolean().default(true),
    settings: z.enum(['report', 'apply']).default('report'),
    ...selection,
  }),
  async run(ctx, o) {
    const jobs = await resolveJobs(ctx, 'copy', o.jobs, DEMANDS.copy);
    const view = copyProgress();
    const s = await copy({
      source: ctx.source, target: ctx.target, dir: join(ctx.stateDir, `copy-${ctx.stepId}`), resume: true, jobs, indexJobs: o.index_jobs ?? jobs,
      splitTablesLargerThan: o.split_tables_larger_than_mb === undefined ? undefined : o.split_tables_larger_than_mb * 1024 * 1024,
      schemas: o.schemas, excludeSchemas: o.exclude_schemas, tables: o.tables, excludeTables: o.exclude_tables,
      roles: ctx.roles, privileges: o.privileges, settings: o.settings,
      onNote: (m) => ctx.log(m), signal: ctx.signal,
      onProgress: (p) => { view.update(p); ctx.progress(() => view.text()); },
    });
    const rows = s.tables.reduce((n, t) => n + t.rows, 0), bytes = s.tables.reduce((n, t) => n + t.bytes, 0);
    return {
      rows, bytes, results: { kind: 'data', action: 'copy', tables: s.tables.length, rows, bytes, indexes: s.indexes },
      connections: s.connections, concurrency: jobs, phases: s.phases,
      summary: `${s.tables.length} tables, ${s.indexes} indexes, ${s.sequences} sequences, ${s.matviews.refreshed} matviews refreshed` +
        (s.privileges ? `, ${s.privileges.owners} owners and ${s.privileges.grants} grants applied` : ''),
    };
  },
});

import { z } from 'zod';
import { verify, VERIFY_LEVELS } from '../../verify/verify.js';
import { renderVerify } from '../../verify/render.js';
import { DEMANDS } from '../../budget/auto.js';
import { CutoverError } from '../../errors.js';
import { roleMapFromObject } from '../../pg/role-map.js';
import { defineAction } from './types.js';
import { tablesProgress } from '../../lib/progress.js';
import { jobsOption, resolveJobs } from './common.js';
import { verifyOutcome } from '../key-results.js';

export const verifyAction = defineAction({
  name: 'verify',
  endpoints: { source: 'read', target: 'read' },
  demand: DEMANDS.verify,
  description: 'counts, chunked checksums down to the differing rows, sequences and schema; fails on any difference',
  schema: z.strictObject({
    level: z.enum(VERIFY_LEVELS).default('checksums'),
    jobs: jobsOption,
    tables: z.array(z.string()).optional(),
    exclude_tables: z.array(z.string()).optional(),
    /** Source role -> target role for owners and grants. */
    role_map: z.record(z.string(), z.string()).optional(),
    chunk_rows: z.number().int().min(1).optional(),
  }),
  async run(ctx, o) {
    const jobs = await resolveJobs(ctx, 'verify', o.jobs, DEMANDS.verify);
    const view = tablesProgress();
    const r = await verify({
      source: ctx.source, target: ctx.target, level: o.level, jobs, tables: o.tables, excludeTables: o.exclude_tables,
      roleMap: o.role_map ? roleMapFromObject(o.role_map) : undefined, chunkRows: o.chunk_rows,
      onTables: (p) => { view.update(p); ctx.progress(() => view.text()); },
    });
    const rows = r.tables.reduce((n, t) => n + t.sourceRows, 0);
    // The counts go with the failure too: the report of a failed rehearsal shows what differed.
    const results = { kind: 'verify' as const, verify: verifyOutcome(o.level, r.ok, r.summary) };
    if (!r.ok) {
      throw new CutoverError('E_DIFFERENCE', `verify (${o.level}) found differences:\n${renderVerify(r)}`, { details: { results } });
    }
    return { rows, results, connections: { source: jobs + 1, target: jobs + 1 }, concurrency: jobs, summary: `identical: ${r.summary.tables} tables, ${rows} rows, ${r.summary.matviews} materialized views, ${r.summary.largeObjects} large objects` +
      `${r.sequences ? `, ${r.summary.sequences} sequences, ${r.summary.schemaObjects} schema objects, ${r.summary.privileges} privileges` : ''} compared` };
  },
});

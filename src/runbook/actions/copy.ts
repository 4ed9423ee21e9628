import { join } from 'node:path';
import { z } from 'zod';
import { copy, defaultCopyDir, type CopySummary } from '../../dump/copy/copy.js';
import { copyProgress } from '../../dump/copy/progress-text.js';
import { DEMANDS } from '../../budget/auto.js';
import { CopyDoc } from '../../json/shapes-engines.js';
import { humanBytes, humanDuration, table } from '../../lib/format.js';
import { defineAction, type ExecContext } from './types.js';
import { endpointOf, jobsOption, pgBindir, resolveJobs, selection, selectionFlags, wholeNumber } from './common.js';

const schema = z.strictObject({
  jobs: jobsOption.describe('tables copied at once (one source and one target connection each)'),
  index_jobs: wholeNumber(1).optional().describe('indexes built at once (target connections)'),
  split_tables_larger_than_mb: z.number().min(0).optional().describe('split bigger tables with an integer key into ranges copied in parallel (default: tables over 1 GiB and over one job\'s share)'),
  privileges: z.boolean().default(true).describe('owners and grants through the role map (false: every object left to the target role, without grants)'),
  settings: z.enum(['report', 'apply']).default('report').describe('the source database\'s ALTER DATABASE / ALTER ROLE ... IN DATABASE settings: report them, or apply them'),
  ...selection,
});

/** What only the command line says: a step's work directory is in its run's state dir, and it always resumes. */
const commandOptions = z.strictObject({
  dir: z.string().min(1).optional().describe('work directory (journal, schema dump, summary.json)'),
  resume: z.boolean().default(false).describe('continue an interrupted copy from its journal'),
  pg_bindir: pgBindir('pg_dump/pg_restore'),
});

async function execute(ctx: ExecContext, o: z.infer<typeof schema>, x: z.infer<typeof commandOptions>): Promise<{ summary: CopySummary; jobs: number }> {
  const source = endpointOf(ctx, 'source'), target = endpointOf(ctx, 'target');
  const jobs = await resolveJobs(ctx, 'copy', o.jobs, DEMANDS.copy);
  const view = copyProgress();
  const summary = await copy({
    source, target, dir: x.dir ?? defaultCopyDir(source, target), resume: x.resume, jobs, indexJobs: o.index_jobs ?? jobs, binDir: x.pg_bindir,
    splitTablesLargerThan: o.split_tables_larger_than_mb === undefined ? undefined : o.split_tables_larger_than_mb * 1024 * 1024,
    schemas: o.schemas, excludeSchemas: o.exclude_schemas, tables: o.tables, excludeTables: o.exclude_tables,
    roles: ctx.roles, privileges: o.privileges, settings: o.settings,
    onNote: (m) => ctx.log(m), signal: ctx.signal,
    onProgress: (p) => { view.update(p); ctx.progress(() => view.text()); },
  });
  return { summary, jobs };
}

export function renderCopySummary(s: CopySummary): string {
  const phases = table(['phase', 'side', 'duration', 'concurrency'], s.phases.map((p) => [p.phase, p.side, humanDuration(p.durationMs), String(p.concurrency)]));
  const tables = table(['table', 'rows', 'streamed', 'duration', 'parts'], s.tables.map((t) => [t.table, String(t.rows), humanBytes(t.bytes), t.skipped ? 'done earlier' : humanDuration(t.durationMs), String(t.parts)]));
  return `${phases}\n\n${tables}\n\ncopy: ${s.tables.length} tables, ${s.indexes} indexes, ${s.sequences} sequences, ${s.largeObjects} large objects, ` +
    `${s.matviews.refreshed} materialized views refreshed${s.matviews.unpopulated ? ` (${s.matviews.unpopulated} left unpopulated as on the source)` : ''}` +
    `${s.privileges ? `, ${s.privileges.owners} owners, ${s.privileges.grants} grants, ${s.privileges.defaultPrivileges} default privileges applied` : ', no owners or grants applied'} in ${humanDuration(s.durationMs)}` +
    `${s.resumed ? ' (resumed)' : ''}; peak connections: source ${s.connections.source}, target ${s.connections.target}`;
}

export const copyAction = defineAction({
  name: 'copy',
  endpoints: { source: 'read', target: 'write' },
  demand: DEMANDS.copy,
  description: 'stream every table source -> target (COPY to COPY), indexes as tables land, constraints, sequences, ANALYZE',
  schema,
  async run(ctx, o) {
    const { summary: s, jobs } = await execute(ctx, o, { dir: join(ctx.stateDir, `copy-${ctx.stepId}`), resume: true });
    const rows = s.tables.reduce((n, t) => n + t.rows, 0), bytes = s.tables.reduce((n, t) => n + t.bytes, 0);
    return {
      rows, bytes, results: { kind: 'data', action: 'copy', tables: s.tables.length, rows, bytes, indexes: s.indexes },
      connections: s.connections, concurrency: jobs, phases: s.phases,
      summary: `${s.tables.length} tables, ${s.indexes} indexes, ${s.sequences} sequences, ${s.matviews.refreshed} matviews refreshed` +
        (s.privileges ? `, ${s.privileges.owners} owners and ${s.privileges.grants} grants applied` : ''),
    };
  },
  cli: {
    description: 'stream every table from source to target (COPY to COPY, no disk), indexes as tables land, then constraints, sequences, ANALYZE',
    example: 'cutover copy --source env:SOURCE_URL --target env:TARGET_URL -j 4 --role-map u4f8a=app',
    roles: true,
    flags: {
      ...selectionFlags,
      jobs: { short: 'j', default: 2 },
      split_tables_larger_than_mb: { flag: 'split-tables-larger-than', arg: 'MB' },
      privileges: { help: 'leave every object to the target role, without grants (default: owners and grants through the role map)' },
      settings: { arg: 'mode', presets: [{ flag: 'apply-settings', value: 'apply', help: 'apply the source database\'s ALTER DATABASE / ALTER ROLE ... IN DATABASE settings (--settings apply; default: report them)' }] },
    },
    options: commandOptions,
    optionFlags: { dir: { arg: 'dir' }, pg_bindir: { arg: 'dir' } },
    execute,
    output: ({ summary }) => ({ doc: { ...summary, ok: true as const }, text: () => renderCopySummary(summary) }),
    doc: CopyDoc,
  },
});

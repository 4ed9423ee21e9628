import { isAbsolute, join } from 'node:path';
import { refuseSameDatabaseAt } from '../../pg/entry-checks.js';
import { z } from 'zod';
import { dump, type DumpResult } from '../../dump/dump.js';
import { restore, SECTIONS, type RestoreResult } from '../../dump/restore.js';
import { dumpProgress, restoreProgress } from '../../dump/progress-text.js';
import { DEMANDS } from '../../budget/auto.js';
import { DumpDoc, RestoreDoc } from '../../json/shapes-engines.js';
import { defineAction, type ActionContext, type ExecContext } from './types.js';
import { endpointOf, jobsOption, pgBindir, resolveJobs, selection, selectionFlags, wholeNumber } from './common.js';
import { humanBytes, humanDuration, table } from '../../lib/format.js';

// A step's dump directory is in its run's state dir unless absolute; a command's is where it says.
const dirIn = (ctx: ActionContext, d: string) => (isAbsolute(d) ? d : join(ctx.stateDir, d));

const dumpSchema = z.strictObject({
  dir: z.string().min(1).default('dump').describe('dump directory'),
  jobs: jobsOption.describe('pg_dump -j'),
  compress: wholeNumber(0, 9).default(1).describe('compression level'),
  snapshot: z.string().optional().describe('dump from this exported snapshot'),
  ...selection,
});
const dumpCommandOptions = z.strictObject({
  force: z.boolean().default(false).describe('replace a complete dump made with other options'),
  pg_bindir: pgBindir('pg_dump/pg_restore'),
});

async function executeDump(ctx: ExecContext, o: z.infer<typeof dumpSchema>, x: Partial<z.infer<typeof dumpCommandOptions>>): Promise<{ result: DumpResult; jobs: number }> {
  const jobs = await resolveJobs(ctx, 'dump', o.jobs, DEMANDS.dump);
  const view = dumpProgress();
  const result = await dump({
    source: endpointOf(ctx, 'source'), dir: o.dir, jobs, compress: o.compress, snapshot: o.snapshot, force: x.force, binDir: x.pg_bindir,
    schemas: o.schemas, excludeSchemas: o.exclude_schemas, tables: o.tables, excludeTables: o.exclude_tables,
    onProgress: (p) => { view.update(p); ctx.progress(() => view.text()); },
  });
  return { result, jobs };
}

export const dumpAction = defineAction({
  name: 'dump',
  endpoints: { source: 'read' },
  demand: DEMANDS.dump,
  description: 'pg_dump -Fd -j N into a directory (N+1 source connections)',
  schema: dumpSchema,
  async run(ctx, o) {
    const { result: r, jobs } = await executeDump(ctx, { ...o, dir: dirIn(ctx, o.dir) }, {});
    return { bytes: r.bytesOnDisk, connections: { source: jobs + 1, target: 0 }, concurrency: jobs,
      results: { kind: 'data', action: 'dump', tables: r.tables, bytes: r.bytesOnDisk }, summary: `${r.tables} tables${r.skipped ? ` (already complete: its data is ${humanDuration(Date.now() - Date.parse(r.finishedAt))} old)` : ''}` };
  },
  cli: {
    description: 'pg_dump -Fd -j N into a directory (N+1 source connections); a partial dump is never taken for complete',
    example: 'cutover dump --source env:SOURCE_URL --dir /backups/app -j 4',
    flags: { ...selectionFlags, dir: { required: true, arg: 'dir' }, jobs: { short: 'j', default: 2 }, compress: { short: 'Z', arg: '0-9' }, snapshot: { arg: 'id' } },
    options: dumpCommandOptions,
    optionFlags: { pg_bindir: { arg: 'dir' } },
    execute: executeDump,
    output: ({ result: r }, o) => ({
      doc: { ok: true as const, ...r },
      text: () => (r.skipped ? `dump: ${o.dir} is already complete with these options: skipped; its data is of ${r.finishedAt} (${humanDuration(Date.now() - Date.parse(r.finishedAt))} ago; --force dumps again)`
        : `dump: ${r.tables} tables into ${o.dir} (${humanBytes(r.bytesOnDisk)}) in ${humanDuration(r.durationMs)} with pg_dump ${r.pgDumpVersion} -j ${r.jobs}`),
    }),
    doc: DumpDoc,
  },
});

const restoreSchema = z.strictObject({
  dir: z.string().min(1).default('dump').describe('dump directory (made by cutover dump)'),
  jobs: jobsOption.describe('pg_restore -j (at least 2)'),
  sections: z.array(z.enum(SECTIONS)).optional().describe('sections to restore'),
  skip_extensions: z.boolean().default(false).describe('do not CREATE EXTENSION (the provider installs them)'),
  keep_owner: z.boolean().default(false).describe('with --no-privileges: restore ownership as on the source, unmapped'),
  keep_acl: z.boolean().default(false).describe('with --no-privileges: restore GRANTs as on the source, unmapped'),
  privileges: z.boolean().default(true).describe('owners and grants: the archive\'s, through the role map (false: none)'),
});
const restoreCommandOptions = z.strictObject({ pg_bindir: pgBindir('pg_restore') });

async function executeRestore(ctx: ExecContext, o: z.infer<typeof restoreSchema>, x: Partial<z.infer<typeof restoreCommandOptions>>): Promise<{ result: RestoreResult; jobs: number }> {
  const jobs = await resolveJobs(ctx, 'restore', o.jobs, DEMANDS.restore);
  const view = restoreProgress();
  const result = await restore({
    target: endpointOf(ctx, 'target'), dir: o.dir, jobs, sections: o.sections, skipExtensions: o.skip_extensions,
    noOwner: !o.keep_owner, noAcl: !o.keep_acl, privileges: o.privileges, roles: ctx.roles, binDir: x.pg_bindir,
    onProgress: (p) => { view.update(p); ctx.progress(() => view.text()); },
  });
  return { result, jobs };
}

export const restoreAction = defineAction({
  name: 'restore',
  endpoints: { target: 'write' },
  demand: DEMANDS.restore,
  description: 'pg_restore -j M from a dump directory, section by section (M target connections)',
  schema: restoreSchema,
  async run(ctx, o) {
    await refuseSameDatabaseAt('restore', ctx.source, ctx.target, { sourceOptional: true });
    const { result: r, jobs } = await executeRestore(ctx, { ...o, dir: dirIn(ctx, o.dir) }, {});
    return { connections: { source: 0, target: Math.max(2, jobs) }, concurrency: jobs, sections: r.sections,
      results: { kind: 'data', action: 'restore', tables: r.tables, sections: r.sections.map((x) => ({ phase: x.section, durationMs: x.durationMs, items: x.items, skipped: x.skipped })) }, summary: r.sections.map((s) => `${s.section} ${Math.round(s.durationMs / 1000)}s`).join(', ') };
  },
  cli: {
    description: 'pg_restore -j M from a complete dump directory, section by section, with managed-target defaults',
    example: 'cutover restore --target env:TARGET_URL --dir /backups/app -j 4',
    roles: true,
    flags: {
      dir: { required: true, arg: 'dir' }, jobs: { short: 'j', default: 2 }, sections: { flag: 'section', arg: 'name' },
      privileges: { help: 'no owners or grants (default: the archive\'s, through the role map)' },
    },
    options: restoreCommandOptions,
    optionFlags: { pg_bindir: { arg: 'dir' } },
    execute: executeRestore,
    output: ({ result: r }) => ({
      doc: { ok: true as const, ...r },
      text: () => table(['section', 'items', 'duration'], r.sections.map((s) => [s.section, String(s.items), s.skipped ? 'done earlier' : humanDuration(s.durationMs)])) +
        `\nrestore: ${humanDuration(r.durationMs)} with -j ${r.jobs}${r.dropped.length ? `; left out ${r.dropped.length} entr(ies) that fail on managed targets` : ''}`,
    }),
    doc: RestoreDoc,
  },
});

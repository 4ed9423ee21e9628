import type { Command } from 'commander';
import { copy, defaultCopyDir, type CopySummary } from '../../dump/copy/copy.js';
import { copyProgress } from '../../dump/copy/progress-text.js';
import { dump } from '../../dump/dump.js';
import { restore, SECTIONS, type Section } from '../../dump/restore.js';
import { resolveConnArg } from '../connection-args.js';
import { positiveInt, rolesPolicy, withJson, withRoleOptions } from '../options.js';
import { printResult } from '../json/emit.js';
import { CopyDoc, DumpDoc, RestoreDoc } from '../json/shapes-engines.js';
import { table, humanBytes, humanDuration } from '../../lib/format.js';
import { progressLine } from '../progress.js';
import { dumpProgress, restoreProgress } from '../../dump/progress-text.js';
import { CutoverError } from '../../errors.js';

interface Selection { schema?: string[]; excludeSchema?: string[]; table?: string[]; excludeTable?: string[] }
const warn = (m: string) => process.stderr.write(m + '\n');

function withSelection(cmd: Command): Command {
  return cmd
    .option('-n, --schema <name...>', 'only these schemas (exact names)')
    .option('-N, --exclude-schema <name...>', 'leave out these schemas')
    .option('-t, --table <schema.table...>', 'only these tables (exact names; quote parts with dots: "a.b".c)')
    .option('-T, --exclude-table <schema.table...>', 'leave out these tables')
    .option('--pg-bindir <dir>', 'directory holding pg_dump/pg_restore');
}
const sel = (o: Selection) => ({ schemas: o.schema, excludeSchemas: o.excludeSchema, tables: o.table, excludeTables: o.excludeTable });

export function renderCopySummary(s: CopySummary): string {
  const phases = table(['phase', 'side', 'duration', 'concurrency'], s.phases.map((p) => [p.phase, p.side, humanDuration(p.durationMs), String(p.concurrency)]));
  const tables = table(['table', 'rows', 'streamed', 'duration', 'parts'], s.tables.map((t) => [t.table, String(t.rows), humanBytes(t.bytes), t.skipped ? 'done earlier' : humanDuration(t.durationMs), String(t.parts)]));
  return `${phases}\n\n${tables}\n\ncopy: ${s.tables.length} tables, ${s.indexes} indexes, ${s.sequences} sequences, ${s.largeObjects} large objects, ` +
    `${s.matviews.refreshed} materialized views refreshed${s.matviews.unpopulated ? ` (${s.matviews.unpopulated} left unpopulated as on the source)` : ''}` +
    `${s.privileges ? `, ${s.privileges.owners} owners, ${s.privileges.grants} grants, ${s.privileges.defaultPrivileges} default privileges applied` : ', no owners or grants applied'} in ${humanDuration(s.durationMs)}` +
    `${s.resumed ? ' (resumed)' : ''}; peak connections: source ${s.connections.source}, target ${s.connections.target}`;
}

export function registerCopy(program: Command): void {
  withJson(withRoleOptions(withSelection(program.command('copy'))))
    .option('--no-privileges', 'leave every object to the target role, without grants (default: owners and grants through the role map)')
    .option('--apply-settings', 'apply the source database\'s ALTER DATABASE / ALTER ROLE ... IN DATABASE settings (default: report them)')
    .description('stream every table from source to target (COPY to COPY, no disk), indexes as tables land, then constraints, sequences, ANALYZE')
    .option('--source <conn>', 'source connection (URL, key=value, or env:VAR); default $CUTOVER_SOURCE_URL')
    .option('--target <conn>', 'target connection; default $CUTOVER_TARGET_URL')
    .option('-j, --jobs <n>', 'tables copied at once (one source and one target connection each)', positiveInt, 2)
    .option('--index-jobs <n>', 'indexes built at once (target connections)', positiveInt)
    .option('--split-tables-larger-than <MB>', 'split bigger tables with an integer key into ranges copied in parallel (default: tables over 1 GiB and over one job\'s share)', (v) => Number(v))
    .option('--dir <dir>', 'work directory (journal, schema dump, summary.json)')
    .option('--resume', 'continue an interrupted copy from its journal')
    .action(async (o: Selection & { source?: string; target?: string; jobs: number; indexJobs?: number; splitTablesLargerThan?: number; dir?: string; resume?: boolean; json?: boolean; pgBindir?: string; privileges: boolean; roleMap: string[]; createRoles?: boolean; dropUnmappedRoles?: boolean; applySettings?: boolean }) => {
      const source = resolveConnArg('source', o.source, 'CUTOVER_SOURCE_URL');
      const target = resolveConnArg('target', o.target, 'CUTOVER_TARGET_URL');
      const p = progressLine();
      const view = copyProgress();
      const summary = await copy({
        ...sel(o), source, target, jobs: o.jobs, indexJobs: o.indexJobs, dir: o.dir ?? defaultCopyDir(source, target), resume: o.resume,
        splitTablesLargerThan: o.splitTablesLargerThan === undefined ? undefined : o.splitTablesLargerThan * 1024 * 1024, binDir: o.pgBindir,
        roles: rolesPolicy(o), privileges: o.privileges, settings: o.applySettings ? 'apply' : 'report',
        onNote: (m) => warn(`note: ${m}`),
        onProgress: (x) => { view.update(x); p.update(() => `copy ${view.text()}`); },
      });
      p.done();
      printResult(o.json, CopyDoc, { ...summary, ok: true }, () => renderCopySummary(summary));
    });

  withJson(withSelection(program.command('dump')))
    .description('pg_dump -Fd -j N into a directory (N+1 source connections); a partial dump is never taken for complete')
    .option('--source <conn>', 'source connection; default $CUTOVER_SOURCE_URL')
    .requiredOption('--dir <dir>', 'dump directory')
    .option('-j, --jobs <n>', 'pg_dump -j', positiveInt, 2)
    .option('-Z, --compress <0-9>', 'compression level', (v) => Number(v), 1)
    .option('--snapshot <id>', 'dump from this exported snapshot')
    .option('--force', 'replace a complete dump made with other options')
    .action(async (o: Selection & { source?: string; dir: string; jobs: number; compress: number; snapshot?: string; force?: boolean; pgBindir?: string; json?: boolean }) => {
      const source = resolveConnArg('source', o.source, 'CUTOVER_SOURCE_URL');
      const p = progressLine();
      const view = dumpProgress();
      const r = await dump({ ...sel(o), source, dir: o.dir, jobs: o.jobs, compress: o.compress, snapshot: o.snapshot, force: o.force, binDir: o.pgBindir,
        onProgress: (x) => { view.update(x); p.update(() => `dump ${view.text()}`); } });
      p.done();
      printResult(o.json, DumpDoc, { ok: true, ...r }, () => (r.skipped ? `dump: ${o.dir} is already complete with these options: skipped; its data is of ${r.finishedAt} (${humanDuration(Date.now() - Date.parse(r.finishedAt))} ago; --force dumps again)`
        : `dump: ${r.tables} tables into ${o.dir} (${humanBytes(r.bytesOnDisk)}) in ${humanDuration(r.durationMs)} with pg_dump ${r.pgDumpVersion} -j ${r.jobs}`));
    });

  withJson(withRoleOptions(program.command('restore')))
    .option('--no-privileges', 'no owners or grants (default: the archive\'s, through the role map)')
    .description('pg_restore -j M from a complete dump directory, section by section, with managed-target defaults')
    .option('--target <conn>', 'target connection; default $CUTOVER_TARGET_URL')
    .requiredOption('--dir <dir>', 'dump directory (made by cutover dump)')
    .option('-j, --jobs <n>', 'pg_restore -j (at least 2)', positiveInt, 2)
    .option('--section <name...>', `sections to restore (${SECTIONS.join(', ')})`)
    .option('--keep-owner', 'with --no-privileges: restore ownership as on the source, unmapped')
    .option('--keep-acl', 'with --no-privileges: restore GRANTs as on the source, unmapped')
    .option('--skip-extensions', 'do not CREATE EXTENSION (the provider installs them)')
    .option('--pg-bindir <dir>', 'directory holding pg_restore')
    .action(async (o: { target?: string; dir: string; jobs: number; section?: string[]; keepOwner?: boolean; keepAcl?: boolean; skipExtensions?: boolean; pgBindir?: string; privileges: boolean; roleMap: string[]; createRoles?: boolean; dropUnmappedRoles?: boolean; json?: boolean }) => {
      const target = resolveConnArg('target', o.target, 'CUTOVER_TARGET_URL');
      const bad = (o.section ?? []).filter((s) => !(SECTIONS as readonly string[]).includes(s));
      if (bad.length) throw new CutoverError('E_USAGE', `unknown section(s) ${bad.join(', ')}: use ${SECTIONS.join(', ')}`);
      const p = progressLine();
      const view = restoreProgress();
      const r = await restore({ target, dir: o.dir, jobs: o.jobs, sections: o.section as Section[] | undefined, noOwner: !o.keepOwner, noAcl: !o.keepAcl,
        privileges: o.privileges, roles: rolesPolicy(o),
        skipExtensions: o.skipExtensions, binDir: o.pgBindir,
        onProgress: (x) => { view.update(x); p.update(() => `restore ${view.text()}`); } });
      p.done();
      printResult(o.json, RestoreDoc, { ok: true, ...r }, () => table(['section', 'items', 'duration'], r.sections.map((s) => [s.section, String(s.items), s.skipped ? 'done earlier' : humanDuration(s.durationMs)])) +
        `\nrestore: ${humanDuration(r.durationMs)} with -j ${r.jobs}${r.dropped.length ? `; left out ${r.dropped.length} entr(ies) that fail on managed targets` : ''}`);
    });
}

/**
 * Parallel directory-format dump: `pg_dump -Fd -j N` (N+1 source connections). The directory is written
 * as DIR.partial and renamed to DIR with a completion marker only when pg_dump succeeded, so a partial
 * dump is never mistaken for a complete one; a finished dump with the same options is skipped (resume).
 */
import { CUTOVER_SCHEMA, FENCE_SCHEMA } from '../pg/private-schema.js';
import { quoteIdent } from '../pg/sql.js';
import { displayName } from '../pg/table-name.js';
import { resolveTableSelection } from '../pg/entry-checks.js';
import { existsSync } from 'node:fs';
import { readFile, rename, rm, writeFile, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { CutoverError } from '../errors.js';
import type { ConnParams } from '../pg/conninfo.js';
import { resolveEndpoint } from '../pg/endpoint.js';
import { withClient } from '../pg/connect.js';
import { serverFacts, tableFacts } from '../pg/facts.js';
import { requireClientTool } from '../pg/tools.js';
import { runTool } from '../pg/run-tool.js';
import { type SelectionOptions, selectionArgs } from './options.js';
import { openSnapshotGroup, type SnapshotGroup } from '../pg/snapshot.js';
import { changeSource } from '../replicate/changes/index.js';
import { bindingOf, databaseIdentity, type DbBinding } from '../pg/identity.js';
import { refuseOtherDatabases } from '../pg/bound-state.js';
import type { TablesDone } from '../lib/progress.js';

export const COMPLETE_MARKER = 'cutover-complete.json';

export interface DumpOptions extends SelectionOptions {
  source: ConnParams;
  dir: string;
  /** pg_dump -j (opens jobs + 1 source connections). Default 2. */
  jobs?: number;
  /** 0-9 (pg_dump -Z). Default: pg_dump's own (gzip 6 for directory format)... we default to 1: fast. */
  compress?: number;
  /** Start from this exported snapshot (e.g. the one change capture recorded). */
  snapshot?: string;
  binDir?: string;
  /** Only the schema (the streaming copy moves the data itself). */
  schemaOnly?: boolean;
  /** Dump again even if a complete dump with the same options exists. */
  force?: boolean;
  onProgress?: (p: DumpProgress) => void;
  onNote?: (message: string) => void;
}

/** Tables done and their on-disk size and reltuples, of the totals; pg_dump reports per table, not within one. */
export interface DumpProgress extends TablesDone {
  /** The table last finished. */
  current?: string;
  /** Tables being dumped now ("schema.name" as pg_dump prints them), with their size. */
  running: { table: string; bytes: number; startedAt: number }[];
}

export interface DumpResult {
  dir: string;
  skipped: boolean;
  durationMs: number;
  tables: number;
  bytesOnDisk: number;
  pgDumpVersion: string;
  jobs: number;
  /** When pg_dump finished (a skipped dump: how old the data it holds is). */
  finishedAt: string;
}

/** `source`: the database dumped (a complete dump is never taken for another database's). */
interface Marker { optionsHash: string; finishedAt: string; durationMs: number; tables: number; pgDumpVersion: string; jobs: number; source?: DbBinding }

async function dirBytes(dir: string): Promise<number> {
  let n = 0;
  for (const f of await readdir(dir).catch(() => [] as string[])) n += (await stat(join(dir, f)).catch(() => ({ size: 0 }))).size;
  return n;
}

/** Reads a dump directory's completion marker; throws if the dump is missing or incomplete. */
export async function requireCompleteDump(dir: string): Promise<Marker> {
  if (!existsSync(join(dir, 'toc.dat'))) {
    const partial = existsSync(`${dir}.partial`);
    throw new CutoverError('E_USAGE', `${dir} is not a dump directory${partial ? ` (a partial dump is at ${dir}.partial: pg_dump did not finish)` : ''}`, {
      hint: 'run `cutover dump` (again) to produce a complete dump',
    });
  }
  if (!existsSync(join(dir, COMPLETE_MARKER))) {
    throw new CutoverError('E_USAGE', `${dir} is incomplete: it has no ${COMPLETE_MARKER} (pg_dump was interrupted or the dump was not made by cutover)`, {
      hint: 'rerun `cutover dump`; to restore a dump made elsewhere, use pg_restore directly',
    });
  }
  return JSON.parse(await readFile(join(dir, COMPLETE_MARKER), 'utf8')) as Marker;
}

export async function dump(o: DumpOptions): Promise<DumpResult> {
  const jobs = Math.max(1, o.jobs ?? 2);
  const source = await resolveEndpoint(o.source);
  o = { ...o, ...(await resolveTableSelection('dump', source, o)) };
  const { facts, tables, ident } = await withClient(source, 'dump-plan', async (c) => ({ facts: await serverFacts(c), tables: await tableFacts(c), ident: bindingOf(await databaseIdentity(c, source)) }));
  const tool = await requireClientTool('pg_dump', facts.major, o.binDir);
  // cutover's own capture schema never travels (its triggers on user tables are filtered at restore).
  const args = ['-Fd', '-j', String(jobs), '--verbose', '-Z', String(o.compress ?? 1), ...selectionArgs(o), '-N', quoteIdent(CUTOVER_SCHEMA), '-N', quoteIdent(FENCE_SCHEMA),
    ...(o.snapshot ? ['--snapshot', o.snapshot] : []), ...(o.schemaOnly ? ['--schema-only'] : [])];
  // The snapshot id is left out: a resumed copy dumps from a new snapshot but the same options.
  const hashed = args.filter((a, i) => a !== '--snapshot' && args[i - 1] !== '--snapshot');
  const optionsHash = createHash('sha256').update(JSON.stringify({ hashed, db: `${source.host}:${source.port}/${source.dbname}` })).digest('hex').slice(0, 16);

  if (!o.force && existsSync(join(o.dir, COMPLETE_MARKER))) {
    const m = JSON.parse(await readFile(join(o.dir, COMPLETE_MARKER), 'utf8')) as Marker;
    if (m.optionsHash === optionsHash) {
      if (!m.source) {
        throw new CutoverError('E_USAGE', `${o.dir} holds a complete dump that does not record which database it is of (made by an older cutover)`, {
          hint: 'pass --force to dump again into it, or choose another directory',
        });
      }
      refuseOtherDatabases({ source: m.source }, { source: ident, target: ident }, `the complete dump in ${o.dir}`,
        'dump this database into another directory (or pass --force to replace that dump)');
      return { dir: o.dir, skipped: true, durationMs: 0, tables: m.tables, bytesOnDisk: await dirBytes(o.dir), pgDumpVersion: m.pgDumpVersion, jobs: m.jobs, finishedAt: m.finishedAt };
    }
    throw new CutoverError('E_USAGE', `${o.dir} holds a complete dump made with other options`, { hint: 'choose another directory, or pass --force to replace it' });
  }
  const partial = `${o.dir}.partial`;
  await rm(partial, { recursive: true, force: true });
  const dataTables = tables.filter((t) => t.kind === 'r');
  const byName = new Map(dataTables.map((t) => [displayName(t), t]));
  const progress: DumpProgress = {
    tablesDone: 0, tablesTotal: dataTables.length, bytesDone: 0, bytesTotal: dataTables.reduce((n, t) => n + t.bytes, 0),
    rowsDone: 0, rowsTotal: dataTables.reduce((n, t) => n + t.estimatedRows, 0), running: [],
  };
  const report = () => o.onProgress?.({ ...progress, running: progress.running.map((r) => ({ ...r })) });
  const finished = (i: number) => {
    const [r] = progress.running.splice(i, 1);
    const t = byName.get(r!.table);
    progress.tablesDone++;
    progress.bytesDone += t?.bytes ?? 0;
    progress.rowsDone += t?.estimatedRows ?? 0;
    progress.current = r!.table;
  };
  // With change capture on the source (and no snapshot given), pg_dump reads a snapshot we export and
  // record, so that replication starts exactly where the dump's data ends.
  let exporter: SnapshotGroup | undefined;
  if (!o.snapshot && !o.schemaOnly) {
    const g = await openSnapshotGroup(source, 'dump-snapshot', 0);
    if (await changeSource.recordStart(source, g.leader, o.onNote)) {
      exporter = g;
      args.push('--snapshot', g.snapshotId);
    } else await g.close();
  }
  const run = () => runTool(tool.path, [...args, '-f', partial], source, 'dump', {
    connections: jobs > 1 ? jobs + 1 : 1,
    onStderrLine: (line) => {
      // pg_dump -v prints 'dumping contents of table "schema.name"' as a table starts (both modes) and, in
      // parallel mode, 'finished item 1234 TABLE DATA name' (the name only) as it ends; serially a table
      // ends when the next starts.
      const fin = /finished item \d+ TABLE DATA (.+)$/.exec(line);
      const dumping = /dumping contents of table "(.+)"$/.exec(line);
      if (fin) {
        // The earliest started table of that name (names repeat across schemas).
        const i = progress.running.findIndex((r) => byName.get(r.table)?.name === fin[1]);
        if (i >= 0) { finished(i); report(); }
      } else if (dumping) {
        if (jobs === 1) while (progress.running.length) finished(0);
        progress.running.push({ table: dumping[1]!, bytes: byName.get(dumping[1]!)?.bytes ?? 0, startedAt: Date.now() });
        report();
      }
    },
  });
  const r = await run().finally(() => exporter?.close());
  const marker: Marker = { optionsHash, finishedAt: new Date().toISOString(), durationMs: r.durationMs, tables: dataTables.length, pgDumpVersion: tool.version, jobs, source: ident };
  await writeFile(join(partial, COMPLETE_MARKER), JSON.stringify(marker, null, 2));
  await rm(o.dir, { recursive: true, force: true });
  await rename(partial, o.dir);
  return { dir: o.dir, skipped: false, durationMs: r.durationMs, tables: dataTables.length, bytesOnDisk: await dirBytes(o.dir), pgDumpVersion: tool.version, jobs, finishedAt: marker.finishedAt };
}

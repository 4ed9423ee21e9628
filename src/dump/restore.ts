/**
 * `pg_restore -j M` from a complete dump directory, one section at a time (pre-data, data, post-data) so
 * each is timed on its own, with managed-target defaults (--no-owner --no-acl --no-tablespaces, no
 * COMMENT ON EXTENSION / event triggers / publications). Resumable: finished sections and items
 * (pg_restore's "finished item N"; in serial mode an item is done when the next one starts or pg_restore exits 0) are
 * recorded in the dump directory per target and skipped next time.
 */
import { existsSync } from 'node:fs';
import { readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { CutoverError } from '../errors.js';
import type { ConnParams } from '../pg/conninfo.js';
import { resolveEndpoint } from '../pg/endpoint.js';
import { withClient } from '../pg/connect.js';
import { serverFacts, tableFacts } from '../pg/facts.js';
import { requireClientTool } from '../pg/tools.js';
import { runTool } from '../pg/run-tool.js';
import { qualify } from '../pg/sql.js';
import { requireCompleteDump } from './dump.js';
import { filterToc, parseToc } from './toc.js';
import { bindingOf, databaseIdentity, describeBinding, sameBinding, type DbBinding } from '../pg/identity.js';
import { refuseOtherDatabases } from '../pg/bound-state.js';
import type { RestoreDefaults } from './options.js';
import { DEFAULT_ROLES_POLICY, type RolesPolicy } from '../pg/role-map.js';
import { applyPrivileges, planPrivileges, type ApplyResult } from './roles.js';

export const SECTIONS = ['pre-data', 'data', 'post-data'] as const;
export type Section = (typeof SECTIONS)[number];

export interface RestoreOptions extends RestoreDefaults {
  target: ConnParams;
  dir: string;
  /** pg_restore -j (at least 2: pg_restore reports per-item completion only in parallel mode). Default 2. */
  jobs?: number;
  sections?: Section[];
  /** Objects to leave out, as "catalogOid:objectOid" (the copy engine builds some itself). */
  dropObjects?: Set<string>;
  binDir?: string;
  /**
   * Owners, grants and default privileges from the archive, with roles mapped, after post-data (roles
   * checked before anything is restored). Replaces pg_restore's own (noOwner/noAcl are then ignored).
   * Default true, as in copy; false restores without them (or as on the source with noOwner/noAcl false).
   */
  privileges?: boolean;
  /**
   * Policies are left to the privileges step (their TO roles mapped) instead of pg_restore. Default: as
   * `privileges`; the copy, which applies privileges itself, sets it.
   */
  policiesApart?: boolean;
  roles?: RolesPolicy;
  onProgress?: (p: RestoreProgress) => void;
}

/** A section's archive items done of all; in the data section also the archive's bytes (compressed, per table file). */
export interface RestoreProgress {
  section: Section;
  itemsDone: number;
  itemsTotal: number;
  /** The item last started or finished ("TABLE DATA app orders"). */
  current?: string;
  bytesDone: number;
  bytesTotal: number;
  /** Items pg_restore's workers are on now, with their data file's size (0 when none). */
  running: { item: string; bytes: number; startedAt: number }[];
}

export interface RestoreResult {
  sections: { section: Section; durationMs: number; skipped: boolean; items: number }[];
  /** Tables whose rows the dump holds (TABLE DATA entries restored or already there). */
  tables: number;
  durationMs: number;
  jobs: number;
  dropped: string[];
  privileges?: ApplyResult;
}

/** `target`: the database restored into; resuming (TRUNCATE, --clean) is refused against any other. */
interface RestoreState { sectionsDone: Section[]; itemsDone: number[]; started: Section[]; target?: DbBinding }

const PRE = new Set(['SCHEMA', 'TYPE', 'DOMAIN', 'FUNCTION', 'PROCEDURE', 'AGGREGATE', 'TABLE', 'SEQUENCE', 'SEQUENCE OWNED BY', 'VIEW',
  'DEFAULT', 'TABLE ATTACH', 'COMMENT', 'EXTENSION', 'COLLATION', 'OPERATOR', 'CAST', 'FOREIGN TABLE', 'MATERIALIZED VIEW', 'SHELL TYPE']);
const DATA = new Set(['TABLE DATA', 'SEQUENCE SET', 'BLOB', 'BLOBS', 'LARGE OBJECT', 'BLOB DATA', 'MATERIALIZED VIEW DATA']);

export async function restore(o: RestoreOptions): Promise<RestoreResult> {
  const t0 = Date.now();
  const jobs = Math.max(2, o.jobs ?? 2);
  const marker = await requireCompleteDump(o.dir);
  const target = await resolveEndpoint(o.target);
  const { facts, ident } = await withClient(target, 'restore-plan', async (c) => ({ facts: await serverFacts(c), ident: bindingOf(await databaseIdentity(c, target)) }));
  // Restoring a dump into the database it was taken from would write over the source: refused.
  if (marker.source && sameBinding(marker.source, ident)) {
    throw new CutoverError('E_USAGE', `restore: the target is the database this dump was taken from (${describeBinding(ident)}): the source and the target are the same database`, {
      hint: 'point --target (or the runbook\'s connections.target) at the new server; nothing was changed',
    });
  }
  const dumpMajor = Number(/^(\d+)/.exec(marker.pgDumpVersion)?.[1] ?? 0);
  const tool = await requireClientTool('pg_restore', Math.max(dumpMajor, 0), o.binDir);
  const fullList = (await runTool(tool.path, ['-l', o.dir], target, 'restore-list')).stdout;
  const privileges = o.privileges ?? true;
  const { list, dropped } = filterToc(fullList, {
    dropManagedHazards: o.dropManagedHazards ?? true, dropExtensions: o.skipExtensions ?? false, dropObjects: o.dropObjects,
    policiesApart: o.policiesApart ?? privileges,
  });
  const entries = parseToc(list.split('\n').filter((l) => !l.startsWith(';')).join('\n'));
  const stateFile = join(o.dir, `restore-state-${createHash('sha256').update(`${target.host}:${target.port}/${target.dbname}`).digest('hex').slice(0, 12)}.json`);
  const state: RestoreState = existsSync(stateFile)
    ? (JSON.parse(await readFile(stateFile, 'utf8')) as RestoreState)
    : { sectionsDone: [], itemsDone: [], started: [], target: ident };
  // The state names the target by URL; the database behind the URL must be the one it describes.
  if (!state.target && state.started.length) {
    throw new CutoverError('E_USAGE', `${stateFile} does not record which database it was restoring into (written by an older cutover): it cannot be resumed safely`, {
      hint: 'remove that file and restore into an empty database; nothing was changed',
    });
  }
  if (state.target) {
    refuseOtherDatabases({ target: state.target }, { source: ident, target: ident }, `the restore state ${stateFile}`,
      'this URL now reaches another database (recreated, or another server): restore into it from the start with another dump directory, or reach the original one; nothing was changed');
  }
  state.target ??= ident;
  // A fresh restore that creates the schema goes into an empty database (pg_restore would stop at the
  // first object that exists, with a raw error), as the copy does.
  if (!state.started.length && (o.sections ?? SECTIONS).includes('pre-data')) {
    const existing = (await withClient(target, 'restore-plan', tableFacts)).length;
    if (existing > 0) {
      throw new CutoverError('E_PREFLIGHT', `the target database "${target.dbname}" already holds ${existing} table(s)`, {
        hint: 'restore into an empty database (DROP and CREATE it), or restore only the sections that remain (--section data, --section post-data); nothing was changed',
      });
    }
  }
  const save = () => writeFile(stateFile, JSON.stringify(state));
  const done = new Set(state.itemsDone);
  const result: RestoreResult = { sections: [], tables: entries.filter((e) => e.desc === 'TABLE DATA').length, durationMs: 0, jobs, dropped: dropped.map((d) => d.line) };
  const common = ['--no-owner', '--no-acl', '--no-tablespaces', '--exit-on-error', '--verbose', '-d', `dbname='${target.dbname.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`];
  if (o.noOwner === false && !privileges) common.splice(common.indexOf('--no-owner'), 1);
  if (o.noAcl === false && !privileges) common.splice(common.indexOf('--no-acl'), 1);
  // Roles owners and grants need are decided before anything is restored (a missing one refuses here).
  const policy = o.roles ?? DEFAULT_ROLES_POLICY;
  const withPostData = (o.sections ?? SECTIONS).includes('post-data') && !state.sectionsDone.includes('post-data');
  const privPlan = privileges && withPostData
    ? await withClient(target, 'restore-roles', (c) => planPrivileges({
      dir: o.dir, toolPath: tool.path, target, policy, targetClient: c,
      dropManagedHazards: o.dropManagedHazards ?? true, dropExtensions: o.skipExtensions ?? false, dropObjects: o.dropObjects,
    }))
    : undefined;

  // Each TABLE DATA item's file ("1234.dat.gz", ".dat", ".dat.lz4", ...): its size weighs it in the progress.
  const fileBytes = new Map<number, number>();
  for (const f of await readdir(o.dir)) {
    const m = /^(\d+)\.dat(\.\w+)?$/.exec(f);
    if (m) fileBytes.set(Number(m[1]), (await stat(join(o.dir, f))).size);
  }

  for (const section of o.sections ?? SECTIONS) {
    const inSection = entries.filter((e) => sectionOf(e.desc) === section);
    if (state.sectionsDone.includes(section)) {
      result.sections.push({ section, durationMs: 0, skipped: true, items: inSection.length });
      continue;
    }
    const todo = inSection.filter((e) => !done.has(e.dumpId));
    const resuming = state.started.includes(section);
    if (resuming && section === 'data') {
      // COPY is atomic per table, but a table whose finish was not recorded may hold rows: empty it.
      // TOC lines are "schema name owner" and names may hold spaces: match against the target's catalog.
      const pendingData = todo.filter((e) => e.desc === 'TABLE DATA').map((e) => e.rest);
      await withClient(target, 'restore-resume', async (c) => {
        for (const t of (await tableFacts(c)).filter((x) => x.kind === 'r')) {
          if (pendingData.some((r) => r.startsWith(`${t.schema} ${t.name} `))) await c.query(`TRUNCATE ${qualify(t.schema, t.name)}`);
        }
      });
    }
    if (!state.started.includes(section)) { state.started.push(section); await save(); }
    const listFile = join(o.dir, `.restore-${section}.list`);
    // pg_restore --section picks the section's entries; we only leave out what already finished.
    const keepIds = new Set(entries.filter((e) => !done.has(e.dumpId)).map((e) => e.dumpId));
    await writeFile(listFile, list.split('\n').map((l) => {
      const m = /^(\d+);/.exec(l);
      return m && !keepIds.has(Number(m[1])) ? `;${l}` : l;
    }).join('\n'));
    const s0 = Date.now();
    let itemsDone = inSection.length - todo.length;
    const bytesTotal = inSection.reduce((n, e) => n + (fileBytes.get(e.dumpId) ?? 0), 0);
    let bytesDone = inSection.filter((e) => done.has(e.dumpId)).reduce((n, e) => n + (fileBytes.get(e.dumpId) ?? 0), 0);
    const running = new Map<number, RestoreProgress['running'][number]>();
    const report = (current: string) => o.onProgress?.({ section, itemsDone, itemsTotal: inSection.length, current, bytesDone, bytesTotal, running: [...running.values()].map((r) => ({ ...r })) });
    const args = [...common, '-j', String(jobs), `--section=${section}`, '-L', listFile,
      // An interrupted pre-data is redone from scratch: drop what it had created.
      ...(resuming && section === 'pre-data' ? ['--clean', '--if-exists'] : []), o.dir];
    let pending = Promise.resolve();
    const finished = (id: number, name: string) => {
      if (done.has(id) || !keepIds.has(id)) return;
      done.add(id);
      state.itemsDone.push(id);
      itemsDone++;
      bytesDone += fileBytes.get(id) ?? 0;
      running.delete(id);
      pending = pending.then(save);
      report(name);
    };
    // Serial mode prints 'processing item N' when an item *starts*: it is done only when the next one
    // starts, the parallel phase begins, or pg_restore exits 0 (an item killed half-way is done again).
    let serial: { id: number; name: string } | undefined;
    const serialDone = () => { if (serial) finished(serial.id, serial.name); serial = undefined; };
    try {
      await runTool(tool.path, args, target, `restore-${section}`, {
        connections: jobs,
        onStderrLine: (line) => {
          // Parallel mode: 'launching item N ...' as a worker takes an item, 'finished item N ...' as it ends.
          const launched = /launching item (\d+) (.*)$/.exec(line);
          if (launched) {
            serialDone();
            const id = Number(launched[1]);
            if (!done.has(id) && keepIds.has(id)) {
              running.set(id, { item: launched[2]!, bytes: fileBytes.get(id) ?? 0, startedAt: Date.now() });
              report(launched[2]!);
            }
            return;
          }
          const fin = /finished item (\d+) (.*)$/.exec(line);
          if (fin) { finished(Number(fin[1]), fin[2]!); return; }
          const started = /processing item (\d+) (.*)$/.exec(line);
          if (!started) return;
          serialDone();
          serial = { id: Number(started[1]), name: started[2]! };
          if (!done.has(serial.id) && keepIds.has(serial.id)) {
            running.set(serial.id, { item: serial.name, bytes: fileBytes.get(serial.id) ?? 0, startedAt: Date.now() });
            report(serial.name);
          }
        },
      });
      serialDone();
    } catch (e) {
      await pending;
      if (e instanceof CutoverError && facts.major < dumpMajor) {
        throw new CutoverError('E_CHILD', `${e.message}\n(the target runs PostgreSQL ${facts.major}, older than the dump's ${dumpMajor}: a downgrade may not restore)`, { cause: e });
      }
      throw e;
    } finally {
      await rm(listFile, { force: true });
    }
    await pending;
    state.sectionsDone.push(section);
    await save();
    result.sections.push({ section, durationMs: Date.now() - s0, skipped: false, items: inSection.length });
  }
  if (privPlan) result.privileges = await withClient(target, 'restore-privileges', (c) => applyPrivileges(c, privPlan, policy), { settings: { search_path: '' } });
  result.durationMs = Date.now() - t0;
  return result;
}

function sectionOf(desc: string): Section {
  if (PRE.has(desc)) return 'pre-data';
  if (DATA.has(desc)) return 'data';
  return 'post-data';
}

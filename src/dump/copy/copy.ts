/**
 * The streaming copy: schema with pg_dump --schema-only / pg_restore (pre-data first), then every table
 * streamed COPY TO STDOUT -> COPY FROM STDIN (no disk), all source workers on one exported snapshot,
 * largest tables first, whole tables as TRUNCATE + COPY FREEZE in one transaction, big tables split into
 * key ranges. A table's indexes start the moment its data has landed (shared index pool); primary keys and
 * unique constraints are built as unique indexes and attached with ADD CONSTRAINT ... USING INDEX. Then
 * ANALYZE per table in the same pool; a materialized view is refreshed in that pool once what it reads is
 * analyzed, then its indexes are built. Then large objects, sequences, the rest of post-data (triggers,
 * partition indexes...).
 * Every finished unit is journaled: a killed copy resumes with only what was unfinished.
 *
 * Locks on the source: ACCESS SHARE only (COPY TO, pg_dump). The snapshot is held for the whole copy,
 * which holds back vacuum on the source: progress output says so.
 */
import { displayName } from '../../pg/table-name.js';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import type pg from 'pg';
import { CutoverError } from '../../errors.js';
import type { ConnParams } from '../../pg/conninfo.js';
import { resolveEndpoint } from '../../pg/endpoint.js';
import { connect, withClient } from '../../pg/connect.js';
import { serverFacts, setSequences, tableFacts } from '../../pg/facts.js';
import { openSnapshotGroup, READ_SETTINGS, type SnapshotGroup } from '../../pg/snapshot.js';
import { loadSql, qualify, quoteIdent, quoteLiteral } from '../../pg/sql.js';
import { classifySqlState, sqlStateOf } from '../../pg/sqlstate.js';
import { requireClientTool } from '../../pg/tools.js';
import { TaskPool } from '../../lib/pool.js';
import { copyDemand } from '../../budget/auto.js';
import { governor } from '../../budget/governor.js';
import { dump } from '../dump.js';
import { restore } from '../restore.js';
import { describeTocLine } from '../toc.js';
import type { RestoreDefaults, SelectionOptions } from '../options.js';
import { Journal } from './journal.js';
import { checkCopyBinding, recordCopyBinding } from './bind.js';
import { type CopyForeignKey, type CopyIndex, type CopyTable, type CopyUnit, planUnits, rangePredicate, readForeignKeys, readIndexes, readTables, tableKey } from './plan.js';
import { withRetry } from '../../pg/sqlstate.js';
import { streamCopy } from '../../pg/copy-stream.js';
import { changeSource } from '../../replicate/changes/index.js';
import { deferConstraint } from '../../replicate/deferred-constraints.js';
import { refuseSameDatabaseAt, resolveTableSelection } from '../../pg/entry-checks.js';
import { DEFAULT_ROLES_POLICY, type RolesPolicy } from '../../pg/role-map.js';
import { applyPrivileges, decideRoles, neededRolesFromCatalog, renderPrivilegeStatements, sourceRoles, type RoleDecision } from '../roles.js';
import { neededRoles, type PrivilegeStatement } from '../privileges.js';
import { alignExtensionVersions, applyDbSettings, describeSetting, largeObjectPrivileges, readDbSettings, MatviewSchedule, readMatviews, requireReadableRows, type Matview } from './fidelity.js';
import { sleep } from '../../lib/backoff.js';
import type { Endpoint } from '../../pg/endpoint.js';

export interface CopyOptions extends SelectionOptions, RestoreDefaults {
  source: ConnParams;
  target: ConnParams;
  /** Tables copied at once: source and target connections each. Default 2. */
  jobs?: number;
  /** Indexes built at once (target connections). Default = jobs. */
  indexJobs?: number;
  /** Work directory for the schema dump, the journal and summary.json. */
  dir: string;
  /** Continue a previous copy from its journal. Without it, an existing journal is an error. */
  resume?: boolean;
  /**
   * Split tables bigger than this (bytes) into key ranges copied in parallel; 0 disables. Default: only
   * tables over 1 GiB that exceed one job's fair share of the data (split parts lose COPY FREEZE, which
   * costs more later than the balance gains unless one table dominates; measured in bench/copy.ts).
   */
  splitTablesLargerThan?: number;
  /** maintenance_work_mem for index builds on the target. Default '512MB'. */
  maintenanceWorkMem?: string;
  binDir?: string;
  /** Role map and what to do with roles missing on the target (owners and grants follow it). */
  roles?: RolesPolicy;
  /** Apply owners, grants and default privileges (mapped). Default true; false leaves every object to the target role, without grants. */
  privileges?: boolean;
  /** The source database's ALTER DATABASE / ALTER ROLE ... IN DATABASE settings: reported (default) or applied (roles mapped). */
  settings?: 'report' | 'apply';
  onProgress?: (p: CopyProgress) => void;
  /** Human-readable notes (e.g. "holding a snapshot on the source since ..."). */
  onNote?: (message: string) => void;
  /** Stops starting tables and indexes (a run's interruption; its statements are cancelled on the server). */
  signal?: AbortSignal;
}

export interface CopyProgress {
  phase: 'schema' | 'data' | 'indexes' | 'large-objects' | 'post-data' | 'sequences' | 'matviews' | 'privileges' | 'done';
  tablesDone: number;
  tablesTotal: number;
  /** Bytes streamed so far (COPY text), against the tables' on-disk size: a close estimate, not exact. */
  bytesDone: number;
  bytesTotal: number;
  indexesDone: number;
  indexesTotal: number;
  matviewsDone: number;
  matviewsTotal: number;
  /**
   * Rows of finished tables and parts (exact), plus those streaming now estimated from their bytes;
   * against pg_class.reltuples (0 for a table never analysed).
   */
  rowsDone: number;
  rowsTotal: number;
  /** Tables (or parts of a split table) streaming now. */
  running: CopyRunning[];
}

export interface CopyRunning {
  table: string;
  /** "2/8" for a part of a split table. */
  part?: string;
  bytesDone: number;
  /** The table's on-disk size (its share for a part). */
  bytesTotal: number;
  startedAt: number;
}

export interface PhaseTiming { phase: string; side: 'source' | 'target' | 'both'; durationMs: number; skipped?: boolean; concurrency: number }

export interface CopySummary {
  ok: boolean;
  resumed: boolean;
  snapshot: string;
  newSnapshotOnResume: boolean;
  durationMs: number;
  phases: PhaseTiming[];
  tables: { table: string; rows: number; bytes: number; durationMs: number; parts: number; skipped: boolean }[];
  indexes: number;
  largeObjects: number;
  sequences: number;
  /** Materialized views refreshed (those populated on the source), and those left unpopulated as there. */
  matviews: { refreshed: number; unpopulated: number };
  /** Owners, grants and default privileges applied through the role map; undefined when not applied. */
  privileges?: {
    owners: number; grants: number; defaultPrivileges: number; policies: number; rolesCreated: string[]; skipped: number; notes: string[];
    /** Grants made on the source by a role other than the owner: made by that grantor (mapped), or as the owner's (reported). */
    grantors: { kept: number; asOwner: number };
  };
  /** Source database/role settings found, and whether they were applied. */
  settings?: { found: number; applied: boolean };
  connections: { source: number; target: number };
}

// search_path '' as pg_dump/pg_restore do: catalog definitions are printed fully qualified on the source
// and mean the same on the target whatever the roles' own search_path. No lock_timeout: on the target,
// waits are among cutover's own sessions (an ANALYZE behind a foreign-key validation of the same table
// can take minutes on a big table); on the source, a COPY's ACCESS SHARE request queued behind
// application DDL blocks nobody else.
const TARGET_SETTINGS = { ...READ_SETTINGS, synchronous_commit: 'off', search_path: '', lock_timeout: '0' };
// row_security off: a read that a policy would filter fails instead of returning part of a table (as pg_dump does).
const SOURCE_SETTINGS = { search_path: '', lock_timeout: '0', row_security: 'off' };

export async function copy(o: CopyOptions): Promise<CopySummary> {
  const t0 = Date.now();
  const jobs = Math.max(1, o.jobs ?? 2);
  const indexJobs = Math.max(1, o.indexJobs ?? jobs);
  const note = o.onNote ?? (() => undefined);
  const source = await resolveEndpoint(o.source);
  const target = await resolveEndpoint(o.target);
  await refuseSameDatabaseAt('copy', source, target);
  o = { ...o, ...(await resolveTableSelection('copy', source, o)) };
  const journal = await Journal.open(o.dir);
  if (!journal.isEmpty && !o.resume) {
    const done = journal.get('done', '');
    // A finished copy is not resumed (there is nothing left to do): say it finished, and when.
    if (done) {
      throw new CutoverError('E_USAGE', `${o.dir} holds the journal of a copy that finished at ${done.at}`, {
        hint: 'the target already has that copy; to copy again, remove the directory and empty the target (DROP and CREATE the database), or give another --dir',
      });
    }
    throw new CutoverError('E_USAGE', `${o.dir} holds the journal of an earlier copy that did not finish`, {
      hint: 'pass --resume to continue it, or remove the directory (and empty the target) to start over',
    });
  }
  const resumed = !journal.isEmpty;
  // The journal describes one source and target: a resume against any other is refused here, before
  // anything is touched (its range DELETEs and TRUNCATEs would hit another database's tables).
  const binding = await checkCopyBinding(journal, source, target, note);
  const [sf, tf] = await Promise.all([withClient(source, 'copy-plan', serverFacts), withClient(target, 'copy-plan', serverFacts)]);
  if (tf.major < sf.major) note(`the target (PostgreSQL ${tf.major}) is older than the source (${sf.major}): a downgrade; objects using newer features will fail`);
  await requireClientTool('pg_dump', sf.major, o.binDir);
  await requireClientTool('pg_restore', sf.major, o.binDir);
  // What the target holds now: it must be empty unless resuming, and it tells which tables the schema
  // dump selected once pre-data has run.
  const targetTables = () => withClient(target, 'copy-plan', tableFacts);
  if (!resumed) {
    const existing = (await targetTables()).length;
    if (existing > 0) {
      throw new CutoverError('E_PREFLIGHT', `the target database "${target.dbname}" already holds ${existing} table(s)`, {
        hint: 'copy into an empty database (DROP and CREATE it), or pass --resume to continue an interrupted copy',
      });
    }
  }
  await recordCopyBinding(journal, binding);
  const stopped = () => {
    if (o.signal?.aborted) throw new CutoverError('E_USAGE', `copy interrupted (${String(o.signal.reason)})`);
  };
  const phases: PhaseTiming[] = [];
  const summary: CopySummary = {
    ok: false, resumed, snapshot: '', newSnapshotOnResume: false, durationMs: 0, phases, tables: [], indexes: 0,
    largeObjects: 0, sequences: 0, matviews: { refreshed: 0, unpopulated: 0 }, connections: copyDemand(jobs, indexJobs),
  };
  const timed = async <T>(phase: string, side: PhaseTiming['side'], concurrency: number, fn: () => Promise<T>): Promise<T> => {
    const s = Date.now();
    const r = await fn();
    phases.push({ phase, side, durationMs: Date.now() - s, concurrency });
    return r;
  };

  let group: SnapshotGroup | undefined;
  const targets: pg.Client[] = [];
  try {
    // One exported snapshot for everything read from the source. A resumed copy tries the old one
    // (alive only if its exporter still is); otherwise it must take a new one, and says what that means.
    const old = journal.entries.filter((e) => e.kind === 'snapshot').at(-1)?.key;
    if (old) {
      try {
        group = await openSnapshotGroup(source, 'copy', jobs, { snapshotId: old, settings: SOURCE_SETTINGS });
      } catch (e) {
        if (sqlStateOf(e) === undefined) throw e;
        summary.newSnapshotOnResume = true;
        note('the original snapshot is gone: tables copied before the interruption reflect it, the rest a new one; ' +
          'this is consistent only if writes are stopped, or change capture started before the first snapshot');
      }
    }
    group ??= await openSnapshotGroup(source, 'copy', jobs, { settings: SOURCE_SETTINGS });
    summary.snapshot = group.snapshotId;
    // A resumed copy that read its tables at two moments while change capture runs may hold a row whose
    // referenced row is in a later batch: its foreign keys are deferred until the cutover's drain.
    const captureStart = await changeSource.recordStart(source, group.leader, note);
    const deferFks = summary.newSnapshotOnResume === true && captureStart !== undefined;
    if (!journal.has('snapshot', group.snapshotId)) await journal.record({ kind: 'snapshot', key: group.snapshotId });
    note(`holding snapshot ${group.snapshotId} on the source until the copy ends (this holds back vacuum there)`);

    // 0. Before anything is copied: every selected table's rows readable, every role owners and grants
    // need present on the target (or mapped, created, or explicitly dropped).
    await requireReadableRows(group.leader, selection(o));
    const policy = o.roles ?? DEFAULT_ROLES_POLICY;
    const keepPrivileges = o.privileges !== false && !journal.has('privileges');
    let decision: RoleDecision | undefined;
    if (keepPrivileges) {
      const needed = await neededRolesFromCatalog(group.leader, policy.map);
      decision = await withClient(target, 'copy/roles', (c) => decideRoles(needed, 0, policy, c));
      for (const n of decision.notes) note(n);
    }

    // 1. Schema: pre-data. The owner and grant statements are rendered from the schema dump while the
    // data is copied (two pg_restore runs that read only the dump directory).
    const schemaDir = join(o.dir, 'schema');
    let statements: Promise<{ statements: PrivilegeStatement[]; sessionAuthorizations: number }> | undefined;
    await timed('pre-data', 'both', 1, async () => {
      if (!journal.has('pre-data')) {
        await dump({ ...selection(o), source, dir: schemaDir, jobs: 1, schemaOnly: true, snapshot: group!.snapshotId, binDir: o.binDir, force: !resumed });
      }
      if (keepPrivileges) {
        const tool = await requireClientTool('pg_restore', sf.major, o.binDir);
        const lo = largeObjectPrivileges(group!.leader);
        statements = renderPrivilegeStatements({
          dir: schemaDir, toolPath: tool.path, target, dropManagedHazards: o.dropManagedHazards ?? true, dropExtensions: o.skipExtensions ?? false,
        }).then(async (r) => ({ ...r, statements: [...r.statements, ...(await lo)] }));
        statements.catch(() => undefined); // awaited (and its error thrown) at the privileges step
      }
      if (journal.has('pre-data')) return;
      const pre = await restore({ ...restoreDefaults(o), target, dir: schemaDir, jobs: 2, sections: ['pre-data'], binDir: o.binDir, privileges: false });
      const leftOut = pre.dropped.map(describeTocLine).filter((x): x is string => x !== undefined);
      if (leftOut.length) note(`left out ${leftOut.length} object(s) a managed target refuses (recreate them by hand where allowed): ${leftOut.join(', ')}`);
      for (const n of await withClient(target, 'copy/extensions', (c) => alignExtensionVersions(group!.leader, c))) note(n);
      await journal.record({ kind: 'pre-data', key: '' });
    });

    // 2. Plan (in the snapshot) and keep only tables that the schema dump selected (present on the target).
    const [allTables, allIndexes, allFks] = [await readTables(group.leader), await readIndexes(group.leader), await readForeignKeys(group.leader)];
    // Tables and materialized views the schema dump selected (present on the target), in one session.
    const [targetRels, targetMatviews] = await withClient(target, 'copy-plan', async (c) => [await tableFacts(c), await readMatviews(c)] as const);
    const onTarget = new Set(targetRels.filter((t) => t.kind === 'r').map(tableKey));
    const tables = allTables.filter((t) => onTarget.has(tableKey(t)));
    const tableSet = new Set(tables.map(tableKey));
    const matviewsOnTarget = new Set(targetMatviews.map(tableKey));
    const matviews = (await readMatviews(group.leader)).filter((m) => matviewsOnTarget.has(tableKey(m)));
    const indexes = allIndexes.filter((i) => (i.onMatview ? matviewsOnTarget : tableSet).has(tableKey({ schema: i.schema, name: i.table })));
    const fks = allFks.filter((f) => !f.partitioned && tableSet.has(tableKey({ schema: f.schema, name: f.table })) && tableSet.has(tableKey({ schema: f.refSchema, name: f.refTable })));
    const totalBytes = tables.reduce((n, t) => n + t.bytes, 0);
    const splitAt = o.splitTablesLargerThan ?? Math.max(1024 ** 3, Math.ceil(totalBytes / jobs));
    const units = await planUnits(group.leader, tables, splitAt, jobs * 4);
    summary.matviews.unpopulated = matviews.filter((m) => !m.populated).length;
    const progress: CopyProgress = {
      phase: 'data', tablesDone: 0, tablesTotal: tables.length, bytesDone: 0, bytesTotal: tables.reduce((n, t) => n + t.bytes, 0),
      indexesDone: 0, indexesTotal: indexes.length, matviewsDone: 0, matviewsTotal: matviews.filter((m) => m.populated).length,
      rowsDone: 0, rowsTotal: tables.reduce((n, t) => n + t.estimatedRows, 0), running: [],
    };
    // Units streaming now, with the rows their bytes stand for (the table's rows per on-disk byte).
    const inFlight = new Map<string, { r: CopyRunning; rowsPerByte: number }>();
    let rowsFinished = 0;
    // Reported at each event, and while a big table streams at most once a second (bytes move between events).
    let reportedAt = 0;
    const report = () => {
      reportedAt = Date.now();
      const running = [...inFlight.values()];
      progress.rowsDone = rowsFinished + Math.round(running.reduce((n, f) => n + Math.min(f.r.bytesDone, f.r.bytesTotal) * f.rowsPerByte, 0));
      o.onProgress?.({ ...progress, running: running.map((f) => ({ ...f.r })) });
    };
    const streamedFor = (u: CopyUnit) => {
      const f = {
        r: { table: displayName(u.table), part: u.range ? `${Number(u.key.split('#').at(-1)) + 1}/${u.parts}` : undefined,
          bytesDone: 0, bytesTotal: Math.round(u.table.bytes / u.parts), startedAt: Date.now() },
        rowsPerByte: u.table.bytes ? u.table.estimatedRows / u.table.bytes : 0,
      };
      inFlight.set(u.key, f);
      return (b: number) => { f.r.bytesDone += b; progress.bytesDone += b; if (Date.now() - reportedAt >= 1000) report(); };
    };

    // Target sessions: one per table job, one per index job.
    for (let i = 0; i < jobs + indexJobs; i++) {
      targets.push(await connect(target, i < jobs ? `copy/target-${i + 1}` : `copy/index-${i - jobs + 1}`,
        { settings: i < jobs ? TARGET_SETTINGS : { ...TARGET_SETTINGS, maintenance_work_mem: o.maintenanceWorkMem ?? '512MB' } }));
    }
    const copyTargets = targets.slice(0, jobs);
    const indexTargets = targets.slice(jobs);
    const freeSources = [...group.workers];
    const freeTargets = [...copyTargets];
    const freeIndex = [...indexTargets];

    // 3. Data, with indexes queued as each table completes.
    const indexPool = new TaskPool<void>(indexJobs);
    const byTable = new Map<string, CopyIndex[]>();
    for (const i of indexes) {
      const k = tableKey({ schema: i.schema, name: i.table });
      byTable.set(k, [...(byTable.get(k) ?? []), i]);
    }
    // Foreign keys are validated as soon as both their tables have data and indexes (not all at the end):
    // that overlaps the validation scans with the copy of other tables.
    const ready = new Set<string>();
    const fkQueued = new Set<number>();
    const tableReady = (k: string) => {
      ready.add(k);
      for (const fk of fks) {
        const a = tableKey({ schema: fk.schema, name: fk.table }), b = tableKey({ schema: fk.refSchema, name: fk.refTable });
        if (fkQueued.has(fk.constraintOid) || !ready.has(a) || !ready.has(b)) continue;
        fkQueued.add(fk.constraintOid);
        indexPool.add(async () => {
          stopped();
          const c = freeIndex.pop()!;
          try { await addForeignKey(c, fk, journal, deferFks ? note : undefined); } finally { freeIndex.push(c); }
        });
      }
    };
    // A relation's indexes, each a job in the shared index pool, then `after` (a table's ANALYZE).
    const queueBuilds = (k: string, after?: () => void) => {
      const mine = byTable.get(k) ?? [];
      let left = mine.length;
      if (left === 0) after?.();
      for (const ix of mine) {
        indexPool.add(async () => {
          stopped();
          const c = freeIndex.pop()!;
          try {
            await buildIndex(c, ix, journal);
          } finally {
            freeIndex.push(c);
          }
          progress.indexesDone++;
          report();
          if (--left === 0) after?.();
        });
      }
    };
    // Materialized views populated on the source are refreshed in the same pool as soon as every table
    // (and matview) they read has its data, indexes and statistics (a REFRESH's plan needs them, and the
    // table's ADD CONSTRAINT ... USING INDEX would wait behind it); then their indexes are built (a REFRESH
    // into an indexed matview rebuilds them all anyway). Unpopulated ones stay so: only their indexes.
    let refreshMs = 0;
    const schedule = new MatviewSchedule(matviews, tableSet, (v: Matview) => indexPool.add(async () => {
      stopped();
      const k = tableKey(v);
      if (!journal.has('matview', k)) {
        const s = Date.now();
        const c = freeIndex.pop()!;
        try { await c.query(`REFRESH MATERIALIZED VIEW ${qualify(v.schema, v.name)}`); } finally { freeIndex.push(c); }
        refreshMs += Date.now() - s;
        await journal.record({ kind: 'matview', key: k, ms: Date.now() - s });
      }
      progress.matviewsDone++;
      report();
      schedule.arrived(k);
      queueBuilds(k);
    }, true)); // ahead of queued index builds and foreign keys: usually the pool's longest job, it should not start last
    // A table's indexes, then its ANALYZE, go to the shared index pool the moment its data has landed.
    const queueIndexes = (t: CopyTable) => queueBuilds(tableKey(t), () => indexPool.add(async () => {
      stopped();
      tableReady(tableKey(t));
      if (!journal.has('analyze', tableKey(t))) {
        const c = freeIndex.pop()!;
        try { await c.query(`ANALYZE ${qualify(t.schema, t.name)}`); } finally { freeIndex.push(c); }
        await journal.record({ kind: 'analyze', key: tableKey(t) });
      }
      schedule.arrived(tableKey(t));
    }));
    for (const m of matviews.filter((x) => !x.populated)) queueBuilds(tableKey(m));
    schedule.start();
    const partsLeft = new Map<string, number>();
    const tableStats = new Map<string, { rows: number; bytes: number; ms: number; parts: number; skipped: boolean; startedAt?: number }>();
    for (const u of units) partsLeft.set(tableKey(u.table), u.parts);
    for (const t of tables) {
      if (journal.has('table', tableKey(t))) {
        const e = journal.get('table', tableKey(t))!;
        tableStats.set(tableKey(t), { rows: e.rows ?? 0, bytes: e.bytes ?? 0, ms: e.ms ?? 0, parts: 1, skipped: true });
        progress.tablesDone++;
        progress.bytesDone += e.bytes ?? 0;
        rowsFinished += e.rows ?? 0;
        queueIndexes(t); // built already? buildIndex checks the journal and the catalog
      }
    }
    // Parts of a split table that an earlier run finished count as done.
    for (const u of units.filter((x) => x.range && !journal.has('table', tableKey(x.table)) && journal.has('part', x.key))) {
      const e = journal.get('part', u.key)!;
      progress.bytesDone += e.bytes ?? 0;
      rowsFinished += e.rows ?? 0;
    }
    // Split tables are emptied once before their parts run in parallel (no FREEZE for them).
    const splitTables = tables.filter((t) => units.some((u) => u.table === t && u.range) && !journal.has('table', tableKey(t)));
    const dataStart = Date.now();
    for (const t of splitTables) {
      if (!journal.has('truncate', tableKey(t))) {
        await copyTargets[0]!.query(`TRUNCATE ONLY ${qualify(t.schema, t.name)}`);
        await journal.record({ kind: 'truncate', key: tableKey(t) });
      }
    }
    report();
    const todo = units.filter((u) => !journal.has('table', tableKey(u.table)) && !journal.has('part', u.key));
    // Table workers, each with a source session on the snapshot and a target session. Under a run's
    // governor, a worker gives its pair back at a unit boundary when the application has grown past what
    // cutover may hold (never the last worker), and comes back when room returns.
    const gov = governor();
    let active = 0;
    let failed = false;
    const worker = async (n: number) => {
      let src = freeSources.pop()!, dst = freeTargets.pop()!;
      active++;
      try {
        while (todo.length && !failed) {
          if (gov && active > 1 && (gov.over(source) > 0 || gov.over(target) > 0)) {
            active--;
            gov.record('shed', gov.over(source) > 0 ? source : target, `cutover/copy/worker-${n}`);
            gov.note(`copy: the application grew past the budget; worker ${n} gives back its 2 sessions (${active} left)`);
            await group!.closeWorker(src);
            await dst.end().catch(() => undefined);
            while (todo.length && !failed && !(gov.fits(source, 1) && gov.fits(target, 1))) await sleep(250);
            if (!todo.length || failed) return;
            src = await group!.addWorker(`worker-${n}`);
            dst = await connect(target, `copy/target-${n}`, { settings: TARGET_SETTINGS });
            targets.push(dst);
            active++;
            gov.record('rejoin', source, `cutover/copy/worker-${n}`);
            gov.note(`copy: room again; worker ${n} is back (${active} running)`);
            continue;
          }
          stopped();
          const u = todo.shift()!;
          // The range DELETE of a resumed part only ever touches a table this copy emptied itself.
          const r = await copyUnit(src, dst, u, resumed && journal.has('truncate', tableKey(u.table)), streamedFor(u))
            .finally(() => inFlight.delete(u.key));
          rowsFinished += r.rows;
          const k = tableKey(u.table);
          const st = tableStats.get(k) ?? { rows: 0, bytes: 0, ms: 0, parts: u.parts, skipped: false };
          // A split table's time is wall clock, first part's start to last part's end (its parts run at once).
          const now = Date.now();
          st.startedAt = Math.min(st.startedAt ?? now - r.ms, now - r.ms);
          st.rows += r.rows; st.bytes += r.bytes; st.ms = now - st.startedAt;
          tableStats.set(k, st);
          if (u.range) await journal.record({ kind: 'part', key: u.key, rows: r.rows, bytes: r.bytes, ms: r.ms });
          const left = (partsLeft.get(k) ?? 1) - 1;
          partsLeft.set(k, left);
          if (left <= 0 || !u.range) {
            await journal.record({ kind: 'table', key: k, rows: st.rows, bytes: st.bytes, ms: st.ms });
            progress.tablesDone++;
            queueIndexes(u.table);
          }
          report();
        }
        active--;
        freeSources.push(src);
        freeTargets.push(dst);
      } catch (e) {
        failed = true;
        throw e;
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, Math.min(jobs, todo.length)) }, (_, i) => worker(i + 1)));
    // Split tables whose parts all finished in an earlier run still need their table entry.
    for (const t of tables) {
      const k = tableKey(t);
      if (!journal.has('table', k) && units.filter((u) => u.table === t).every((u) => journal.has('part', u.key))) {
        await journal.record({ kind: 'table', key: k });
        progress.tablesDone++;
        queueIndexes(t);
      }
    }
    phases.push({ phase: 'data', side: 'both', durationMs: Date.now() - dataStart, concurrency: jobs });
    progress.phase = 'indexes';
    report();
    await timed('indexes + analyze + matviews (after last table)', 'target', indexJobs, async () => {
      await indexPool.drain();
      // Every table has arrived once the pool is idle; a matview still waiting would be a bug in the
      // schedule: refreshed now rather than left unpopulated.
      const late = schedule.waiting;
      if (late.length) {
        note(`refreshing ${late.length} materialized view(s) whose sources were not all seen arriving: ${late.map((w) => `${qualify(w.view.schema, w.view.name)} (waiting for ${w.waits.join(', ')})`).join('; ')}`);
        for (const w of late) for (const k of w.waits) schedule.arrived(k);
        await indexPool.drain();
      }
    });
    // The REFRESH statements' own time, spent inside the pool while tables were copied and indexed.
    summary.matviews.refreshed = progress.matviewsDone;
    phases.push({ phase: 'matviews', side: 'target', durationMs: refreshMs, concurrency: indexJobs });
    phases.push({ phase: 'data + indexes', side: 'both', durationMs: Date.now() - dataStart, concurrency: jobs + indexJobs });

    stopped();
    // 4. Large objects, in the snapshot.
    progress.phase = 'large-objects';
    report();
    summary.largeObjects = await timed('large-objects', 'both', 1, async () =>
      journal.has('large-objects') ? 0 : copyLargeObjects(group!.leader, freeTargets[0]!, journal));

    // 5. Sequences from the snapshot.
    progress.phase = 'sequences';
    report();
    summary.sequences = (await timed('sequences', 'both', 1, () => setSequences(group!.leader, freeTargets[0]!))).size;

    // 6. The rest of post-data (triggers, partition indexes, exclusion constraints, foreign keys on
    // partitioned tables...). Our target sessions close first: pg_restore opens its own, and the
    // connection budget counts max(table + index sessions, pg_restore's) rather than their sum.
    await Promise.all(targets.splice(0).map((t) => t.end().catch(() => undefined)));
    progress.phase = 'post-data';
    report();
    await timed('post-data', 'target', Math.max(2, indexJobs), async () => {
      if (journal.has('post-data')) return;
      const built = new Set<string>();
      for (const i of indexes) {
        built.add(`1259:${i.indexOid}`);
        if (i.constraintOid !== null) built.add(`2606:${i.constraintOid}`);
      }
      for (const fk of fks) built.add(`2606:${fk.constraintOid}`);
      // Deferring: the foreign keys pg_restore would add are added here instead, after it.
      const late = deferFks ? await onTargetFks(target, allFks.filter((f) => f.partitioned)) : [];
      for (const fk of late) built.add(`2606:${fk.constraintOid}`);
      await restore({ ...restoreDefaults(o), target, dir: schemaDir, jobs: Math.max(2, indexJobs), sections: ['post-data'], dropObjects: built, binDir: o.binDir, privileges: false, policiesApart: o.privileges !== false });
      if (late.length) await withClient(target, 'copy/fkeys', async (c) => { for (const fk of late) await addForeignKey(c, fk, journal, note); });
      await journal.record({ kind: 'post-data', key: '' });
    });

    // 7. Owners, grants and default privileges, mapped, once every object exists and holds its data
    // (the target role owns everything until now, so that it could load and refresh it).
    if (statements && decision) {
      progress.phase = 'privileges';
      report();
      const r0 = await statements;
      const d = decision;
      summary.privileges = await timed('privileges', 'both', 1, async () => {
        const r = await withClient(target, 'copy/privileges', async (c) => {
          // The statements are authoritative: a role they need that the catalog check missed is decided
          // (or refused) here by the same rules.
          const again = await decideRoles(neededRoles(r0.statements, policy.map), r0.sessionAuthorizations, policy, c);
          const plan = { ...again, create: [...d.create, ...again.create.filter((x) => !d.create.some((y) => y.target === x.target))], drop: new Set([...d.drop, ...again.drop]), notes: again.notes.filter((n) => !d.notes.includes(n)), statements: r0.statements };
          const roles = plan.create.length ? await sourceRoles(group!.leader, plan.create.map((x) => x.source)) : undefined;
          return applyPrivileges(c, plan, policy, roles);
        }, { settings: { search_path: '' } });
        await journal.record({ kind: 'privileges', key: '' });
        return r;
      });
      for (const n of summary.privileges.notes) note(n);
    }

    // 8. Database and role settings of the source database: reported, or applied with settings: apply.
    const dbSettings = await readDbSettings(group.leader);
    if (dbSettings.length && o.settings === 'apply') {
      for (const n of await withClient(target, 'copy/settings', (c) => applyDbSettings(c, dbSettings, policy.map))) note(n);
    } else if (dbSettings.length) {
      note(`${dbSettings.length} database/role setting(s) on the source, not applied (settings: apply to apply them): ${dbSettings.map(describeSetting).join('; ')}`);
    }
    summary.settings = { found: dbSettings.length, applied: o.settings === 'apply' };

    summary.tables = tables.map((t) => {
      const s = tableStats.get(tableKey(t));
      return { table: displayName(t), rows: s?.rows ?? 0, bytes: s?.bytes ?? 0, durationMs: s?.ms ?? 0, parts: s?.parts ?? 1, skipped: s?.skipped ?? false };
    });
    summary.indexes = indexes.length;
    summary.ok = true;
    summary.durationMs = Date.now() - t0;
    progress.phase = 'done';
    report();
    await journal.record({ kind: 'done', key: '', ms: summary.durationMs });
    const { writeFile } = await import('node:fs/promises');
    await writeFile(join(o.dir, 'summary.json'), JSON.stringify(summary, null, 2));
    return summary;
  } finally {
    await Promise.all(targets.map((c) => c.end().catch(() => undefined)));
    await group?.close();
  }
}

function selection(o: CopyOptions): SelectionOptions {
  return { schemas: o.schemas, excludeSchemas: o.excludeSchemas, tables: o.tables, excludeTables: o.excludeTables };
}
function restoreDefaults(o: CopyOptions): RestoreDefaults {
  // Owners and grants are applied by the privileges step (mapped), never by pg_restore as on the source.
  const own = o.privileges !== false;
  return { noOwner: own ? true : o.noOwner, noAcl: own ? true : o.noAcl, dropManagedHazards: o.dropManagedHazards, skipExtensions: o.skipExtensions };
}

async function copyUnit(src: pg.Client, dst: pg.Client, u: CopyUnit, resumed: boolean, onBytes: (n: number) => void) {
  const t = u.table;
  // A table without columns, or with only generated ones, has no column list: COPY without one moves
  // its rows (as many empty rows) and leaves generated columns to the target.
  const cols = t.columns.map(quoteIdent).join(', ');
  const list = cols ? ` (${cols})` : '';
  const name = qualify(t.schema, t.name);
  // Binary skips text parsing on the target (most of COPY's CPU) where every column allows it.
  const fmt = t.binarySafe && process.env.CUTOVER_COPY_FORMAT !== 'text' ? ' WITH (FORMAT binary)' : '';
  const fmtFreeze = fmt ? ' WITH (FORMAT binary, FREEZE)' : ' WITH (FREEZE)';
  if (!u.range) {
    // TRUNCATE + COPY FREEZE in one transaction: rows arrive frozen (no later anti-wraparound vacuum),
    // and an interrupted copy of this table leaves it as it was.
    await dst.query('BEGIN');
    try {
      await dst.query(`TRUNCATE ONLY ${name}`);
      const r = await streamCopy(src, dst, `COPY ${name}${list} TO STDOUT${fmt}`, `COPY ${name}${list} FROM STDIN${fmtFreeze}`, onBytes);
      await dst.query('COMMIT');
      return r;
    } catch (e) {
      await dst.query('ROLLBACK').catch(() => undefined);
      throw e;
    }
  }
  const where = rangePredicate(u);
  await dst.query('BEGIN');
  try {
    // On resume, a part whose commit was not journaled may hold rows: clear its range first. Only then:
    // before the indexes exist this DELETE scans the whole table.
    if (resumed) await dst.query(`DELETE FROM ONLY ${name} WHERE ${where}`);
    const r = await streamCopy(src, dst, `COPY (SELECT ${cols || '*'} FROM ONLY ${name} WHERE ${where}) TO STDOUT${fmt}`, `COPY ${name}${list} FROM STDIN${fmt}`, onBytes);
    await dst.query('COMMIT');
    return r;
  } catch (e) {
    await dst.query('ROLLBACK').catch(() => undefined);
    throw e;
  }
}

async function buildIndex(c: pg.Client, ix: CopyIndex, journal: Journal): Promise<void> {
  const key = `${quoteIdent(ix.schema)}.${quoteIdent(ix.indexName)}`;
  if (journal.has('index', key)) return;
  const s = Date.now();
  const exists = (await c.query<{ r: string | null }>(`SELECT to_regclass($1)::text AS r`, [key])).rows[0]!.r !== null;
  if (!exists) await c.query(ix.indexdef);
  if (ix.constraintType && ix.constraintName) {
    const table = qualify(ix.schema, ix.table);
    const has = (await c.query(`SELECT 1 FROM pg_constraint WHERE conrelid = $1::regclass AND conname = $2`, [table, ix.constraintName])).rowCount;
    if (!has) {
      const kind = ix.constraintType === 'p' ? 'PRIMARY KEY' : 'UNIQUE';
      const defer = ix.deferrable ? ` DEFERRABLE INITIALLY ${ix.deferred ? 'DEFERRED' : 'IMMEDIATE'}` : '';
      await c.query(`ALTER TABLE ${table} ADD CONSTRAINT ${quoteIdent(ix.constraintName)} ${kind} USING INDEX ${quoteIdent(ix.indexName)}${defer}`);
    }
  }
  await journal.record({ kind: 'index', key, ms: Date.now() - s });
}

/**
 * Adds a foreign key (idempotent). With `deferNote` (a resumed copy under change capture), a key that
 * does not hold yet is added NOT VALID, or on a partitioned table left out, and recorded on the target
 * for replicate-cutover to complete after the drain.
 */
async function addForeignKey(c: pg.Client, fk: CopyForeignKey, journal: Journal, deferNote?: (m: string) => void): Promise<void> {
  const key = `${quoteIdent(fk.schema)}.${quoteIdent(fk.table)}.${quoteIdent(fk.name)}`;
  if (journal.has('fkey', key)) return;
  const s = Date.now();
  const table = qualify(fk.schema, fk.table);
  const add = (suffix = '') => withRetry(async () => {
    // Two foreign keys added at once may lock their tables in opposite orders: a deadlock (40P01) is retried.
    const has = (await c.query(`SELECT 1 FROM pg_constraint WHERE conrelid = $1::regclass AND conname = $2`, [table, fk.name])).rowCount;
    if (!has) await c.query(`ALTER TABLE ${table} ADD CONSTRAINT ${quoteIdent(fk.name)} ${fk.definition}${suffix}`);
  });
  try {
    await add();
  } catch (e) {
    if (!deferNote || classifySqlState(sqlStateOf(e)) !== 'fk_violation') throw e;
    const action = fk.partitioned ? 'add' : 'validate';
    if (action === 'validate') await add(' NOT VALID');
    await deferConstraint(c, { table, name: fk.name, definition: fk.definition, action });
    deferNote(`foreign key ${fk.name} on ${table} does not hold yet (the resumed copy read its tables at two moments): ` +
      `${action === 'validate' ? 'added NOT VALID' : 'left out'} until replicate-cutover completes it after the drain`);
  }
  await journal.record({ kind: 'fkey', key, ms: Date.now() - s });
}

/** The foreign keys whose two tables exist on the target (the schema dump selected them). */
async function onTargetFks(target: Endpoint, fks: CopyForeignKey[]): Promise<CopyForeignKey[]> {
  if (!fks.length) return [];
  const names = fks.flatMap((f) => [qualify(f.schema, f.table), qualify(f.refSchema, f.refTable)]);
  const present = await withClient(target, 'copy/fkeys', async (c) =>
    (await c.query<{ ok: boolean }>('SELECT to_regclass(n) IS NOT NULL AS ok FROM unnest($1::text[]) WITH ORDINALITY u(n, i) ORDER BY i', [names])).rows.map((r) => r.ok));
  return fks.filter((_, i) => present[2 * i] && present[2 * i + 1]);
}

/** Contents and comments (owners and grants come with the privileges step, mapped). */
async function copyLargeObjects(src: pg.Client, dst: pg.Client, journal: Journal): Promise<number> {
  const { rows } = await src.query<{ oid: number; comment: string | null }>(
    loadSql(import.meta.url, '../sql/large-objects.sql'));
  for (const { oid, comment } of rows) {
    const data = (await src.query<{ d: Buffer }>('SELECT lo_get($1::oid) AS d', [oid])).rows[0]!.d;
    await dst.query('BEGIN');
    await dst.query('SELECT lo_unlink($1::oid) FROM pg_largeobject_metadata WHERE oid = $1::oid', [oid]);
    await dst.query('SELECT lo_from_bytea($1::oid, $2)', [oid, data]);
    if (comment !== null) await dst.query(`COMMENT ON LARGE OBJECT ${Number(oid)} IS ${quoteLiteral(comment)}`);
    await dst.query('COMMIT');
  }
  await journal.record({ kind: 'large-objects', key: '', rows: rows.length });
  return rows.length;
}

/** Default work directory for a source/target pair. */
export function defaultCopyDir(source: ConnParams, target: ConnParams): string {
  const h = createHash('sha256').update(`${source.host}:${source.port}/${source.dbname}->${target.host}:${target.port}/${target.dbname}`).digest('hex').slice(0, 10);
  return join('.cutover', `copy-${h}`);
}

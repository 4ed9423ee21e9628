/**
 * The applier: makes the target follow the source, batch by batch.
 *
 * A batch is bounded by two positions of the change source (changes/change-source.ts; trigger capture:
 * two source snapshots, "ticks", PgQ's idea): the previous one, stored on the target, and a new one taken
 * as the first statement of a REPEATABLE READ transaction on the source. Its changed keys come from the
 * change source, which is all the applier knows of how changes are captured. In that same
 * transaction the applier reads the current state of every changed key and makes the target match it:
 * rows that exist are upserted (parents before children), keys that are gone are deleted (children before
 * parents), all through COPY into temporary tables and set-based statements, in one target transaction
 * that also stores the new tick. Applying a state, not replaying operations, makes the order of events
 * within a batch irrelevant and a repeated batch harmless: a killed applier resumes exactly once.
 *
 * No superuser on the target: foreign keys stay enforced (deferred where deferrable, ordered otherwise);
 * user triggers of the replicated tables are disabled on the target while applying (they ran on the
 * source) and restored at cutover or teardown.
 */
import { CUTOVER_SCHEMA } from '../pg/private-schema.js';
import { databaseIdentity, refuseSameDatabase } from '../pg/identity.js';
import type pg from 'pg';
import { CutoverError } from '../errors.js';
import type { ConnParams } from '../pg/conninfo.js';
import { backendPid as pidOf, connect, endWithin } from '../pg/connect.js';
import { resolveEndpoint } from '../pg/endpoint.js';
import { READ_SETTINGS } from '../pg/snapshot.js';
import { loadSql, qualify, quoteIdent } from '../pg/sql.js';
import { classifySqlState, type ErrorClass, sqlStateOf } from '../pg/sqlstate.js';
import { streamCopy } from '../pg/copy-stream.js';
import { readColumns, readShapes, readStorage, resolveTables, type Shape, shapeDifference } from './catalog.js';
import { type ChangeBatch, changeSource, type ChangeSource, type Position } from './changes/index.js';
import { moveForeignKeys } from './fk-moves.js';
import { type FinishStatement, type IndexAction, type IndexPlan, planDdl, planIndexes, tableStatements } from './ddl-follow.js';
import { checkReverse } from './window-state.js';
import { lockApplier } from './applier-lock.js';
import type { ChunkSink, TrackedTable } from '../verify/incremental.js';
import type { RoleMap } from '../pg/role-map.js';
import { withLock } from './lock.js';
import { equalityColumns } from './row-identity.js';
import { displayName } from '../pg/select-tables.js';
import { backoffMs, sleep } from '../lib/backoff.js';
import { describeRlsFiltered, RLS_HINT, rlsFilteredTables } from '../pg/rls.js';
import type { Endpoint } from '../pg/endpoint.js';

export interface ApplyOptions {
  source: ConnParams;
  target: ConnParams;
  /** Wait between batches that found nothing (ms). Default 200. */
  idleMs?: number;
  /** Accept changed table shapes on the target (after applying the same DDL to both sides). */
  acceptDdl?: boolean;
  /** Apply additive DDL seen on the source to the target (ddl-follow.ts); recorded on the target, so every later applier follows too. */
  followDdl?: boolean;
  /** ddl: follow: the copy's role map, for a new table's owner, grants and policies on the target. */
  roleMap?: RoleMap;
  /**
   * The rollback window (window.ts): the source is the new server with reverse capture, the target the old
   * source, whose write fence this session passes (cutover.fence_pass) while the application's cannot.
   */
  reverse?: boolean;
  /** A cutover's or rollback's applier: ends an applier already running against the target (applier-lock.ts). */
  takeOver?: boolean;
  onNote?: (message: string) => void;
}

export interface BatchResult {
  events: number;
  tables: number;
  upserted: number;
  deleted: number;
  truncated: number;
  durationMs: number;
  /** The batch's source snapshot, now the applied tick. */
  tick: string;
  /** Upper bound of how stale the target was for these events: time from the previous tick to commit. */
  lagMs: number;
}

/**
 * Where a running batch is (a long one, a catch-up after hours: its progress between start and end): the
 * table being read from the source (changed keys and their current rows, `bytes` so far), the changed keys
 * being removed on the target, the rows being written, or the new tables being created and copied.
 */
export interface BatchStep {
  step: 'read' | 'remove' | 'write' | 'new tables';
  /** Display form (schema.name, a part quoted only when it must be). */
  table: string;
  /** 1-based position of the table in this step, of `tables`. */
  index: number;
  tables: number;
  /** Read so far from the source for this table (read step). */
  bytes: number;
}

/** A batch about to apply: the events committed since the applied tick (the pending ones, counted from the log). */
export interface BatchStart {
  events: number;
  tables: number;
  /** How stale the target is at the batch's start: source time now minus the applied tick's time. */
  lagMs: number;
}

interface TableInfo {
  tableid: number;
  schema: string;
  name: string;
  key: string[];
  keyTypes: string[];
  /** Columns copied (generated ones are left to the target). */
  cols: string[];
  /** No key (key is empty): the columns that match whole rows (row-identity.ts). */
  matchCols: string[];
  srcOnly: string;
  tgtOnly: string;
  tgtRelid: number;
  /** The table's oid on the source (the key of its recorded shape). */
  srcRelid: number;
  temps: boolean;
}

// row_security off on both sides: a read or write that a row-level-security policy would filter fails
// (and halts the applier with the table's name) instead of silently skipping rows.
const SOURCE_SETTINGS = { ...READ_SETTINGS, search_path: '', row_security: 'off' };
// cutover.applier: incremental verify's guard on the target tells the applier's writes from anyone else's.
// default_transaction_read_only off: a read-only fence (or a rollback window's old source) may have made
// cutover's role read only by default.
const TARGET_SETTINGS = { ...READ_SETTINGS, search_path: '', synchronous_commit: 'off', lock_timeout: '0', 'cutover.applier': 'on', row_security: 'off',
  default_transaction_read_only: 'off' };

export class Applier {
  private src?: pg.Client;
  private tgt?: pg.Client;
  private tables = new Map<number, TableInfo>();
  /** tableids, parents before children. */
  private order: number[] = [];
  private tickAtMs = 0;
  private lastShapeCheck = 0;
  private lastRotate = 0;
  private baseline = new Map<number, { shape: string; triggers: string; name: string }>();
  /** ddl: follow (recorded in the target's apply_state). */
  private follow = false;
  /**
   * The next connect accepts these source shapes (read in the snapshot in which followed DDL made the
   * target equal to the source): exactly those, not whatever the source has by then.
   */
  private acceptNext?: Map<number, Shape>;
  /** The source session is inside a transaction (its reads share one snapshot). */
  private srcInTxn = false;
  /** ddl: follow: tableids the next batch reads again in full (apply_state.refresh_tables). */
  private refresh = new Set<number>();
  /** Each table's storage signature as applied (apply_state.storage, sql/storage.sql), by tableid. */
  private storage?: Map<number, string>;
  private lastStorageCheck = 0;
  /** The next batch checks the storage whatever the time since the last check (the fence). */
  private storageForce = false;
  /** Backend pids of the sessions the last close() ended: ended on the server too when the next connect finds them. */
  private previous = { source: new Set<number>(), target: new Set<number>() };
  /** Each source table's columns (name:type:typmod) as the last batch saw them. */
  private columnSig = new Map<number, string>();
  /** Batches tried again after a foreign key failed at COMMIT (see batch()). */
  private fkRetries = 0;
  private tracking?: { tables: Map<string, TrackedTable>; sink: ChunkSink };
  /** ddl: follow: tables captured on the source but not yet on the target, copied by the next batch. */
  private pending = new Map<number, PendingTable>();
  private lastFollowCheck = 0;
  /** ddl: follow: new indexes wait until the applied tick covers this source snapshot (taken when they were seen). */
  private indexWait?: string;
  /** ddl: follow: the source's indexes seen so far (apply_state.source_indexes), undefined until recorded. */
  private sourceIndexes?: Set<string>;
  private fenceSnapshot?: string;
  /** run()'s onBatchStart and onBatchStep, while it runs. */
  private onBatchStart?: (b: BatchStart) => void;
  private onBatchStep?: (s: BatchStep) => void;
  tick = '';
  readonly totals = { batches: 0, events: 0, upserted: 0, deleted: 0 };
  /** Events applied from transactions a fence's snapshot does not show: writes that got past it, by table. */
  readonly afterFence = new Map<string, number>();

  /** Where the changes come from (changes/change-source.ts): the applier knows nothing else of capture. */
  private readonly changes: ChangeSource = changeSource;

  private constructor(private readonly o: ApplyOptions, private readonly source: Endpoint, private readonly target: Endpoint) {}

  static async open(o: ApplyOptions): Promise<Applier> {
    const a = new Applier(o, await resolveEndpoint(o.source), await resolveEndpoint(o.target));
    try {
      try {
        await a.connect();
      } catch (e) {
        // Ended while it started (a cutover took over the target: applier-lock.ts): wait and connect again.
        if (!connectionLost(e)) throw e;
        o.onNote?.(`applier: SQLSTATE ${sqlStateOf(e)} while starting; reconnecting`);
        await a.reconnect();
      }
    } catch (e) {
      await a.close();
      throw e;
    }
    return a;
  }

  private get s(): pg.Client { return this.src!; }
  private get t(): pg.Client { return this.tgt!; }

  private async connect(): Promise<void> {
    for (;;) {
      try {
        return await this.connectOnce();
      } catch (e) {
        if (!(e instanceof FollowedDdl)) throw e;
        // The target took the source's DDL: read both catalogs again and accept the shapes it now matches
        // (more DDL since then is followed again: each round changes the target, so this ends).
        await this.close();
        this.tables.clear();
        this.baseline.clear();
        this.acceptNext = e.shapes;
      }
    }
  }

  private async connectOnce(): Promise<void> {
    const verified = this.acceptNext;
    this.acceptNext = undefined;
    const accept = !!this.o.acceptDdl || verified !== undefined;
    // A server that accepts a connection but never answers (restarting, overloaded) must not hold the
    // applier forever: without connect_timeout, 30 s, and the reconnect loop tries again.
    const bounded = (p: Endpoint): Endpoint => (p.connectTimeoutSec > 0 ? p : { ...p, connectTimeoutSec: 30 });
    this.src = await connect(bounded(this.source), 'apply-source', { settings: SOURCE_SETTINGS });
    this.tgt = await connect(bounded(this.target), 'apply-target', { settings: TARGET_SETTINGS });
    const s = this.s, t = this.t;
    refuseSameDatabase(await databaseIdentity(s, this.source), await databaseIdentity(t, this.target), 'replicate', { source: this.source, target: this.target });
    // A session whose connection this applier lost may live on in its server (blocked, or not yet aware the
    // client left) and hold the applier lock: the applier's own, ended here rather than waited for.
    await endPrevious(s, this.previous.source, 'apply-source', this.o.onNote);
    await endPrevious(t, this.previous.target, 'apply-target', this.o.onNote);
    this.previous = { source: new Set(), target: new Set() };
    await lockApplier(t, { takeOver: !!this.o.takeOver, note: (m) => this.o.onNote?.(m) });
    if (this.o.reverse) await checkReverse(s, t);
    else if (!(await this.changes.installed(s))) {
      throw new CutoverError('E_NOT_STARTED', 'change capture is not installed on the source', { hint: 'run `cutover replicate start` first' });
    } else if (await this.changes.reverse(s)) {
      throw new CutoverError('E_USAGE', 'the capture on this source is a rollback window\'s (reverse: it is the new server): apply it with --reverse (runbook: reverse: true), which writes to the old source', {
        hint: 'keep --source/--target as in the forward cutover: `cutover replicate apply --reverse`',
      });
    }
    const start = await this.changes.start(s);
    await t.query(loadSql(import.meta.url, 'sql/target-schema.sql'));
    let applied = (await t.query<AppliedState>(
      `SELECT tick::text AS tick, tick_at, halted, fingerprints, follow_ddl, copied_tables AS copied, source_indexes, refresh_tables, storage FROM ${CUTOVER_SCHEMA}.apply_state`)).rows[0];
    if (!applied) {
      if (!start) {
        throw new CutoverError('E_NOT_STARTED', 'no initial copy has recorded where replication starts', {
          hint: 'after `cutover replicate start`, copy the data with `cutover copy` (or `cutover dump`): it records its snapshot on the source',
        });
      }
      await t.query(`INSERT INTO ${CUTOVER_SCHEMA}.apply_state (tick, tick_at, storage) VALUES ($1, $2, $3)`, [start.position, start.at, start.storage]);
      applied = { tick: start.position, tick_at: start.at, halted: null, fingerprints: {}, follow_ddl: false, copied: [], source_indexes: null, refresh_tables: [], storage: start.storage };
    }
    // The operator accepted the target as it is: indexes the source no longer has are forgotten (planIndexes).
    if (this.o.acceptDdl && applied.source_indexes) await t.query(`UPDATE ${CUTOVER_SCHEMA}.apply_state SET source_indexes = NULL`);
    this.sourceIndexes = this.o.acceptDdl || !applied.source_indexes ? undefined : new Set(applied.source_indexes);
    if (this.o.followDdl && !applied.follow_ddl) await t.query(`UPDATE ${CUTOVER_SCHEMA}.apply_state SET follow_ddl = true`);
    this.follow = applied.follow_ddl || !!this.o.followDdl;
    if (applied.halted && !accept) {
      throw new CutoverError('E_HALTED', `replication is halted: ${applied.halted}`, {
        hint: 'apply the same change on the target, then run `cutover replicate apply --accept-ddl` (or start over: teardown, start, copy)',
      });
    }
    this.tick = applied.tick;
    this.tickAtMs = applied.tick_at.getTime();
    this.refresh = new Set(applied.refresh_tables);
    this.storage = applied.storage ? new Map(Object.entries(applied.storage).map(([k, v]) => [Number(k), v])) : undefined;

    // The source's catalog in one snapshot: the column lists the batches copy, the shapes accepted and
    // checked, and the column signatures a batch compares against must describe the same moment, or a
    // transaction that adds a column and writes it between two of these reads would be applied with the
    // older column list (its values lost) and its shape taken as already seen.
    await s.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
    this.srcInTxn = true;
    let tgtIds: (number | null)[];
    try {
      tgtIds = await this.readCatalogs(applied, accept, verified);
      await s.query('COMMIT');
      this.srcInTxn = false;
    } finally {
      if (this.srcInTxn) {
        this.srcInTxn = false;
        await s.query('ROLLBACK').catch(() => undefined);
      }
    }
    const moved = await moveForeignKeys(t, tgtIds as number[]);
    if (moved.length) {
      this.o.onNote?.(`moved ${moved.length} foreign key(s) on the target out of the applier's way (${moved.map((m) => `${m.table}.${quoteIdent(m.name)}: ${m.action === 'nondeferrable' ? 'deferrable' : 'dropped'}`).join(', ')}); ` +
        'replicate cutover puts them back after the drain');
    }
    const disabled = (await t.query<{ n: number }>(`SELECT ${CUTOVER_SCHEMA}.disable_user_triggers($1::oid[]::regclass[]) AS n`, [tgtIds])).rows[0]!.n;
    if (disabled) this.o.onNote?.(`disabled ${disabled} user trigger(s) on the target while applying (restored at cutover or teardown)`);
    // ddl: follow: the source's indexes now (first open, or accepted as it is).
    if (this.follow && !this.sourceIndexes) await this.recordSourceIndexes();
  }

  /**
   * connectOnce, inside one source snapshot: the replicated tables, their columns on both sides, the shapes
   * accepted (all of them with --accept-ddl; after followed DDL, `verified`), the check for DDL since, the
   * target's recorded shapes, and the column signatures batches compare against. Returns the target oids.
   */
  private async readCatalogs(applied: AppliedState, accept: boolean, verified: Map<number, Shape> | undefined): Promise<(number | null)[]> {
    const s = this.s, t = this.t;
    let reg = await this.changes.tables(s);
    let names = reg.map((r) => qualify(r.schema, r.name));
    let tgtIds = await resolveTables(t, names);
    this.pending.clear();
    if (this.follow) {
      // Captured since replication started (ddl: follow) and not copied yet (a table of that name on the
      // target may be one someone created there): the next batch copies them.
      reg.forEach((r, i) => { if (tgtIds[i] === null || (r.followed && !applied.copied.includes(r.tableid))) this.pending.set(r.tableid, { tableid: r.tableid, relid: r.relid, name: names[i]! }); });
      reg = reg.filter((r) => !this.pending.has(r.tableid));
      names = reg.map((r) => qualify(r.schema, r.name));
      tgtIds = await resolveTables(t, names);
    }
    const missing = names.filter((_, i) => tgtIds[i] === null);
    if (missing.length) {
      throw new CutoverError('E_PREFLIGHT', `${missing.length} replicated table(s) are not on the target: ${missing.slice(0, 10).join(', ')}`, {
        hint: 'copy the data first (`cutover copy`), into the same schema and table names',
      });
    }
    const srcCols = await readColumns(s, reg.map((r) => r.relid));
    const tgtCols = await readColumns(t, tgtIds as number[]);
    const kinds = new Map((await t.query<{ oid: string; kind: string }>('SELECT oid::int8 AS oid, relkind::text AS kind FROM pg_class WHERE oid = ANY($1::oid[])', [tgtIds])).rows.map((r) => [Number(r.oid), r.kind]));
    const srcKinds = new Map((await s.query<{ oid: string; kind: string }>('SELECT oid::int8 AS oid, relkind::text AS kind FROM pg_class WHERE oid = ANY($1::oid[])', [reg.map((r) => r.relid)])).rows.map((r) => [Number(r.oid), r.kind]));
    const problems: string[] = [];
    reg.forEach((r, i) => {
      const tgtRelid = tgtIds[i]!;
      const sc = (srcCols.get(r.relid) ?? []).filter((c) => !c.generated);
      const tc = new Map((tgtCols.get(tgtRelid) ?? []).map((c) => [c.name, c] as const));
      const absent = sc.filter((c) => !tc.has(c.name) || tc.get(c.name)!.generated);
      if (absent.length) problems.push(`${names[i]}: column(s) ${absent.map((c) => quoteIdent(c.name)).join(', ')} are not (plain columns) on the target`);
      this.tables.set(r.tableid, {
        tableid: r.tableid, schema: r.schema, name: r.name, key: r.key, keyTypes: r.keyTypes,
        cols: sc.map((c) => c.name), matchCols: r.matchColumns ?? [], tgtRelid, srcRelid: r.relid,
        srcOnly: srcKinds.get(r.relid) === 'p' ? '' : 'ONLY ', tgtOnly: kinds.get(tgtRelid) === 'p' ? '' : 'ONLY ', temps: false,
      });
      this.baseline.set(r.relid, { shape: r.shape, triggers: r.triggers, name: names[i]! });
    });
    // Accepted shapes first (after followed DDL: exactly those the target was made to match), then DDL on
    // the source since: followed, or the same halt as when a running applier sees it happen.
    if (accept) await this.acceptSourceShapes(verified);
    await this.checkSource(true);
    if (problems.length) {
      throw new CutoverError('E_PREFLIGHT', `the target's tables do not match the source's:\n  ${problems.join('\n  ')}`, {
        hint: 'apply the same DDL on the target as on the source (or copy again), then run the applier again',
      });
    }
    // Tables without a key: matched by every column that has an equality operator, as the target has them
    // now (a column ddl: follow added since capture started counts: rows may differ only there). Only the
    // columns capture did not record as comparable are asked about (usually none: no query).
    for (const ti of this.tables.values()) {
      if (ti.key.length) continue;
      const known = ti.matchCols.filter((c) => ti.cols.includes(c));
      const others = ti.cols.filter((c) => !known.includes(c));
      ti.matchCols = others.length ? [...known, ...(await equalityColumns(t, ti.schema, ti.name, others))] : known;
    }
    this.order = await this.parentsFirst(reg.map((r) => r.tableid));
    // The applier writes with row_security = off: a table whose policies apply to its role (not a superuser
    // or BYPASSRLS, and FORCE, or not the owner) would fail every batch that touches it.
    const mine = new Set([...this.tables.values()].map((x) => qualify(x.schema, x.name)));
    const filtered = (await rlsFilteredTables(t)).filter((r) => mine.has(qualify(r.schema, r.name)));
    if (filtered.length) {
      throw new CutoverError('E_PREFLIGHT', `row-level security applies to the applier's role on the target for ${filtered.length} table(s), so it cannot write them: ${filtered.map(describeRlsFiltered).join(', ')}`, { hint: RLS_HINT });
    }

    // Target shapes: recorded the first time (or when DDL is accepted), compared afterwards.
    const tShapes = await readShapes(t, tgtIds as number[]);
    const now = Object.fromEntries([...tShapes.values()].map((x) => [x.name, { shape: x.shape, name: x.name }]));
    if (!Object.keys(applied.fingerprints).length || accept) {
      await t.query(`UPDATE ${CUTOVER_SCHEMA}.apply_state SET fingerprints = $1, halted = NULL`, [JSON.stringify(now)]);
    } else {
      const changed = Object.values(applied.fingerprints).filter((f) => now[f.name]?.shape !== f.shape).map((f) => f.name);
      if (changed.length) await this.halt(`the target's table(s) ${changed.join(', ')} changed since replication started (DDL on the target)`);
    }
    // The columns of this snapshot: a batch that sees others checks its tables again at once.
    this.columnSig = await this.columnSignatures([...this.baseline.keys()]);
    return tgtIds;
  }

  /** Plans the indexes, then remembers (on the target) every index the source has now. */
  private async recordSourceIndexes(): Promise<IndexPlan> {
    const tables = [...this.tables.values()];
    const ip = await planIndexes(this.s, this.t, tables.map((x) => x.srcRelid), tables.map((x) => x.tgtRelid), this.sourceIndexes);
    if (!this.sourceIndexes || ip.sourceIndexes.some((k) => !this.sourceIndexes!.has(k))) {
      this.sourceIndexes = new Set([...(this.sourceIndexes ?? []), ...ip.sourceIndexes]);
      await this.t.query(`UPDATE ${CUTOVER_SCHEMA}.apply_state SET source_indexes = $1`, [[...this.sourceIndexes]]);
    }
    return ip;
  }

  /** Records the source's shapes as seen: `verified` (followed DDL) where given, else the source's now (--accept-ddl). */
  private async acceptSourceShapes(verified?: Map<number, Shape>): Promise<void> {
    // New partitions of captured tables get what capture needs on them (trigger capture: the leaf triggers
    // that are not cloned): their triggers' change is cutover's own, accepted with the shape.
    const covered = await this.changes.coverNewLeaves(this.s);
    if (covered.length) this.o.onNote?.(`capture added to ${covered.length} new partition(s): ${covered.map((c) => c.leaf).join(', ')}`);
    const coveredRoots = new Set(covered.map((c) => c.relid));
    const shapes = await readShapes(this.s, [...this.baseline.keys()]);
    for (const [relid, b] of this.baseline) {
      const now = shapes.get(relid);
      const shape = verified ? verified.get(relid)?.shape : now?.shape;
      if (!now || shape === undefined) continue;
      const ours = coveredRoots.has(relid);
      if (now.triggers !== b.triggers && !ours) continue; // never accepted: see checkSource
      await this.changes.acceptShape(this.s, relid, shape, ours ? now.triggers : b.triggers);
      b.shape = shape;
      if (ours) b.triggers = now.triggers;
    }
  }

  /** Parents before children along the target's foreign keys (cycles: in tableid order). */
  private async parentsFirst(ids: number[]): Promise<number[]> {
    const byRelid = new Map([...this.tables.values()].map((x) => [x.tgtRelid, x.tableid]));
    const edges = (await this.t.query<{ child: string; parent: string }>(loadSql(import.meta.url, 'sql/fkeys.sql'))).rows
      .map((e) => [byRelid.get(Number(e.child)), byRelid.get(Number(e.parent))] as const)
      .filter((e): e is readonly [number, number] => e[0] !== undefined && e[1] !== undefined && e[0] !== e[1]);
    const out: number[] = [];
    const state = new Map<number, 'visiting' | 'done'>();
    const visit = (id: number) => {
      if (state.get(id)) return; // done, or a cycle: deferred constraints (or luck) must carry it
      state.set(id, 'visiting');
      for (const [c, p] of edges) if (c === id) visit(p);
      state.set(id, 'done');
      out.push(id);
    };
    for (const id of ids) visit(id);
    return out;
  }

  /**
   * Halts on source DDL (shape changed) and on lost capture (triggers dropped or disabled): every table
   * at most once a second, and (`only`) the tables a batch is about to apply, in the batch's snapshot,
   * so that no batch applies rows read with a column list older than the source's.
   */
  private async checkSource(force = false, only?: number[]): Promise<void> {
    if (!only) {
      if (!force && Date.now() - this.lastShapeCheck < 1000) return;
      this.lastShapeCheck = Date.now();
    }
    const relids = only ?? [...this.baseline.keys()];
    const now = await readShapes(this.s, relids);
    const gone: string[] = [], changed: string[] = [], trig: string[] = [];
    const types = new Set<string>();
    for (const [relid, b] of [...this.baseline].filter(([r]) => relids.includes(r))) {
      const n = now.get(relid);
      if (!n) gone.push(b.name);
      else if (n.triggers !== b.triggers) trig.push(n.name);
      else if (n.shape !== b.shape) {
        const d = shapeDifference(b.shape, n.shape);
        d.types.forEach((x) => types.add(x));
        if (d.table || !d.types.length) changed.push(n.name);
      }
    }
    if (trig.length) {
      await this.halt(`cutover's capture triggers on ${trig.join(', ')} were dropped or disabled: changes made since then were not captured`, true);
    }
    if (this.follow && !gone.length && (changed.length || types.size)) await this.followDdl();
    if (gone.length || changed.length || types.size) {
      await this.halt(`DDL on the source: ${[...gone.map((g) => `${g} was dropped or renamed`), ...changed.map((c) => `${c} changed (columns, key or partitions)`),
        ...[...types].map((x) => `type ${x} changed (enum labels, domain constraints or attributes)`)].join('; ')}`);
    }
  }

  /**
   * ddl: follow: applies the additive part of the source's DDL to the target (ddl-follow.ts), then requires
   * the two sides' shapes to be equal; throws FollowedDdl so that the applier reads both catalogs again.
   * Halts, with the statements the diff suggests, on anything it does not follow.
   */
  private async followDdl(): Promise<never> {
    // The source read in one snapshot (a batch's or the connect's, else its own): the plan, and the shapes
    // the target is then compared with and accepted as, describe one moment.
    if (this.srcInTxn) return this.followDdlInSnapshot();
    await this.s.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    this.srcInTxn = true;
    try {
      return await this.followDdlInSnapshot();
    } finally {
      this.srcInTxn = false;
      await this.s.query('ROLLBACK').catch(() => undefined);
    }
  }

  private async followDdlInSnapshot(): Promise<never> {
    const tables = [...this.tables.values()];
    const names = tables.map((x) => qualify(x.schema, x.name));
    const plan = await planDdl(this.s, this.t, names);
    const hint = (extra: string[]) => `apply these (or the source's own DDL) on the target, then run \`cutover replicate apply --accept-ddl\`:\n  ${[...plan.statements, ...extra].join(';\n  ')};`;
    if (plan.refused.length) {
      await this.halt(`DDL on the source that ddl: follow does not apply: ${plan.refused.join('; ')}`, false, hint(plan.suggested));
    }
    const refresh = tables.filter((x) => plan.refresh.includes(qualify(x.schema, x.name)));
    await this.applyFollowed(plan.statements, refresh.map((x) => x.tableid), hint([]));
    if (plan.statements.length) this.o.onNote?.(`followed DDL on the source: ${plan.statements.join('; ')}`);
    if (refresh.length) {
      this.o.onNote?.(`followed DDL on the source: new column(s) with a default on ${refresh.map((x) => qualify(x.schema, x.name)).join(', ')}: ` +
        'the next batch reads their rows again in full (the values the source\'s ALTER gave existing rows)');
    }
    const src = await readShapes(this.s, [...this.baseline.keys()]);
    const tgt = await readShapes(this.t, tables.map((x) => x.tgtRelid));
    // By each side's own oid (names print quoted by each server's keyword list: they need not match).
    const differ = tables.filter((x) => src.get(x.srcRelid)?.shape !== tgt.get(x.tgtRelid)?.shape).map((x) => qualify(x.schema, x.name));
    if (differ.length) {
      await this.halt(`DDL on the source that ddl: follow does not apply: ${differ.join(', ')} still differ${plan.statements.length ? ` after ${plan.statements.length} followed statement(s)` : ''} (a key, partitions, a domain or composite type, or an index-backed change)`,
        false, hint(plan.suggested));
    }
    throw new FollowedDdl(src);
  }

  /**
   * Runs followed DDL on the target in one transaction with the record of the tables to read again: a
   * statement the target refuses (a type, sequence or function it lacks) halts naming it, nothing applied.
   */
  private async applyFollowed(statements: string[], refresh: number[], hint: string): Promise<void> {
    if (!statements.length && !refresh.length) return;
    await this.t.query('BEGIN');
    let current = '';
    try {
      for (const st of statements) { current = st; await this.t.query(st); }
      if (refresh.length) {
        await this.t.query(`UPDATE ${CUTOVER_SCHEMA}.apply_state SET refresh_tables = ARRAY(SELECT DISTINCT x FROM unnest(refresh_tables || $1::int[]) x ORDER BY 1)`, [refresh]);
      }
      await this.t.query('COMMIT');
    } catch (e) {
      await this.t.query('ROLLBACK').catch(() => undefined);
      if (lostConnection(e)) throw e;
      const pe = e as { message: string; code?: string };
      return await this.halt(`ddl: follow could not apply ${current} on the target: ${pe.message} [SQLSTATE ${pe.code ?? '?'}]`, false, hint);
    }
    for (const id of refresh) this.refresh.add(id);
  }

  /**
   * ddl: follow, before a batch (at most once a second): tables created on the source that match the
   * selection get capture (committed before the batch's snapshot, so no write is missed; the batch then
   * creates and copies them, see copyNewTables); indexes the source has on replicated tables and the target
   * lacks are built on the target once the applied tick covers a snapshot taken after they were seen (so
   * the target's rows are the source's after the index existed), CONCURRENTLY, outside any transaction.
   */
  private async followNewObjects(force = false): Promise<void> {
    if (!force && Date.now() - this.lastFollowCheck < 1000) return;
    this.lastFollowCheck = Date.now();
    const note = this.o.onNote ?? (() => undefined);
    const fresh = await this.changes.captureNew(this.s, note);
    for (const c of fresh.captured) {
      this.pending.set(c.tableid, { tableid: c.tableid, relid: c.relid, name: qualify(c.schema, c.name) });
      note(`new table ${qualify(c.schema, c.name)} on the source: capture installed (${c.keySource}); the next batch copies it`);
    }
    if (fresh.refused.length) {
      await this.halt(`DDL on the source that ddl: follow does not apply: ${fresh.refused.join('; ')}`, false,
        'give the table a primary key, or exclude it (run `cutover replicate start` again with --exclude-table: the applier keeps its place), then run `cutover replicate apply --accept-ddl`');
    }
    if (this.pending.size) {
      // Changes to existing tables' types are followed (or halted on) first; then the types the new tables need.
      await this.checkSource(true);
      const plan = await planDdl(this.s, this.t, []);
      if (plan.refused.length) await this.halt(`DDL on the source that ddl: follow does not apply: ${plan.refused.join('; ')}`);
      await this.applyFollowed(plan.statements, [], `apply these (or the source's own DDL) on the target, then run \`cutover replicate apply --accept-ddl\`:\n  ${plan.statements.join(';\n  ')};`);
      if (plan.statements.length) note(`followed DDL on the source: ${plan.statements.join('; ')}`);
    }
    const ip = await this.recordSourceIndexes();
    if (ip.refused.length) {
      await this.halt(`DDL on the source that ddl: follow does not apply: ${ip.refused.join('; ')}`, false,
        `apply these (or the source's own DDL) on the target, then run \`cutover replicate apply --accept-ddl\`:\n  ${ip.suggested.join(';\n  ')};`);
    }
    if (!ip.create.length) { this.indexWait = undefined; return; }
    if (!force) {
      if (!this.indexWait) { this.indexWait = await this.sourceSnapshot(); return; }
      if (!this.covers(this.indexWait)) return;
    }
    this.indexWait = undefined;
    // A column the index needs may be new too: the source's column changes are followed (or halted on) first.
    await this.checkSource(true);
    for (const x of ip.create) await this.buildIndex(x);
  }

  /**
   * In a cutover's fence once drained (the target holds the fenced source's rows): with ddl: follow, what
   * the source's catalog has now reaches the target before this returns (new columns, new tables captured
   * and copied, new indexes built without waiting for a later tick); without it, a new table halts. Then
   * one more batch whose storage check runs at once: a table rewritten without a trigger is read again.
   */
  async settleDdl(): Promise<void> {
    if (this.follow) {
      // DDL that fired no trigger (a column added with a default, to a table nobody wrote since) is seen
      // only by the shape check, once a second: in the fence, now.
      try {
        await this.checkSource(true);
      } catch (e) {
        if (!(e instanceof FollowedDdl)) throw e;
        await this.reconnect(e.shapes);
      }
      await this.followNewObjects(true);
    } else await this.haltOnNewTables(true);
    // One more batch, whose storage check runs whatever the time: a rewrite no trigger saw is read again.
    this.storageForce = true;
    await this.run({ until: () => true });
    if (this.follow) {
      if (this.pending.size || this.refresh.size) await this.run({ until: () => true });
      await this.followNewObjects(true);
    }
  }

  /** Without ddl: follow, a table created on the source that the selection covers halts (its rows would not be replicated). */
  private async haltOnNewTables(force = false): Promise<void> {
    if (!force && Date.now() - this.lastFollowCheck < 1000) return;
    this.lastFollowCheck = Date.now();
    const fresh = await this.changes.uncaptured(this.s);
    if (fresh.length) {
      await this.halt(`DDL on the source: new table(s) ${fresh.join(', ')} that the capture's selection covers, not replicated without ddl: follow`, false,
        'with `ddl: follow` (--follow-ddl) the applier captures, creates and copies them; or drop them on the source, or exclude them (run `cutover replicate start` again with --exclude-table: the applier keeps its place); then run `cutover replicate apply --accept-ddl`');
    }
  }

  /** Builds one index the source has on the target; on failure removes what the build left and halts naming it. */
  private async buildIndex(x: IndexAction): Promise<void> {
    const drop = `DROP INDEX ${x.concurrently ? 'CONCURRENTLY ' : ''}IF EXISTS ${x.qualified}`;
    if (x.dropInvalid) await this.t.query(drop);
    const t0 = Date.now();
    try {
      await this.t.query(x.create);
      if (x.attach) await this.t.query(x.attach);
    } catch (e) {
      if (lostConnection(e)) throw e;
      // CONCURRENTLY leaves an INVALID index behind when it fails; so does a build whose ADD CONSTRAINT failed.
      await this.t.query(drop);
      const pe = e as { message: string; detail?: string; code?: string };
      return await this.halt(`ddl: follow could not build index ${x.qualified} on ${x.table} on the target: ${pe.message}${pe.detail ? ` (${pe.detail})` : ''} [SQLSTATE ${pe.code ?? '?'}]`, false,
        `the target's rows do not allow it (rows written on the target by someone else?): correct them, or drop the index on the source; then run \`cutover replicate apply --accept-ddl\`. The statement: ${x.create}${x.attach ? `; ${x.attach}` : ''}`);
    }
    this.o.onNote?.(`followed DDL on the source: ${x.create}${x.attach ? `; ${x.attach}` : ''} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  }

  /** The new table being created and copied (named by a halt). */
  private copying?: string;

  /**
   * In the batch's transactions: creates each pending table on the target (DDL from the source's catalog),
   * copies its rows under the batch's snapshot, then adds its other indexes and foreign keys, and records
   * its target shape. Capture was installed before that snapshot was taken: every change it shows is in
   * the copied rows, and every later one is in a later batch (this batch applies none of the table's
   * events). Creation, copy and the new tick commit together: a failure leaves no half-copied table.
   */
  private async copyNewTables(): Promise<string[]> {
    const s = this.s, t = this.t;
    const made: { p: PendingTable; ddl: Awaited<ReturnType<typeof tableStatements>>; created: boolean }[] = [];
    // Every new table and its rows first, then their indexes, foreign keys and the rest: a child's foreign
    // key may reference a parent created in the same batch.
    for (const p of this.pending.values()) {
      this.copying = p.name;
      const there = (await t.query<{ oid: string | null }>('SELECT to_regclass($1)::oid::int8 AS oid', [p.name])).rows[0]!.oid;
      const ddl = await tableStatements(s, p.relid, this.o.roleMap);
      if (there === null) {
        for (const st of ddl.before) await t.query(st);
      } else if ((await t.query(`SELECT 1 FROM ONLY ${p.name} LIMIT 1`)).rowCount) {
        throw new NotCopied('the table already exists on the target and has rows');
      } else {
        // Made on the target beforehand, with its triggers: they ran on the source for these rows.
        await t.query(`SELECT ${CUTOVER_SCHEMA}.disable_user_triggers(ARRAY[$1::regclass])`, [p.name]);
      }
      const cols = ((await readColumns(s, [p.relid])).get(p.relid) ?? []).filter((c) => !c.generated).map((c) => quoteIdent(c.name)).join(', ');
      await streamCopy(s, t, `COPY (SELECT ${cols} FROM ONLY ${p.name}) TO STDOUT`, `COPY ${p.name} (${cols}) FROM STDIN`);
      made.push({ p, ddl, created: there === null });
    }
    for (const m of made.filter((x) => x.created)) {
      this.copying = m.p.name;
      for (const st of m.ddl.after) await t.query(st);
    }
    for (const m of made) {
      this.copying = m.p.name;
      if (m.created) await this.finishNewTable(m.p.name, m.ddl.finish);
      const oid = (await t.query<{ oid: string }>('SELECT to_regclass($1)::oid::int8 AS oid', [m.p.name])).rows[0]!.oid;
      const shape = (await readShapes(t, [Number(oid)])).get(Number(oid))!;
      await t.query(`UPDATE ${CUTOVER_SCHEMA}.apply_state SET copied_tables = array_append(copied_tables, $3),
        fingerprints = fingerprints || jsonb_build_object($1::text, jsonb_build_object('shape', $2::text, 'name', $1::text))`, [shape.name, shape.shape, m.p.tableid]);
    }
    this.copying = undefined;
    return made.map((m) => m.p.name);
  }

  /**
   * A new table's comments, triggers, policies, owner and grants, each in a savepoint. One the target
   * cannot take (a role or trigger function it lacks) is named with its statement: a required one
   * (a trigger, row-level security, a restrictive policy) halts, the rest go on with a WARNING.
   * Its user triggers are then disabled like the others' (they ran on the source; restored at cutover).
   */
  private async finishNewTable(name: string, statements: FinishStatement[]): Promise<void> {
    const failed: string[] = [];
    for (const st of statements) {
      await this.t.query('SAVEPOINT cutover_finish');
      try {
        await this.t.query(st.sql);
        await this.t.query('RELEASE SAVEPOINT cutover_finish');
      } catch (e) {
        await this.t.query('ROLLBACK TO SAVEPOINT cutover_finish');
        if (st.required) throw new NotCopied(`the target refused ${st.sql} (${(e as Error).message}): without it the table would behave differently after the switch (create the role or function it needs on the target, or map the role with --role-map)`);
        failed.push(`${st.sql} (${(e as Error).message})`);
      }
    }
    await this.t.query(`SELECT ${CUTOVER_SCHEMA}.disable_user_triggers(ARRAY[$1::regclass])`, [name]);
    const filtered = (await rlsFilteredTables(this.t)).filter((r) => qualify(r.schema, r.name) === name);
    if (filtered.length) throw new NotCopied(`row-level security applies to the applier's role on the target, so it cannot write the table: ${filtered.map(describeRlsFiltered).join(', ')}; ${RLS_HINT}`);
    if (failed.length) this.o.onNote?.(`WARNING: new table ${name} created without ${failed.length} of its definitions (apply them on the target): ${failed.join('; ')}`);
  }

  private async halt(reason: string, fatal = false, hint?: string): Promise<never> {
    await this.t.query(`UPDATE ${CUTOVER_SCHEMA}.apply_state SET halted = $1`, [reason]).catch(() => undefined);
    throw new CutoverError('E_HALTED', `replication halted: ${reason}`, {
      hint: hint ?? (fatal
        ? 'the target can no longer be trusted to follow the source: run `cutover replicate teardown`, then start again (replicate start, copy)'
        : 'DDL cannot be captured without superuser: apply the same change on the target, then run `cutover replicate apply --accept-ddl`'),
    });
  }

  private async ensureTemps(ti: TableInfo): Promise<void> {
    if (ti.temps) return;
    const tgt = qualify(ti.schema, ti.name);
    const cols = ti.cols.map(quoteIdent).join(', ');
    // Keyed: the changed keys. Keyless: each changed row value with its net count in the batch.
    const keys = ti.key.length ? ti.key.map(quoteIdent).join(', ') : `${cols}, 0::int8 AS "_cutover_n"`;
    // Outside the batch transaction; ON COMMIT DELETE ROWS empties them after every batch.
    await this.t.query(`CREATE TEMP TABLE IF NOT EXISTS ${quoteIdent(`cutover_r_${ti.tableid}`)} ON COMMIT DELETE ROWS AS SELECT ${cols} FROM ${tgt} WITH NO DATA`);
    await this.t.query(`CREATE TEMP TABLE IF NOT EXISTS ${quoteIdent(`cutover_d_${ti.tableid}`)} ON COMMIT DELETE ROWS AS SELECT ${keys} FROM ${tgt} WITH NO DATA`);
    ti.temps = true;
  }

  /** From now on, count applied events of transactions that `snapshot` (taken once a fence held) does not show. */
  watchFence(snapshot: string): void {
    this.fenceSnapshot = snapshot;
  }

  /** One batch: everything committed on the source since the applied tick. */
  async batch(): Promise<BatchResult> {
    const t0 = Date.now();
    if (this.follow) await this.followNewObjects();
    else await this.haltOnNewTables();
    const s = this.s, t = this.t;
    await s.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
    this.srcInTxn = true;
    let tgtOpen = false;
    // The batch's changes, once read (a halt names the source transactions of a table through it).
    let batch: ChangeBatch | undefined;
    // The table being applied when a statement failed: named by the halt.
    let failing: TableInfo | undefined;
    try {
      // The first statement of the transaction: its snapshot is the batch's end.
      const { position: cur, at } = await this.changes.now(s);
      await this.checkSource();
      batch = await this.changes.nextBatch(s, this.tick, cur, this.fenceSnapshot);
      const changed = batch.tables;
      // Rewrites no trigger saw (at most once a second, and in the fence): their tables are read again.
      let storageNow: Map<number, string> | undefined;
      const rewritten: number[] = [];
      // (Checked in the batch that copies new tables too: their first record is the copy's snapshot.)
      if (this.storageForce || this.pending.size || Date.now() - this.lastStorageCheck >= 1000) {
        this.storageForce = false;
        this.lastStorageCheck = Date.now();
        storageNow = await this.storageSignatures();
        for (const [id, sig] of storageNow) {
          const was = this.storage?.get(id);
          // A TRUNCATE gives a new relfilenode too: one in this batch is read whole anyway.
          if (was !== undefined && rewrittenSince(was, sig) && !changed.some((c) => c.tableid === id && c.truncated)) rewritten.push(id);
        }
        if (rewritten.length) {
          this.o.onNote?.(`the source rewrote ${rewritten.map((id) => this.tables.get(id)).filter((x) => x).map((x) => qualify(x!.schema, x!.name)).join(', ')} ` +
            '(a column retyped USING an expression, dropped and added again, a volatile default, a TRUNCATE, VACUUM FULL or CLUSTER: what no trigger or earlier batch covers): read again in full');
        }
      }
      // Written to the target only when it changed (checked once a second; most seconds nothing changes).
      const storageWrite = storageNow && (!this.storage || storageJson(storageNow) !== storageJson(this.storage)) ? storageJson(storageNow) : null;
      // Tables a followed column with a default left to read again, and rewritten ones: read whole under
      // this snapshot, as after a TRUNCATE.
      const refreshed = [...new Set([...this.refresh, ...rewritten])].filter((id) => this.tables.has(id));
      for (const id of refreshed) {
        const c = changed.find((x) => x.tableid === id);
        if (c) c.truncated = true;
        else changed.push({ tableid: id, events: 0, truncated: true, afterFence: 0 });
      }
      const prevAt = this.tickAtMs;
      if (changed.length) this.onBatchStart?.({ events: changed.reduce((n, c) => n + c.events, 0), tables: changed.length, lagMs: at.getTime() - prevAt });
      if (!changed.length && !this.pending.size) {
        await s.query('COMMIT');
        this.srcInTxn = false;
        await t.query(`UPDATE ${CUTOVER_SCHEMA}.apply_state SET tick = $1, tick_at = $2, applied_at = now(), storage = coalesce($3::jsonb, storage)`,
          [cur, at, storageWrite]);
        if (storageNow) this.storage = storageNow;
        this.tick = cur;
        this.tickAtMs = at.getTime();
        return { events: 0, tables: 0, upserted: 0, deleted: 0, truncated: 0, durationMs: Date.now() - t0, tick: cur, lagMs: 0 };
      }
      // A pending table's events so far are in the rows this batch copies (under its snapshot).
      const unknown = changed.filter((c) => !this.tables.has(c.tableid) && !this.pending.has(c.tableid));
      if (unknown.length) await this.halt(`the log holds events of table id(s) ${unknown.map((u) => u.tableid).join(', ')} that this applier does not know: capture was changed while it ran; restart the applier`);
      const byId = new Map(changed.map((c) => [c.tableid, c]));
      const todo = this.order.filter((id) => byId.has(id)).map((id) => this.tables.get(id)!);
      // The columns of the tables this batch applies, as its snapshot sees them (one cheap query); a change
      // there runs the full shape check for them now rather than within the second.
      const sig = await this.columnSignatures(todo.map((x) => x.srcRelid));
      const moved = [...sig].filter(([relid, c]) => this.columnSig.get(relid) !== c).map(([relid]) => relid);
      if (moved.length) {
        await this.checkSource(true, moved);
        // Shapes as accepted, columns not as this applier read them: never apply with the older list.
        const cols = await readColumns(s, moved);
        const stale = todo.filter((x) => moved.includes(x.srcRelid) && (cols.get(x.srcRelid) ?? []).filter((c) => !c.generated).map((c) => c.name).join('\0') !== x.cols.join('\0'));
        if (stale.length) throw new StaleColumns(stale.map((x) => qualify(x.schema, x.name)).join(', '));
      }
      for (const relid of moved) this.columnSig.set(relid, sig.get(relid)!);
      for (const ti of todo) await this.ensureTemps(ti);
      if (this.tracking) await this.reportChunks(todo, byId, batch);
      await t.query('BEGIN');
      tgtOpen = true;
      await t.query('SET CONSTRAINTS ALL DEFERRED');
      let upserted = 0, deleted = 0, truncated = 0;
      // 1. Read: per changed table, the changed keys and the current rows of those keys (all rows of a
      //    truncated table); keyless tables: each changed row value with its net count in this batch.
      const step = (name: BatchStep['step'], ti: TableInfo, i: number, bytes = 0) =>
        this.onBatchStep?.({ step: name, table: displayName(ti), index: i + 1, tables: todo.length, bytes });
      for (const [i, ti] of todo.entries()) {
        failing = ti;
        const full = byId.get(ti.tableid)!.truncated;
        if (full) truncated++;
        let read = 0;
        const onBytes = (n: number) => { read += n; step('read', ti, i, read); };
        step('read', ti, i);
        const src = qualify(ti.schema, ti.name);
        const cols = ti.cols.map((c) => `t.${quoteIdent(c)}`).join(', ');
        const r = quoteIdent(`cutover_r_${ti.tableid}`), d = quoteIdent(`cutover_d_${ti.tableid}`);
        if (full) {
          await streamCopy(s, t, `COPY (SELECT ${cols} FROM ${ti.srcOnly}${src} t) TO STDOUT`, `COPY pg_temp.${r} FROM STDIN`, onBytes);
        } else if (!ti.key.length) {
          // Full-row identity: each changed row value with its net count (counts commute: the order of the
          // batch's events does not matter).
          const net = batch.netRowsSql({ tableid: ti.tableid, relation: src });
          await streamCopy(s, t, `COPY (SELECT ${cols}, g.n FROM (${net}) g CROSS JOIN LATERAL pg_catalog.jsonb_populate_record(NULL::${src}, g.k) t) TO STDOUT`,
            `COPY pg_temp.${d} FROM STDIN`, onBytes);
        } else {
          const keyList = ti.key.map((k) => `t.${quoteIdent(k)}`).join(', ');
          const changedKeys = batch.keysSql(ti);
          await streamCopy(s, t, `COPY (SELECT DISTINCT * FROM (${changedKeys}) k) TO STDOUT`, `COPY pg_temp.${d} FROM STDIN`, onBytes);
          await streamCopy(s, t, `COPY (SELECT ${cols} FROM ${ti.srcOnly}${src} t WHERE (${keyList}) IN (${changedKeys})) TO STDOUT`, `COPY pg_temp.${r} FROM STDIN`, onBytes);
        }
      }
      // 2. Remove every changed key's row (children first), then 3. insert the current rows (parents
      //    first). Between the two the target holds only unchanged rows, and each insert adds a row of
      //    the source's state at this tick: a subset of a state that satisfied every unique and exclusion
      //    constraint on the source satisfies them too, whatever the batch swapped, cycled or moved.
      //    Foreign keys that could refuse or act on these deletes were moved out of the way (fk-moves.ts).
      for (const [i, ti] of [...todo].reverse().entries()) {
        failing = ti;
        step('remove', ti, i);
        const tgt = `${ti.tgtOnly}${qualify(ti.schema, ti.name)}`;
        const r = quoteIdent(`cutover_r_${ti.tableid}`), d = quoteIdent(`cutover_d_${ti.tableid}`);
        if (byId.get(ti.tableid)!.truncated) {
          deleted += (await t.query(`DELETE FROM ${tgt}`)).rowCount ?? 0;
        } else if (!ti.key.length) {
          // Equal rows by the columns that compare; first with a hash of the row's text as a hash-join key
          // (not a nested loop over the table), and if that finds too few (equal values printed differently,
          // e.g. citext), exactly.
          const exact = ti.matchCols.map((c) => `x.${quoteIdent(c)} IS NOT DISTINCT FROM v.${quoteIdent(c)}`).join(' AND ');
          const text = (al: string) => `pg_catalog.hashtextextended(ROW(${ti.matchCols.map((c) => `${al}.${quoteIdent(c)}`).join(', ')})::text, 0)`;
          const remove = async (match: string) => (await t.query(`DELETE FROM ${tgt} t USING (
                SELECT x.tableoid AS toid, x.ctid AS tid, row_number() OVER (PARTITION BY v.i) AS rn, -v."_cutover_n" AS want
                  FROM ${tgt} x JOIN (SELECT row_number() OVER () AS i, * FROM pg_temp.${d} WHERE "_cutover_n" < 0) v ON ${match}) m
              WHERE t.tableoid = m.toid AND t.ctid = m.tid AND m.rn <= m.want`)).rowCount ?? 0;
          const want = Number((await t.query<{ n: string }>(`SELECT coalesce(sum(-"_cutover_n"), 0)::int8 AS n FROM pg_temp.${d} WHERE "_cutover_n" < 0`)).rows[0]!.n);
          if (want > 0) {
            await t.query('SAVEPOINT keyless');
            let n = await remove(`${text('x')} = ${text('v')} AND ${exact}`);
            if (n !== want) {
              await t.query('ROLLBACK TO SAVEPOINT keyless');
              n = await remove(exact);
            }
            await t.query('RELEASE SAVEPOINT keyless');
            if (n !== want) {
              throw Object.assign(new Error(`the source deleted ${want} row(s) of a table without a key that the target holds only ${n} of`), { code: 'P0002', table: ti.name });
            }
            deleted += n;
          }
        } else {
          const match = ti.key.map((k) => `t.${quoteIdent(k)} = x.${quoteIdent(k)}`).join(' AND ');
          const back = ti.key.map((k) => `y.${quoteIdent(k)} = g.${quoteIdent(k)}`).join(' AND ');
          // Counted as deleted: removed keys that do not come back in step 3.
          deleted += Number((await t.query<{ n: string }>(`WITH g AS (DELETE FROM ${tgt} t USING pg_temp.${d} x WHERE ${match} RETURNING ${ti.key.map((k) => `t.${quoteIdent(k)}`).join(', ')})
            SELECT count(*) AS n FROM g WHERE NOT EXISTS (SELECT 1 FROM pg_temp.${r} y WHERE ${back})`)).rows[0]!.n);
        }
      }
      for (const [i, ti] of todo.entries()) {
        failing = ti;
        step('write', ti, i);
        const tgt = qualify(ti.schema, ti.name);
        const plain = ti.cols.map(quoteIdent).join(', ');
        const r = quoteIdent(`cutover_r_${ti.tableid}`), d = quoteIdent(`cutover_d_${ti.tableid}`);
        if (!ti.key.length && !byId.get(ti.tableid)!.truncated) {
          upserted += (await t.query(`INSERT INTO ${tgt} (${plain}) OVERRIDING SYSTEM VALUE SELECT ${plain} FROM pg_temp.${d} CROSS JOIN LATERAL generate_series(1, "_cutover_n") WHERE "_cutover_n" > 0`)).rowCount ?? 0;
        } else {
          upserted += (await t.query(`INSERT INTO ${tgt} (${plain}) OVERRIDING SYSTEM VALUE SELECT ${plain} FROM pg_temp.${r}`)).rowCount ?? 0;
        }
      }
      let copied: string[] = [];
      if (this.pending.size) {
        try {
          this.onBatchStep?.({ step: 'new tables', table: [...this.pending.values()].map((p) => p.name).join(', '), index: 1, tables: this.pending.size, bytes: 0 });
          copied = await this.copyNewTables();
        } catch (e) {
          if (e instanceof CutoverError || (!(e instanceof NotCopied) && lostConnection(e))) throw e;
          await t.query('ROLLBACK').catch(() => undefined);
          tgtOpen = false;
          const pe = e as { message: string; detail?: string; code?: string };
          await this.halt(`ddl: follow could not create and copy new table ${this.copying ?? '?'} on the target: ${pe.message}${pe.detail ? ` (${pe.detail})` : ''}${pe.code ? ` [SQLSTATE ${pe.code}]` : ''}`, false,
            'create the table on the target as on the source (or exclude it: run `cutover replicate start` again with --exclude-table), then run `cutover replicate apply --accept-ddl`');
        }
      }
      const events = changed.reduce((n, c) => n + c.events, 0);
      await t.query(`UPDATE ${CUTOVER_SCHEMA}.apply_state SET tick = $1, tick_at = $2, applied_at = now(), batches = batches + 1,
        events = events + $3, rows_upserted = rows_upserted + $4, rows_deleted = rows_deleted + $5,
        refresh_tables = ARRAY(SELECT x FROM unnest(refresh_tables) x WHERE x <> ALL($6::int[])), storage = coalesce($7::jsonb, storage)`,
      [cur, at, events, upserted, deleted, refreshed, storageWrite]);
      await t.query('COMMIT');
      for (const id of refreshed) this.refresh.delete(id);
      if (storageNow) this.storage = storageNow;
      tgtOpen = false;
      await s.query('COMMIT');
      this.srcInTxn = false;
      this.tick = cur;
      this.tickAtMs = at.getTime();
      this.totals.batches++;
      this.totals.events += events;
      for (const c of changed) {
        const ti = this.tables.get(c.tableid);
        const name = ti ? qualify(ti.schema, ti.name) : this.pending.get(c.tableid)?.name;
        if (c.afterFence > 0 && name) this.afterFence.set(name, (this.afterFence.get(name) ?? 0) + c.afterFence);
      }
      this.totals.upserted += upserted;
      this.totals.deleted += deleted;
      this.fkRetries = 0;
      if (copied.length) {
        this.o.onNote?.(`followed DDL on the source: new table(s) ${copied.join(', ')} created on the target and copied; replicated from now on`);
        // Both catalogs again: the new tables join the applied set (keys, order, foreign keys, triggers).
        await this.close();
        this.tables.clear();
        this.baseline.clear();
        await this.connect();
      }
      const durationMs = Date.now() - t0;
      return { events, tables: todo.length, upserted, deleted, truncated, durationMs, tick: cur, lagMs: at.getTime() - prevAt + durationMs };
    } catch (e) {
      if (tgtOpen) await t.query('ROLLBACK').catch(() => undefined);
      const cls = classifySqlState(sqlStateOf(e));
      const pe = e as { message: string; detail?: string; constraint?: string; code?: string; table?: string; schema?: string };
      // The table the error names (a deferred foreign key fails at COMMIT), else the one being applied.
      const named = (pe.table && [...this.tables.values()].find((x) => x.name === pe.table && (!pe.schema || x.schema === pe.schema))) || failing;
      const cannotApply = named && !(e instanceof CutoverError) && CANNOT_APPLY.has(cls);
      const txids = cannotApply && batch ? await batch.transactions(s, named.tableid).catch(() => []) : [];
      await s.query('ROLLBACK').catch(() => undefined);
      this.srcInTxn = false;
      if (!cannotApply) throw e;
      // A new enum label or a changed domain arrives here before the once-a-second shape check saw it.
      // (A COPY that failed on the target leaves the source session closed: then the halt below says it.)
      await this.checkSource(true).catch((x: unknown) => { if (!(x instanceof CutoverError) && lostConnection(x)) return; throw x; });
      // TRUNCATE is not MVCC-safe: one that commits while this batch reads its tables shows this snapshot an
      // empty table (and the next batch, which includes it, re-reads that table whole). The parent read
      // empty makes a deferred foreign key fail at COMMIT: the batch is tried again before anything halts.
      if (cls === 'fk_violation' && ++this.fkRetries <= 3) throw new RetryBatch();
      return await this.halt(`a batch cannot be applied to the target: table ${qualify(named.schema, named.name)}` +
        `${pe.constraint ? `, constraint ${quoteIdent(pe.constraint)}` : ''}: ${pe.message}${pe.detail ? ` (${pe.detail})` : ''} [SQLSTATE ${pe.code ?? '?'}]; ` +
        `source transaction(s) of this batch that changed the table: ${txids.join(', ') || 'unknown'}`, false,
      'the target differs from the source where this batch writes (a row written on the target by someone else, or a constraint the source does not have): ' +
      'correct the target, then run `cutover replicate apply --accept-ddl`; or start over (teardown, start, copy)');
    }
  }

  /** Each applied table's storage signature (sql/storage.sql) in the source session's snapshot, by tableid. */
  private storageSignatures(): Promise<Map<number, string>> {
    // The new tables this batch copies too: their first record is their copy's snapshot.
    return readStorage(this.s, [...[...this.tables.values()].map((x) => ({ tableid: x.tableid, relid: x.srcRelid })), ...this.pending.values()]);
  }

  private async columnSignatures(relids: number[]): Promise<Map<number, string>> {
    const { rows } = await this.s.query<{ relid: string; c: string }>(`SELECT a.attrelid::int8 AS relid, string_agg(a.attname || ':' || a.atttypid || ':' || a.atttypmod, ',' ORDER BY a.attnum) AS c
      FROM pg_catalog.pg_attribute a WHERE a.attrelid = ANY($1::oid[]) AND a.attnum > 0 AND NOT a.attisdropped GROUP BY 1`, [relids]);
    return new Map(rows.map((r) => [Number(r.relid), r.c]));
  }

  /**
   * From the next batch on, reports the key chunks each batch's events touch (incremental verify). A
   * batch that fails after reporting is redone: reporting twice only marks more, never less.
   */
  track(tables: TrackedTable[], sink: ChunkSink): void {
    this.tracking = { tables: new Map(tables.map((x) => [qualify(x.schema, x.name), x])), sink };
  }

  private async reportChunks(todo: TableInfo[], byId: Map<number, { truncated: boolean }>, batch: ChangeBatch): Promise<void> {
    for (const ti of todo) {
      const name = qualify(ti.schema, ti.name);
      const tr = this.tracking!.tables.get(name);
      if (!tr) continue;
      if (byId.get(ti.tableid)!.truncated) { this.tracking!.sink(name, 'all'); continue; }
      // Keys outside [lo, hi) are compared again in any case.
      this.tracking!.sink(name, await batch.chunks(this.s, ti.tableid, tr));
    }
  }

  /** Acknowledges the applied tick to the change source (trigger capture: empties applied log tables), at most every 2 s unless forced. */
  async rotate(force = false): Promise<number> {
    if (!force && Date.now() - this.lastRotate < 2000) return 0;
    this.lastRotate = Date.now();
    return this.changes.acknowledge(this.s, this.tick);
  }

  /**
   * Applies batches until `until` says stop (or the signal aborts). Lost connections (a terminated
   * backend, a restarted server) are survived: the applier reconnects and redoes the batch.
   */
  async run(o: { until?: (b: BatchResult) => boolean; signal?: AbortSignal; onBatch?: (b: BatchResult) => void; onBatchStart?: (b: BatchStart) => void;
    onBatchStep?: (s: BatchStep) => void; maxReconnects?: number; } = {}): Promise<void> {
    this.onBatchStart = o.onBatchStart;
    this.onBatchStep = o.onBatchStep;
    try {
      await this.runLoop(o);
    } finally {
      this.onBatchStart = undefined;
      this.onBatchStep = undefined;
    }
  }

  private async runLoop(o: { until?: (b: BatchResult) => boolean; signal?: AbortSignal; onBatch?: (b: BatchResult) => void; maxReconnects?: number }): Promise<void> {
    let failures = 0;
    while (!o.signal?.aborted) {
      let b: BatchResult;
      try {
        b = await this.batch();
        await this.rotate();
        failures = 0;
      } catch (e) {
        if (e instanceof FollowedDdl) {
          await this.reconnect(e.shapes);
          continue;
        }
        if (e instanceof StaleColumns) {
          this.o.onNote?.(`applier: the columns of ${e.message} changed since it read them; reading the catalogs again`);
          await this.reconnect();
          continue;
        }
        if (e instanceof RetryBatch) {
          this.o.onNote?.('applier: a foreign key did not hold at the end of a batch (a TRUNCATE committed while it read); trying the batch again');
          await sleep(200, o.signal);
          continue;
        }
        const cls = classifySqlState(sqlStateOf(e));
        // A lock wait over lock_timeout (an application's TRUNCATE or DDL queued behind a long reader, and
        // the batch's read behind it): the batch was rolled back; try it again after a pause.
        if (cls === 'lock_timeout' && ++failures <= (o.maxReconnects ?? 30)) {
          this.o.onNote?.(`applier: a table was locked for over 5 s (SQLSTATE ${sqlStateOf(e)}); retrying the batch (${failures})`);
          await sleep(500, o.signal);
          continue;
        }
        // A source object dropped while the applier's catalog snapshot still showed it (an index dropped
        // as the applier starts): read the catalogs again in a new snapshot, a bounded number of times.
        if (cls === 'internal' && ++failures <= (o.maxReconnects ?? 30)) {
          this.o.onNote?.(`applier: the source's catalog changed while it was read (SQLSTATE ${sqlStateOf(e)}: ${(e as Error).message}); reading it again (${failures})`);
          await this.reconnect();
          continue;
        }
        const lost = connectionLost(e) || cls === 'canceled';
        if (!lost || ++failures > (o.maxReconnects ?? 30)) throw e;
        this.o.onNote?.(`applier: ${sqlStateOf(e) ? `SQLSTATE ${sqlStateOf(e)}` : 'connection lost'}; reconnecting (${failures})`);
        await this.reconnect();
        continue;
      }
      o.onBatch?.(b);
      if (o.until?.(b)) return;
      if (b.events === 0) await sleep(this.o.idleMs ?? 200, o.signal);
    }
  }

  private async reconnect(accept?: Map<number, Shape>): Promise<void> {
    await this.close();
    this.acceptNext = accept;
    // Temporary tables went with the sessions: table info (and its temps flag) is rebuilt on connect.
    this.tables.clear();
    this.baseline.clear();
    for (let i = 0; ; i++) {
      try {
        await sleep(backoffMs(i, { baseMs: 250, maxMs: 5000 }));
        await this.connect();
        return;
      } catch (e) {
        if (e instanceof CutoverError && e.code !== 'E_UNREACHABLE') throw e;
        if (i >= 20 || !(connectionLost(e) || e instanceof CutoverError)) throw e;
        this.o.onNote?.(`applier: reconnecting failed (${sqlStateOf(e) ? `SQLSTATE ${sqlStateOf(e)}` : (e as Error).message}); trying again (${i + 2})`);
        await this.close();
      }
    }
  }

  /** The source's position now (for fences: wait until the applied tick covers it). */
  async sourceSnapshot(): Promise<Position> {
    return (await this.changes.now(this.s)).position;
  }

  /** Whether the applied tick shows every transaction the position `fence` did not (all older ones ended). */
  covers(fence: Position): boolean {
    return this.changes.covers(this.tick, fence);
  }

  /**
   * Gives the target's user triggers back (ALTER TABLE ... ENABLE TRIGGER: a lock that waits behind any
   * other writer's open transaction there): in brief lock slices, naming who holds a table, up to
   * `maxWaitMs`, instead of waiting unbounded inside the fence.
   */
  async restoreTargetTriggers(o: { maxWaitMs?: number; note?: (m: string) => void } = {}): Promise<number> {
    let n = 0;
    await withLock(this.t, 'restore target triggers', { lockTimeoutMs: 1000, maxLockWaitMs: o.maxWaitMs ?? 60_000 }, o.note ?? (() => undefined), async () => {
      n = (await this.t.query<{ n: number }>(`SELECT ${CUTOVER_SCHEMA}.restore_user_triggers() AS n`)).rows[0]!.n;
    });
    return n;
  }

  get sourceClient(): pg.Client { return this.s; }
  get targetClient(): pg.Client { return this.t; }

  async close(): Promise<void> {
    const ps = pidOf(this.src), pt = pidOf(this.tgt);
    if (ps) this.previous.source.add(ps);
    if (pt) this.previous.target.add(pt);
    await Promise.all([this.src && endWithin(this.src), this.tgt && endWithin(this.tgt)]);
    this.src = undefined;
    this.tgt = undefined;
  }
}

/** Errors of a batch that the target's rows or definitions cause: a halt naming table and transactions, not a retry. */
const CANNOT_APPLY = new Set<ErrorClass>(['data', 'fk_violation', 'rule', 'privilege', 'undefined_object', 'raised']);

/** A lost connection (no SQLSTATE, or a connection-class one): retried by reconnecting, never a halt. */
function lostConnection(e: unknown): boolean {
  const cls = classifySqlState(sqlStateOf(e));
  return cls === 'connection' || cls === 'retryable' || cls === 'canceled' || sqlStateOf(e) === undefined;
}


/** Ends the applier's own earlier sessions `pids` that the server still has (same step name: not reused pids). */
async function endPrevious(c: pg.Client, pids: Set<number>, step: string, note?: (m: string) => void): Promise<void> {
  const mine = [...pids].filter((p) => p !== pidOf(c));
  if (!mine.length) return;
  // Found first, then ended: in one WHERE the planner may call pg_terminate_backend() before the other
  // conditions have filtered the rows (it orders conditions by cost, not as written).
  const found = (await c.query<{ pid: number }>(`SELECT pid FROM pg_stat_activity
    WHERE pid = ANY($1::int[]) AND application_name LIKE $2 AND datname = current_database() AND pid <> pg_backend_pid()`, [mine, `cutover/${step}%`])).rows;
  const rows: { pid: number }[] = [];
  for (const r of found) if ((await c.query<{ ok: boolean }>('SELECT pg_terminate_backend($1) AS ok', [r.pid])).rows[0]?.ok) rows.push(r);
  if (rows.length) note?.(`applier: ended its earlier ${step.replace('apply-', '')} session(s) (backend pid ${rows.map((r) => r.pid).join(', ')}), still open on the server after the connection was lost`);
}

/** Whether a table's storage changed between two signatures: a leaf kept with a new relfilenode, or a column kept with a new attnum. */
function rewrittenSince(before: string, after: string): boolean {
  type Sig = { rel: Record<string, string> | null; cols: Record<string, number> | null };
  const b = JSON.parse(before) as Sig, a = JSON.parse(after) as Sig;
  for (const [oid, node] of Object.entries(b.rel ?? {})) if (a.rel?.[oid] !== undefined && a.rel[oid] !== node) return true;
  for (const [name, num] of Object.entries(b.cols ?? {})) if (a.cols?.[name] !== undefined && a.cols[name] !== num) return true;
  return false;
}

/** The storage record as stored (keys in tableid order, so that equal records print equal). */
const storageJson = (m: Map<number, string>): string => JSON.stringify(Object.fromEntries([...m].sort((x, y) => x[0] - y[0]).map(([id, sig]) => [String(id), sig])));

/** The target's _cutover.apply_state, as connectOnce reads it. */
interface AppliedState {
  tick: string;
  tick_at: Date;
  halted: string | null;
  fingerprints: Record<string, { shape: string; name: string }>;
  follow_ddl: boolean;
  copied: number[];
  source_indexes: string[] | null;
  refresh_tables: number[];
  storage: Record<string, string> | null;
}

/** A table ddl: follow captured on the source and has not copied to the target yet. */
interface PendingTable { tableid: number; relid: number; name: string }

/** A new table that ddl: follow does not copy (not a server error): the applier halts naming it. */
class NotCopied extends Error {}
/**
 * A lost session (a terminated backend, a restarted server), to reconnect from. node-postgres reports a
 * dropped connection without a SQLSTATE; cutover's own errors carry a code.
 */
function connectionLost(e: unknown): boolean {
  const cls = classifySqlState(sqlStateOf(e));
  return cls === 'connection' || cls === 'retryable' || (sqlStateOf(e) === undefined && !(e instanceof CutoverError));
}

/** The target took the source's DDL (ddl: follow): the applier reads both catalogs again. */
class FollowedDdl extends Error {
  /** The source's shapes the target was made equal to (by source oid), in the snapshot followDdl read. */
  constructor(readonly shapes: Map<number, Shape>) { super('followed DDL'); }
}
/** A batch saw columns other than the applier read (its message: the tables): the catalogs are read again. */
class StaleColumns extends Error {}
/** The batch is tried again (a TRUNCATE committed while it read: see batch()). */
class RetryBatch extends Error {}


/**
 * `replicate teardown`: removes every trigger and function and the `_cutover` schema from the source, and
 * the applier's bookkeeping from the target (after giving the target's triggers back). Idempotent:
 * triggers are found by name even when the schema is already gone, and a second run finds nothing.
 * A fence still in place is kept (the old source must not take writes after a cutover): it lives in its
 * own schema (`_cutover_fence`), so `replicate unfence` still lifts exactly what it set; the statements
 * that would lift it are returned too, for the journal.
 */
import { CUTOVER_SCHEMA } from '../pg/private-schema.js';
import type pg from 'pg';
import type { ConnParams } from '../pg/conninfo.js';
import { withClient } from '../pg/connect.js';
import { resolveEndpoint } from '../pg/endpoint.js';
import { loadSql } from '../pg/sql.js';
import { withLock } from './lock.js';
import { liftStatements, fenceStaysNote } from './fence.js';
import { completionStatement, deferredConstraints } from './deferred-constraints.js';
import { reverseCapture } from './window-state.js';

/** `_cutover` here is a reverse applier's (apply_state without capture state): this is a window's old source. */
async function windowBookkeeping(c: pg.Client): Promise<boolean> {
  return (await c.query<{ w: boolean }>(`SELECT to_regclass('${CUTOVER_SCHEMA}.apply_state') IS NOT NULL AND to_regclass('${CUTOVER_SCHEMA}.state') IS NULL AS w`)).rows[0]!.w;
}

export interface TeardownResult { triggersDropped: number; sourceSchema: boolean; targetSchema: boolean; targetTriggersRestored: number; fenceStatements: string[] }

export async function teardown(o: { source: ConnParams; target?: ConnParams; onNote?: (m: string) => void; lockTimeoutMs?: number; maxLockWaitMs?: number; fenceNoted?: boolean }): Promise<TeardownResult> {
  const note = o.onNote ?? (() => undefined);
  const out: TeardownResult = { triggersDropped: 0, sourceSchema: false, targetSchema: false, targetTriggersRestored: 0, fenceStatements: [] };
  await withClient(await resolveEndpoint(o.source), 'replicate-teardown', async (c) => {
    out.fenceStatements = await liftStatements(c);
    if (out.fenceStatements.length && !o.fenceNoted) {
      note(fenceStaysNote(out.fenceStatements));
    }
    for (const t of (await c.query<{ stmt: string; rel: string }>(loadSql(import.meta.url, 'sql/teardown-source.sql'))).rows) {
      await withLock(c, t.rel, o, note, async () => { await c.query(t.stmt); });
      out.triggersDropped++;
    }
    const had = (await c.query<{ r: string | null }>(`SELECT to_regnamespace('${CUTOVER_SCHEMA}')::text AS r`)).rows[0]!.r;
    // The old source of an open rollback window holds the reverse applier's bookkeeping, not capture.
    if (had && await windowBookkeeping(c)) {
      note('the old source keeps the rollback window\'s bookkeeping (`cutover replicate finish` ends the window)');
    } else if (had) {
      await withLock(c, `${CUTOVER_SCHEMA}.log_0`, o, note, async () => { await c.query(`DROP SCHEMA ${CUTOVER_SCHEMA} CASCADE`); });
      out.sourceSchema = true;
    }
  });
  if (o.target) {
    await withClient(await resolveEndpoint(o.target), 'replicate-teardown', async (c) => {
      if (await reverseCapture(c)) {
        note('the rollback window is open: its change capture on the target stays (`cutover replicate finish` ends the window, `cutover replicate rollback` goes back)');
        return;
      }
      // Never drop a deferred foreign key silently (a cutover that did not run would have completed it).
      const deferred = await deferredConstraints(c);
      if (deferred.length) note(`${deferred.length} foreign key(s) deferred by a resumed copy or moved by the applier were never completed; once the target matches the source run:\n  ${deferred.map(completionStatement).join(';\n  ')};`);
      if ((await c.query<{ r: string | null }>(`SELECT to_regprocedure('${CUTOVER_SCHEMA}.restore_user_triggers()')::text AS r`)).rows[0]!.r) {
        out.targetTriggersRestored = (await c.query<{ n: number }>(`SELECT ${CUTOVER_SCHEMA}.restore_user_triggers() AS n`)).rows[0]!.n;
      }
      if ((await c.query<{ r: string | null }>(`SELECT to_regnamespace('${CUTOVER_SCHEMA}')::text AS r`)).rows[0]!.r) {
        await c.query(`DROP SCHEMA ${CUTOVER_SCHEMA} CASCADE`);
        out.targetSchema = true;
      }
    });
  }
  return out;
}

/**
 * Foreign keys moved out of the applier's way on the target. A batch removes every changed key's row and
 * then inserts the current rows; a foreign key that acts on a delete (ON DELETE CASCADE / SET NULL / SET
 * DEFAULT) would remove or change a target row the source still has, and one checked at once (NOT
 * DEFERRABLE, RESTRICT) would refuse a parent's removal while its unchanged children are there.
 * So, once, before the first batch (sql/fk-moves.sql): NO ACTION keys become DEFERRABLE (checked at each
 * batch's commit), the others are dropped; each is recorded in _cutover.deferred_constraints (shared with
 * a resumed copy's deferred keys) and completed by replicate-cutover after the drain
 * (deferred-constraints.ts). Teardown prints the statements for any never completed.
 */
import type pg from 'pg';
import { quoteIdent } from '../pg/sql.js';
import { loadSql } from '../pg/sql.js';
import { withPinnedSettings } from './catalog.js';
import { type DeferredConstraint, deferConstraint } from './deferred-constraints.js';

/** Moves the target's hazardous foreign keys around the replicated tables; returns those moved now. */
export async function moveForeignKeys(t: pg.Client, targetRelids: number[]): Promise<DeferredConstraint[]> {
  const rows = (await withPinnedSettings(t, () => t.query<{ table_name: string; constraint_name: string; definition: string; action: DeferredConstraint['action'] }>(
    loadSql(import.meta.url, 'sql/fk-moves.sql'), [targetRelids]))).rows;
  const moved: DeferredConstraint[] = [];
  for (const r of rows) {
    const d: DeferredConstraint = { table: r.table_name, name: r.constraint_name, definition: r.definition, action: r.action };
    // The record and the change in one transaction: a killed applier leaves both or neither.
    await t.query('BEGIN');
    try {
      await deferConstraint(t, d);
      await t.query(d.action === 'nondeferrable'
        ? `ALTER TABLE ${d.table} ALTER CONSTRAINT ${quoteIdent(d.name)} DEFERRABLE INITIALLY IMMEDIATE`
        : `ALTER TABLE ${d.table} DROP CONSTRAINT ${quoteIdent(d.name)}`);
      await t.query('COMMIT');
    } catch (e) {
      await t.query('ROLLBACK').catch(() => undefined);
      throw e;
    }
    moved.push(d);
  }
  return moved;
}

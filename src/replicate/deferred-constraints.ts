/**
 * Foreign keys a resumed copy defers (see sql/deferred-constraints.sql), kept on the target and
 * completed by replicate-cutover once every change is applied.
 */
import { CUTOVER_SCHEMA } from '../pg/private-schema.js';
import type pg from 'pg';
import { CutoverError } from '../errors.js';
import { loadSql, quoteIdent } from '../pg/sql.js';
import { classifySqlState, sqlStateOf } from '../pg/sqlstate.js';

/**
 * validate: added NOT VALID by a resumed copy; add: left out (partitioned), added whole; readd: dropped
 * while applying (fk-moves.ts), added NOT VALID then validated; nondeferrable: made DEFERRABLE while
 * applying, NOT DEFERRABLE again.
 */
export interface DeferredConstraint { table: string; name: string; definition: string; action: 'validate' | 'add' | 'readd' | 'nondeferrable' }

export async function deferConstraint(c: pg.Client, d: DeferredConstraint): Promise<void> {
  await c.query(loadSql(import.meta.url, 'sql/deferred-constraints.sql'));
  // One spelling of the table whoever records it (the copy writes "app"."orders", the applier app.orders):
  // a key the copy deferred and the applier then moved is one record, with the applier's action.
  await c.query(`INSERT INTO ${CUTOVER_SCHEMA}.deferred_constraints (table_name, constraint_name, definition, action)
    SELECT format('%I.%I', n.nspname, r.relname), $2, $3, $4 FROM pg_class r JOIN pg_namespace n ON n.oid = r.relnamespace WHERE r.oid = $1::regclass
    ON CONFLICT (table_name, constraint_name) DO UPDATE SET action = excluded.action, definition = excluded.definition`, [d.table, d.name, d.definition, d.action]);
}

export async function deferredConstraints(c: pg.Client): Promise<DeferredConstraint[]> {
  if (!(await c.query<{ r: string | null }>(`SELECT to_regclass('${CUTOVER_SCHEMA}.deferred_constraints')::text AS r`)).rows[0]!.r) return [];
  return (await c.query<{ table_name: string; constraint_name: string; definition: string; action: DeferredConstraint['action'] }>(
    `SELECT * FROM ${CUTOVER_SCHEMA}.deferred_constraints ORDER BY 1, 2`)).rows.map((r) => ({ table: r.table_name, name: r.constraint_name, definition: r.definition, action: r.action }));
}

/** The statement that completes one deferred constraint. */
export function completionStatement(d: DeferredConstraint): string {
  switch (d.action) {
    case 'validate': return `ALTER TABLE ${d.table} VALIDATE CONSTRAINT ${quoteIdent(d.name)}`;
    case 'add': return `ALTER TABLE ${d.table} ADD CONSTRAINT ${quoteIdent(d.name)} ${d.definition}`;
    // NOT VALID first: the brief lock of the ADD, then a validation that lets reads (and writes) go on.
    case 'readd': return `ALTER TABLE ${d.table} ADD CONSTRAINT ${quoteIdent(d.name)} ${d.definition} NOT VALID; ALTER TABLE ${d.table} VALIDATE CONSTRAINT ${quoteIdent(d.name)}`;
    case 'nondeferrable': return `ALTER TABLE ${d.table} ALTER CONSTRAINT ${quoteIdent(d.name)} NOT DEFERRABLE`;
  }
}

/** Validates or adds every deferred constraint (each in its own transaction); returns how many. */
export async function completeDeferredConstraints(c: pg.Client): Promise<number> {
  const all = await deferredConstraints(c);
  for (const d of all) {
    try {
      await c.query('BEGIN');
      const exists = (await c.query('SELECT 1 FROM pg_constraint WHERE conrelid = $1::regclass AND conname = $2', [d.table, d.name])).rowCount;
      // add/readd: a second run finds the key there already; validate/nondeferrable apply to the one there,
      // and a key to validate that is gone (dropped since by hand or an older version) is added back whole.
      if (d.action === 'validate' && !exists) await c.query(completionStatement({ ...d, action: 'readd' }));
      else if (d.action === 'validate' || d.action === 'nondeferrable' || !exists) await c.query(completionStatement(d));
      await c.query(`DELETE FROM ${CUTOVER_SCHEMA}.deferred_constraints WHERE table_name = $1 AND constraint_name = $2`, [d.table, d.name]);
      await c.query('COMMIT');
    } catch (e) {
      await c.query('ROLLBACK').catch(() => undefined);
      if (classifySqlState(sqlStateOf(e)) === 'fk_violation') {
        throw new CutoverError('E_DIFFERENCE', `foreign key ${d.name} on ${d.table} still does not hold on the target after every change was applied: ${(e as Error).message}`, {
          cause: e, hint: 'the target differs from the source: run `cutover verify --level checksums` to see where; writes stay fenced on the source',
        });
      }
      throw e;
    }
  }
  return all.length;
}

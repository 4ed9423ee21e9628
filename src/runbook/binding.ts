/**
 * State bound to its databases: a run's journal records which source and target it describes
 * (src/pg/identity.ts), the default state directory is keyed by the target's identity, and a resume (or a
 * rollback) against any other database is refused before anything is touched.
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import type { DbBinding } from '../pg/identity.js';
export { type Bindings, readBindings, refuseOtherDatabases } from '../pg/bound-state.js';

/**
 * A directory name for a database: its name (readable) and a hash of what identifies it (system
 * identifier or host and port, database oid and name). A recreated database (new oid) gets a new one.
 */
export function bindingKey(b: DbBinding): string {
  const name = b.dbName.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 30) || 'db';
  const h = createHash('sha256').update(JSON.stringify([b.systemId ?? `${b.host}:${b.port}`, b.dbOid, b.dbName])).digest('hex').slice(0, 10);
  return `${name}-${h}`;
}

export function runbookSlug(name: string): string {
  return name.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 50) || 'runbook';
}

/** `.cutover/<runbook>/<target identity>/<mode>`: one journal per runbook, target database and mode. */
export function boundStateDir(runbookName: string, target: DbBinding, mode: string, base = '.cutover'): string {
  return join(base, runbookSlug(runbookName), bindingKey(target), mode);
}

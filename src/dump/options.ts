import { splitQualified, type SelectionOptions } from '../pg/select-tables.js';

export type { SelectionOptions };

/** Options of dump, restore and copy: the managed-target defaults (the selection: pg/select-tables.ts). */
export interface RestoreDefaults {
  /** --no-owner: objects belong to the restoring role (default true: managed targets). */
  noOwner?: boolean;
  /** --no-acl: no GRANT/REVOKE (default true). */
  noAcl?: boolean;
  /** Keep table/column comments but drop COMMENT ON EXTENSION, event triggers, publications (default true). */
  dropManagedHazards?: boolean;
  /** Also skip CREATE EXTENSION (the provider installs them). Default false. */
  skipExtensions?: boolean;
}

/**
 * pg_dump patterns are themselves a pattern language (quoted parts are literal). We pass names through
 * as exact, quoted identifiers so hostile names select exactly one object.
 */
export function exactPattern(qualified: string): string {
  const dot = splitQualified(qualified);
  const q = (s: string) => `"${s.replace(/"/g, '""')}"`;
  return dot.schema === undefined ? q(dot.name) : `${q(dot.schema)}.${q(dot.name)}`;
}

export function selectionArgs(s: SelectionOptions): string[] {
  return [
    ...(s.schemas ?? []).flatMap((x) => ['-n', exactPattern(x)]),
    ...(s.excludeSchemas ?? []).flatMap((x) => ['-N', exactPattern(x)]),
    ...(s.tables ?? []).flatMap((x) => ['-t', exactPattern(x)]),
    ...(s.excludeTables ?? []).flatMap((x) => ['-T', exactPattern(x)]),
  ];
}

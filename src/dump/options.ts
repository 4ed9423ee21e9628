/** Options shared by dump, restore and copy: what to include, and the managed-target defaults. */
export interface SelectionOptions {
  /** Only these schemas (pg_dump -n). */
  schemas?: string[];
  excludeSchemas?: string[];
  /** Only these tables, "schema.table" (pg_dump -t). */
  tables?: string[];
  excludeTables?: string[];
}

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

/** "schema.table" where either part may be double-quoted ("a.b"."c"). */
export function splitQualified(s: string): { schema?: string; name: string } {
  const parts: string[] = [];
  let cur = '', inQ = false;
  for (let i = 0; i < s.length; i++) {
    const ch = s[i]!;
    if (inQ) {
      if (ch === '"' && s[i + 1] === '"') { cur += '"'; i++; }
      else if (ch === '"') inQ = false;
      else cur += ch;
    } else if (ch === '"') inQ = true;
    else if (ch === '.') { parts.push(cur); cur = ''; }
    else cur += ch;
  }
  parts.push(cur);
  return parts.length >= 2 ? { schema: parts.slice(0, -1).join('.'), name: parts.at(-1)! } : { name: parts[0]! };
}

export function selectionArgs(s: SelectionOptions): string[] {
  return [
    ...(s.schemas ?? []).flatMap((x) => ['-n', exactPattern(x)]),
    ...(s.excludeSchemas ?? []).flatMap((x) => ['-N', exactPattern(x)]),
    ...(s.tables ?? []).flatMap((x) => ['-t', exactPattern(x)]),
    ...(s.excludeTables ?? []).flatMap((x) => ['-T', exactPattern(x)]),
  ];
}

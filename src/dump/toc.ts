/**
 * Archive table-of-contents filtering (pg_restore -l / -L). Entries that fail on managed targets without
 * superuser are dropped (COMMENT ON EXTENSION, event triggers, publications, subscriptions), and entries
 * cutover already created itself are dropped by (catalog, object) OID, never by name (names may contain
 * spaces). Dropped lines are commented out with ';', which pg_restore -L ignores.
 */
export interface TocEntry {
  line: string;
  dumpId: number;
  catalogOid: number;
  objectOid: number;
  /** e.g. "TABLE", "INDEX", "CONSTRAINT", "FK CONSTRAINT", "COMMENT", "TABLE DATA" */
  desc: string;
  rest: string;
}

const DESCS = [
  'FK CONSTRAINT', 'TABLE DATA', 'SEQUENCE SET', 'SEQUENCE OWNED BY', 'TABLE ATTACH', 'INDEX ATTACH', 'DEFAULT ACL',
  'EVENT TRIGGER', 'PUBLICATION TABLE', 'PUBLICATION TABLES IN SCHEMA', 'MATERIALIZED VIEW DATA', 'LARGE OBJECT', 'BLOB',
  'BLOBS', 'BLOB METADATA', 'CHECK CONSTRAINT', 'STATISTICS DATA', 'ACL', 'AGGREGATE', 'CAST', 'COLLATION', 'COMMENT', 'CONSTRAINT',
  'CONVERSION', 'DATABASE', 'DEFAULT', 'DOMAIN', 'ENCODING', 'EXTENSION', 'FOREIGN TABLE', 'FUNCTION', 'INDEX', 'MATERIALIZED VIEW',
  'OPERATOR', 'POLICY', 'PROCEDURE', 'PUBLICATION', 'RULE', 'SCHEMA', 'SEARCHPATH', 'SEQUENCE', 'SERVER', 'STDSTRINGS',
  'SUBSCRIPTION', 'TABLE', 'TEXT SEARCH CONFIGURATION', 'TEXT SEARCH DICTIONARY', 'TRIGGER', 'TYPE', 'USER MAPPING', 'VIEW',
  'SECURITY LABEL', 'SHELL TYPE', 'PROCEDURAL LANGUAGE', 'ACCESS METHOD', 'OPERATOR CLASS', 'OPERATOR FAMILY', 'TRANSFORM',
];

export function parseToc(list: string): TocEntry[] {
  const out: TocEntry[] = [];
  for (const line of list.split('\n')) {
    const m = /^(\d+);\s+(\d+)\s+(\d+)\s+(.*)$/.exec(line);
    if (!m) continue;
    const tail = m[4]!;
    const desc = DESCS.find((d) => tail.startsWith(d + ' ')) ?? tail.split(' ')[0]!;
    out.push({ line, dumpId: Number(m[1]), catalogOid: Number(m[2]), objectOid: Number(m[3]), desc, rest: tail.slice(desc.length + 1) });
  }
  return out;
}

/** Drops what cannot be restored without superuser on a managed target. */
export function isManagedHazard(e: TocEntry): boolean {
  if (e.desc === 'EVENT TRIGGER' || e.desc === 'PUBLICATION' || e.desc === 'PUBLICATION TABLE' ||
      e.desc === 'PUBLICATION TABLES IN SCHEMA' || e.desc === 'SUBSCRIPTION') return true;
  // "COMMENT - EXTENSION plpgsql": must be owner of extension.
  if (e.desc === 'COMMENT' && /^- EXTENSION /.test(e.rest)) return true;
  return false;
}

/** "COMMENT app POLICY name ON table owner": goes with its policy. */
export function isPolicyComment(e: TocEntry): boolean {
  return e.desc === 'COMMENT' && / POLICY \S.* ON /.test(` ${e.rest}`);
}

/** cutover's change-capture triggers on the source's tables ("TRIGGER schema table cutover_capture owner"). */
export function isCaptureTrigger(e: TocEntry): boolean {
  return e.desc === 'TRIGGER' && / cutover_capture(_[iudt])? \S+$/.test(` ${e.rest}`);
}

export interface TocFilter {
  /** Objects cutover already created, as "catalogOid:objectOid" (e.g. "1259:16402" for an index). */
  dropObjects?: Set<string>;
  dropManagedHazards?: boolean;
  /** Drop extension entries (for targets where extensions are pre-installed by the provider). */
  dropExtensions?: boolean;
  /** Leave policies to cutover's privileges step (their roles mapped); not reported as dropped. */
  policiesApart?: boolean;
}

export function filterToc(list: string, f: TocFilter): { list: string; dropped: TocEntry[] } {
  const dropped: TocEntry[] = [];
  const kept: string[] = [];
  const byLine = new Map(parseToc(list).map((e) => [e.line, e]));
  for (const line of list.split('\n')) {
    const e = byLine.get(line);
    if (e && f.policiesApart && (e.desc === 'POLICY' || isPolicyComment(e))) { kept.push(`;${line}`); continue; }
    if (e && ((f.dropManagedHazards && isManagedHazard(e)) ||
              (f.dropExtensions && e.desc === 'EXTENSION') ||
              isCaptureTrigger(e) ||
              (f.dropObjects?.has(`${e.catalogOid}:${e.objectOid}`) ?? false))) {
      dropped.push(e);
      kept.push(`;${line}`);
    } else kept.push(line);
  }
  return { list: kept.join('\n'), dropped };
}

/** "event trigger audit_ddl" for a dropped entry a user would want to know about (not cutover's own). */
export function describeTocLine(line: string): string | undefined {
  const e = parseToc(line.replace(/^;\s*/, ''))[0];
  // A publication's tables go with it; a comment on an extension is nothing to recreate.
  if (!e || !isManagedHazard(e) || e.desc === 'COMMENT' || e.desc.startsWith('PUBLICATION TABLE')) return undefined;
  return `${e.desc.toLowerCase()} ${e.rest.replace(/^- /, '').replace(/\s+\S+$/, '')}`.trim();
}

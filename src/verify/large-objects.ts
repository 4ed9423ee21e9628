/**
 * Large objects compared one by one (pg_dump keeps their oids): present on both sides, owner (through the
 * role map), ACL, comment and, unless only counting, the md5 of the content.
 */
import type pg from 'pg';
import { loadSql } from '../pg/sql.js';
import { type RoleMap, mapRole } from '../pg/role-map.js';
import { CutoverError } from '../errors.js';
import { classifySqlState, sqlStateOf } from '../pg/sqlstate.js';

export interface LargeObjectDifference {
  oid: string;
  change: 'missing on target' | 'extra on target' | 'differs';
  /** What differs: owner, acl, comment, content. */
  parts?: ('owner' | 'acl' | 'comment' | 'content')[];
}

export interface LargeObjectResult {
  sourceCount: number;
  targetCount: number;
  contentCompared: boolean;
  differences: LargeObjectDifference[];
}

interface Lo { oid: string; owner: string; acl: string[]; comment: string | null; hash: string | null }

async function read(c: pg.Client, side: string, content: boolean, map?: RoleMap): Promise<Map<string, Lo>> {
  // A savepoint keeps the snapshot transaction usable if reading a content is refused.
  await c.query('SAVEPOINT cutover_lo');
  let rows: Lo[];
  try {
    rows = (await c.query<Lo>(loadSql(import.meta.url, 'sql/large-objects.sql'), [content])).rows;
    await c.query('RELEASE SAVEPOINT cutover_lo');
  } catch (e) {
    await c.query('ROLLBACK TO SAVEPOINT cutover_lo').catch(() => undefined);
    if (classifySqlState(sqlStateOf(e)) !== 'privilege') throw e;
    throw new CutoverError('E_PRIVILEGE', `verify cannot read the large objects' content on the ${side}: ${(e as Error).message}`, {
      hint: 'connect as the large objects\' owner or a superuser, or GRANT SELECT ON LARGE OBJECT to the verifying role; nothing was compared as identical',
      cause: e,
    });
  }
  // grantee \t privilege [\t *] [\t by grantor]: the grantee and the grantor are mapped.
  const m = (r: string) => (map ? r.split('\t').map((f, i) => (i === 0 ? (f === 'PUBLIC' ? f : mapRole(map, f)) : f.startsWith('by ') ? `by ${mapRole(map, f.slice(3))}` : f)).join('\t') : r);
  return new Map(rows.map((r) => [r.oid, { ...r, owner: map ? mapRole(map, r.owner) : r.owner, acl: r.acl.map(m).sort() }]));
}

export async function compareLargeObjects(source: pg.Client, target: pg.Client, o: { content: boolean; roleMap?: RoleMap }): Promise<LargeObjectResult> {
  const s = await read(source, 'source', o.content, o.roleMap);
  const t = await read(target, 'target', o.content);
  const result: LargeObjectResult = { sourceCount: s.size, targetCount: t.size, contentCompared: o.content, differences: [] };
  for (const [oid, a] of s) {
    const b = t.get(oid);
    t.delete(oid);
    if (!b) { result.differences.push({ oid, change: 'missing on target' }); continue; }
    const parts: LargeObjectDifference['parts'] = [];
    if (a.owner !== b.owner) parts.push('owner');
    if (a.acl.join('\n') !== b.acl.join('\n')) parts.push('acl');
    if (a.comment !== b.comment) parts.push('comment');
    if (a.hash !== b.hash) parts.push('content');
    if (parts.length) result.differences.push({ oid, change: 'differs', parts });
  }
  for (const oid of t.keys()) result.differences.push({ oid, change: 'extra on target' });
  return result;
}

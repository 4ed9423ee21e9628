/**
 * Large objects at cutover. Triggers cannot capture them (they live in pg_largeobject, which takes no user
 * triggers), so after the drain, with writes fenced, every large object's owner, ACL and content hash is
 * compared on both sides, and the target made equal: missing or rewritten ones copied (same oid), extra
 * ones unlinked, owner and privileges set. One transaction on the target. The cost is a read of every
 * large object on both sides, inside the write outage (measured in bench/replicate.ts, part lo).
 */
import type pg from 'pg';
import { CutoverError } from '../errors.js';
import { loadSql, quoteIdent } from '../pg/sql.js';
import { classifySqlState, sqlStateOf } from '../pg/sqlstate.js';

interface Lo { oid: string; owner: string; acl: string | null; hash: string }

export interface LargeObjectSync { compared: number; copied: number; removed: number; metadata: number; bytes: number }

async function list(c: pg.Client, side: string): Promise<Map<string, Lo>> {
  try {
    return new Map((await c.query<Lo>(loadSql(import.meta.url, 'sql/large-objects.sql'))).rows.map((r) => [String(r.oid), { ...r, oid: String(r.oid) }]));
  } catch (e) {
    if (classifySqlState(sqlStateOf(e)) === 'privilege') {
      throw new CutoverError('E_PRIVILEGE', `cannot read the large objects on the ${side}: ${(e as Error).message}`, {
        cause: e, hint: 'run the cutover as the large objects\' owner, or GRANT SELECT ON LARGE OBJECT ... TO the role cutover uses',
      });
    }
    throw e;
  }
}

/** Makes the target's large objects equal to the source's (content, owner, ACL). */
export async function syncLargeObjects(src: pg.Client, tgt: pg.Client): Promise<LargeObjectSync> {
  const s = await list(src, 'source');
  const t = await list(tgt, 'target');
  const out: LargeObjectSync = { compared: s.size, copied: 0, removed: 0, metadata: 0, bytes: 0 };
  const gone = [...t.keys()].filter((oid) => !s.has(oid));
  const differing = [...s.values()].filter((lo) => t.get(lo.oid)?.hash !== lo.hash);
  const meta = [...s.values()].filter((lo) => t.get(lo.oid)?.hash !== lo.hash || t.get(lo.oid)?.owner !== lo.owner || t.get(lo.oid)?.acl !== lo.acl);
  if (!gone.length && !meta.length) return out;
  await tgt.query('BEGIN');
  try {
    for (const oid of gone) await tgt.query('SELECT lo_unlink($1::oid)', [oid]);
    out.removed = gone.length;
    for (const lo of differing) {
      const data = (await src.query<{ d: Buffer }>('SELECT lo_get($1::oid) AS d', [lo.oid])).rows[0]!.d;
      if (t.has(lo.oid)) await tgt.query('SELECT lo_unlink($1::oid)', [lo.oid]);
      await tgt.query('SELECT lo_from_bytea($1::oid, $2)', [lo.oid, data]);
      out.bytes += data.length;
    }
    out.copied = differing.length;
    for (const lo of meta) {
      const now = t.get(lo.oid);
      const fresh = !now || differing.includes(lo);
      if (fresh || now.owner !== lo.owner) await tgt.query(`ALTER LARGE OBJECT ${lo.oid} OWNER TO ${quoteIdent(lo.owner)}`);
      if (fresh || now.acl !== lo.acl) {
        // Privileges: take away what the target grants, give what the source grants.
        const grants = async (acl: string | null) => acl === null ? [] : (await tgt.query<{ who: string; priv: string; grantable: boolean }>(
          `SELECT CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(a.grantee)) END AS who, a.privilege_type AS priv, a.is_grantable AS grantable
             FROM aclexplode($1::aclitem[]) a`, [acl])).rows;
        for (const g of await grants(fresh ? null : now.acl)) await tgt.query(`REVOKE ALL ON LARGE OBJECT ${lo.oid} FROM ${g.who}`);
        for (const g of await grants(lo.acl)) await tgt.query(`GRANT ${g.priv} ON LARGE OBJECT ${lo.oid} TO ${g.who}${g.grantable ? ' WITH GRANT OPTION' : ''}`);
      }
    }
    out.metadata = meta.length;
    await tgt.query('COMMIT');
  } catch (e) {
    await tgt.query('ROLLBACK').catch(() => undefined);
    throw e;
  }
  return out;
}

/**
 * Compares some key ranges of a table with an integer key (the rest is known to match): each range's
 * count and hash sum on both sides (an index range scan), and a differing range is bisected down to its
 * rows like a differing chunk of a full comparison.
 */
import { quoteIdent } from '../pg/sql.js';
import type { PairPool } from './pairs.js';
import {
  type CompareOptions, type TableResult, type TableSpec, agg, both, drillRange, integerKey, recorder, sql,
} from './compare-table.js';

/** [from, to) of the leading key; null: unbounded on that side. */
export interface KeyRange { from: bigint | null; to: bigint | null }

export async function checksumRanges(pool: PairPool, spec: TableSpec, ranges: KeyRange[], known: { rows: number }, opts: CompareOptions): Promise<TableResult> {
  const t0 = Date.now();
  const result: TableResult = {
    schema: spec.schema, name: spec.name, sourceRows: known.rows, targetRows: known.rows, status: 'same',
    chunks: ranges.length, differenceCount: 0, differences: [], durationMs: 0,
  };
  const record = recorder(result, opts);
  const k = `r.${quoteIdent(integerKey(spec)!)}`;
  const drill = drillRange(spec, record, opts);
  await pool.use(async (pair) => {
    for (const r of ranges) {
      const conds: string[] = [];
      const params: string[] = [];
      if (r.from !== null) conds.push(`${k} >= $${params.push(r.from.toString())}::int8`);
      if (r.to !== null) conds.push(`${k} < $${params.push(r.to.toString())}::int8`);
      const where = conds.join(' AND ') || 'true';
      const [s, t] = await both(pair, (c) => agg(c, spec, where, params));
      result.sourceRows += s.n;
      result.targetRows += t.n;
      if (s.n === t.n && s.h === t.h) continue;
      // An open range is first narrowed to the keys present on either side, then bisected.
      const bounds = await both(pair, async (c) => (await c.query<{ lo: string | null; hi: string | null }>(
        `SELECT min(${k})::text AS lo, max(${k})::text AS hi FROM ${sql(spec).table} WHERE ${where}`, params)).rows[0]!);
      const los = bounds.flatMap((b) => (b.lo === null ? [] : [BigInt(b.lo)]));
      const his = bounds.flatMap((b) => (b.hi === null ? [] : [BigInt(b.hi)]));
      const lo = los.reduce((a, b) => (b < a ? b : a));
      const hi = his.reduce((a, b) => (b > a ? b : a)) + 1n;
      await drill(pair, lo, hi, lo === r.from && hi === r.to ? [s, t] : undefined);
    }
  });
  if (spec.columnMismatch.length) result.note = `columns on one side only: ${spec.columnMismatch.join(', ')}`;
  result.status = result.differenceCount === 0 && !spec.columnMismatch.length ? 'same' : 'differs';
  result.durationMs = Date.now() - t0;
  return result;
}

/** Chunk numbers as ranges [lo + i*width, lo + (j+1)*width) (the last one ends at hi), adjacent ones merged. */
export function chunkRanges(chunks: Iterable<number>, lo: bigint, width: bigint, hi: bigint): KeyRange[] {
  const sorted = [...new Set(chunks)].sort((a, b) => a - b);
  const out: KeyRange[] = [];
  for (const c of sorted) {
    const from = lo + BigInt(c) * width;
    const to = from + width < hi ? from + width : hi;
    const last = out[out.length - 1];
    if (last && last.to === from) last.to = to;
    else out.push({ from, to });
  }
  return out;
}

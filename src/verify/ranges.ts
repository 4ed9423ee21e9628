/**
 * Compares chosen key chunks of a table with an integer key (the rest is known to match): the chunks'
 * counts and hash sums on both sides (index range scans, many ranges per query), and a differing chunk is
 * bisected down to its rows like a differing chunk of a full comparison. Keys below and above the
 * chunked range are compared too.
 */
import type pg from 'pg';
import { quoteIdent } from '../pg/sql.js';
import type { PairPool } from './pairs.js';
import {
  type Agg, type CompareOptions, type TableResult, type TableSpec, agg, both, drillRange, integerKey, recorder, sql,
} from './compare-table.js';

/** Chunk i is the key range [lo + i*width, lo + (i+1)*width), the last one ending at hi. */
export interface ChunkGrid { lo: bigint; hi: bigint; width: bigint }

const CHUNKS_PER_QUERY = 2000;

/** Chunk numbers as key ranges, adjacent ones merged. */
export function chunkRanges(chunks: Iterable<number>, g: ChunkGrid): { from: bigint; to: bigint }[] {
  const sorted = [...new Set(chunks)].sort((a, b) => a - b);
  const out: { from: bigint; to: bigint }[] = [];
  for (const c of sorted) {
    const from = g.lo + BigInt(c) * g.width;
    const to = from + g.width < g.hi ? from + g.width : g.hi;
    const last = out[out.length - 1];
    if (last && last.to === from) last.to = to;
    else out.push({ from, to });
  }
  return out;
}

/** Count and hash sum of each of the given chunks present on this side (absent: no rows). */
export async function chunkSumsIn(c: pg.Client, spec: TableSpec, g: ChunkGrid, chunks: Iterable<number>): Promise<Map<number, Agg>> {
  const k = `r.${quoteIdent(integerKey(spec)!)}`;
  const list = [...new Set(chunks)].sort((a, b) => a - b);
  const out = new Map<number, Agg>();
  for (let i = 0; i < list.length; i += CHUNKS_PER_QUERY) {
    const part = list.slice(i, i + CHUNKS_PER_QUERY);
    const from = part.map((x) => (g.lo + BigInt(x) * g.width).toString());
    const to = part.map((x) => { const b = g.lo + BigInt(x + 1) * g.width; return (b < g.hi ? b : g.hi).toString(); });
    // One index range scan per chunk (a parameterised path under LATERAL): never a pass over the table.
    const { rows } = await c.query<{ c: string; n: string; h: string }>(
      `SELECT u.c::text AS c, x.n, x.h
         FROM unnest($1::int8[], $2::int8[], $3::int8[]) AS u(c, a, b)
        CROSS JOIN LATERAL (SELECT count(*) AS n, coalesce(sum(${sql(spec).hash}), 0)::text AS h
                              FROM ${sql(spec).table} WHERE ${k} >= u.a AND ${k} < u.b) x
        WHERE x.n > 0`, [part, from, to]);
    for (const r of rows) out.set(Number(r.c), { n: Number(r.n), h: r.h });
  }
  return out;
}

/** The chunks whose count or hash sum differs between the two sides. */
export function differingChunks(s: Map<number, Agg>, t: Map<number, Agg>): number[] {
  const out: number[] = [];
  for (const c of new Set([...s.keys(), ...t.keys()])) {
    const a = s.get(c), b = t.get(c);
    if (a?.n !== b?.n || a?.h !== b?.h) out.push(c);
  }
  return out;
}

/**
 * A full comparison's result for a table of which only `chunks` and the keys outside [lo, hi) are read;
 * `known.rows` rows (the other chunks) are known identical.
 */
export async function checksumChunks(pool: PairPool, spec: TableSpec, g: ChunkGrid, chunks: Set<number>, known: { rows: number }, opts: CompareOptions): Promise<TableResult> {
  const t0 = Date.now();
  const result: TableResult = {
    schema: spec.schema, name: spec.name, sourceRows: known.rows, targetRows: known.rows, status: 'same',
    chunks: chunks.size + 2, differenceCount: 0, differences: [], durationMs: 0,
  };
  const record = recorder(result, opts);
  const k = `r.${quoteIdent(integerKey(spec)!)}`;
  const drill = drillRange(spec, record, opts);
  await pool.use(async (pair) => {
    const [sa, ta] = await both(pair, (c) => chunkSumsIn(c, spec, g, chunks));
    for (const a of sa.values()) result.sourceRows += a.n;
    for (const a of ta.values()) result.targetRows += a.n;
    for (const c of differingChunks(sa, ta)) {
      const from = g.lo + BigInt(c) * g.width;
      await drill(pair, from, from + g.width < g.hi ? from + g.width : g.hi, [sa.get(c) ?? { n: 0, h: '0' }, ta.get(c) ?? { n: 0, h: '0' }]);
    }
    // Keys outside the chunked range (new rows, mostly): each side's rows there, narrowed then bisected.
    for (const [where, params] of [[`${k} < $1::int8`, [g.lo.toString()]], [`${k} >= $1::int8`, [g.hi.toString()]]] as const) {
      const [s, t] = await both(pair, (c) => agg(c, spec, where, [...params]));
      result.sourceRows += s.n;
      result.targetRows += t.n;
      if (s.n === t.n && s.h === t.h) continue;
      const bounds = await both(pair, async (c) => (await c.query<{ lo: string | null; hi: string | null }>(
        `SELECT min(${k})::text AS lo, max(${k})::text AS hi FROM ${sql(spec).table} WHERE ${where}`, [...params])).rows[0]!);
      const los = bounds.flatMap((b) => (b.lo === null ? [] : [BigInt(b.lo)]));
      const his = bounds.flatMap((b) => (b.hi === null ? [] : [BigInt(b.hi)]));
      await drill(pair, los.reduce((a, b) => (b < a ? b : a)), his.reduce((a, b) => (b > a ? b : a)) + 1n);
    }
  });
  if (spec.columnMismatch.length) result.note = `columns on one side only: ${spec.columnMismatch.join(', ')}`;
  result.status = result.differenceCount === 0 && !spec.columnMismatch.length ? 'same' : 'differs';
  result.durationMs = Date.now() - t0;
  return result;
}

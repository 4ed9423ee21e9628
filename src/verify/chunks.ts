/**
 * Key chunks of a table with an integer key: chunk i is the key range [lo + i*width, lo + (i+1)*width),
 * the last one ending at hi. Shared by the full comparison (which chunks a differing table) and the
 * incremental one (which tracks chunks across the cutover).
 */
import type { Agg } from './compare-table.js';

export interface ChunkGrid { lo: bigint; hi: bigint; width: bigint; chunks: number }

/** [lo, hi) cut into about n chunks of equal key width (none when the range is empty). */
export function chunkGrid(lo: bigint, hi: bigint, n: bigint): ChunkGrid {
  const span = hi - lo;
  if (span <= 0n) return { lo, hi, width: 1n, chunks: 0 };
  const width = span / n + (span % n ? 1n : 0n);
  return { lo, hi, width, chunks: Number(span / width + (span % width ? 1n : 0n)) };
}

export function chunkBounds(g: ChunkGrid, c: number): [bigint, bigint] {
  const from = g.lo + BigInt(c) * g.width;
  return [from, from + g.width < g.hi ? from + g.width : g.hi];
}

/** The chunks whose count or hash sum differs between the two sides (a chunk absent on a side has no rows). */
export function differingChunks(s: Map<number, Agg>, t: Map<number, Agg>): number[] {
  const out: number[] = [];
  for (const c of new Set([...s.keys(), ...t.keys()])) {
    const a = s.get(c), b = t.get(c);
    if (a?.n !== b?.n || a?.h !== b?.h) out.push(c);
  }
  return out.sort((x, y) => x - y);
}

/** The key range covering both sides' [min, max] (hi exclusive), or null when both are empty. */
export function keySpan(bounds: { lo: bigint | null; hi: bigint | null }[]): { lo: bigint; hi: bigint } | null {
  const los = bounds.flatMap((b) => (b.lo === null ? [] : [b.lo]));
  const his = bounds.flatMap((b) => (b.hi === null ? [] : [b.hi]));
  if (!los.length || !his.length) return null;
  return { lo: los.reduce((a, b) => (b < a ? b : a)), hi: his.reduce((a, b) => (b > a ? b : a)) + 1n };
}

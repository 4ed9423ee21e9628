/** A series as one line of block characters (▁▂▃▄▅▆▇█), for values watched over time in a terminal. */
const BARS = '▁▂▃▄▅▆▇█';

/**
 * One character per value, scaled between `min` (default 0: a rate or a lag starts from nothing) and
 * the largest value (or `max`). All-equal values print as the lowest bar, except all at the top.
 */
export function sparkline(values: number[], o: { min?: number; max?: number } = {}): string {
  const finite = values.filter((v) => Number.isFinite(v));
  if (!finite.length) return '';
  const lo = o.min ?? Math.min(0, ...finite);
  const hi = o.max ?? Math.max(...finite);
  const span = hi - lo;
  return values.map((v) => {
    if (!Number.isFinite(v)) return ' ';
    if (span <= 0) return BARS[0];
    const i = Math.round(((Math.min(hi, Math.max(lo, v)) - lo) / span) * (BARS.length - 1));
    return BARS[i];
  }).join('');
}

/** Durations as people write them: "6h", "1 h 30", "90s", "5 min", "2h30m", "1h 30min", "2 days". */
export function parseDuration(s: string): number | undefined {
  const t = s.trim().toLowerCase();
  if (!t || t === '-') return undefined;
  const re = /(\d+(?:\.\d+)?)\s*(ms|days?|d|h|hours?|hrs?|m|mins?|minutes?|s|secs?|seconds?)?/g;
  let total = 0, matched = false, last = '';
  let m: RegExpExecArray | null;
  let consumed = 0;
  while ((m = re.exec(t))) {
    if (m[0].trim() === '') { re.lastIndex++; continue; }
    matched = true;
    consumed += m[0].length;
    const n = Number(m[1]);
    // A bare number after hours means minutes ("1 h 30").
    const unit = m[2] ?? (last === 'h' ? 'm' : last === 'm' ? 's' : 's');
    const u = unit.startsWith('d') ? 'd' : unit.startsWith('h') ? 'h' : unit === 'ms' ? 'ms' : unit.startsWith('m') ? 'm' : 's';
    total += n * (u === 'd' ? 86_400_000 : u === 'h' ? 3_600_000 : u === 'm' ? 60_000 : u === 'ms' ? 1 : 1000);
    last = u;
  }
  if (!matched || consumed < t.replace(/[\s,]+/g, '').length * 0.5) return undefined;
  return total;
}

/** "(est. 5 min)" or "(est. 1 h 30)" in a step's text. */
export function estimateIn(text: string): number | undefined {
  const m = /\(est\.?\s*([^)]+)\)/i.exec(text);
  return m ? parseDuration(m[1]!) : undefined;
}

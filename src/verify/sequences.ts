/** Sequence values (identity and serial included) on both sides. */
import type pg from 'pg';
import { sequenceValues, type SequenceValue } from '../pg/facts.js';

export interface SequenceResult {
  schema: string;
  name: string;
  ownedBy: string;
  source: { lastValue: string; isCalled: boolean } | null;
  target: { lastValue: string; isCalled: boolean } | null;
  /**
   * 'behind' is a difference (the target would hand out used values); 'ahead' is safe, only reported.
   * 'advanced on source in the fence': in a cutover's fence, the source handed out values after the target
   * was set (nextval() is not a write the fence refuses; no row can hold them), and the target was set again.
   */
  status: 'same' | 'behind on target' | 'ahead on target' | 'missing on target' | 'extra on target' | 'advanced on source in the fence';
}

/** Sequences that would hand out a value the source already gave (behind on the target, or missing there). */
export function countBehind(results: readonly SequenceResult[]): number {
  return results.filter((q) => q.status === 'behind on target' || q.status === 'missing on target').length;
}

async function readAll(c: pg.Client): Promise<Map<string, SequenceValue>> {
  return new Map((await sequenceValues(c)).map((v) => [`${v.schema}\u0000${v.name}`, v]));
}

/** The next value nextval() would return, for ordering (increment assumed positive as in the usual case). */
function effective(last: string, called: boolean): bigint {
  return BigInt(last) + (called ? 1n : 0n);
}

export async function compareSequences(source: pg.Client, target: pg.Client): Promise<SequenceResult[]> {
  const [s, t] = await Promise.all([readAll(source), readAll(target)]);
  const out: SequenceResult[] = [];
  for (const [k, a] of s) {
    const b = t.get(k);
    t.delete(k);
    const src = { lastValue: a.lastValue, isCalled: a.isCalled };
    if (!b) { out.push({ schema: a.schema, name: a.name, ownedBy: a.ownedBy, source: src, target: null, status: 'missing on target' }); continue; }
    const tgt = { lastValue: b.lastValue, isCalled: b.isCalled };
    const ea = effective(a.lastValue, a.isCalled), eb = effective(b.lastValue, b.isCalled);
    const status = a.lastValue === b.lastValue && a.isCalled === b.isCalled ? 'same' : eb < ea ? 'behind on target' : eb > ea ? 'ahead on target' : 'same';
    out.push({ schema: a.schema, name: a.name, ownedBy: a.ownedBy, source: src, target: tgt, status });
  }
  for (const b of t.values()) out.push({ schema: b.schema, name: b.name, ownedBy: b.ownedBy, source: null, target: { lastValue: b.lastValue, isCalled: b.isCalled }, status: 'extra on target' });
  return out;
}

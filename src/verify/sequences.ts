/** Sequence values (identity and serial included) on both sides. */
import type pg from 'pg';
import { loadSql, qualify } from '../pg/sql.js';

export interface SequenceResult {
  schema: string;
  name: string;
  ownedBy: string;
  source: { lastValue: string; isCalled: boolean } | null;
  target: { lastValue: string; isCalled: boolean } | null;
  /** 'behind' is a difference (the target would hand out used values); 'ahead' is safe, only reported. */
  status: 'same' | 'behind on target' | 'ahead on target' | 'missing on target' | 'extra on target';
}

interface SeqRow { schema: string; name: string; owned_by: string }

async function readAll(c: pg.Client): Promise<Map<string, SeqRow & { last: string; called: boolean }>> {
  const { rows } = await c.query<SeqRow>(loadSql(import.meta.url, 'sql/sequences.sql'));
  const out = new Map<string, SeqRow & { last: string; called: boolean }>();
  for (const r of rows) {
    const v = await c.query<{ last_value: string; is_called: boolean }>(`SELECT last_value::text, is_called FROM ${qualify(r.schema, r.name)}`);
    out.set(`${r.schema}\u0000${r.name}`, { ...r, last: v.rows[0]!.last_value, called: v.rows[0]!.is_called });
  }
  return out;
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
    const src = { lastValue: a.last, isCalled: a.called };
    if (!b) { out.push({ schema: a.schema, name: a.name, ownedBy: a.owned_by, source: src, target: null, status: 'missing on target' }); continue; }
    const tgt = { lastValue: b.last, isCalled: b.called };
    const ea = effective(a.last, a.called), eb = effective(b.last, b.called);
    const status = a.last === b.last && a.called === b.called ? 'same' : eb < ea ? 'behind on target' : eb > ea ? 'ahead on target' : 'same';
    out.push({ schema: a.schema, name: a.name, ownedBy: a.owned_by, source: src, target: tgt, status });
  }
  for (const b of t.values()) out.push({ schema: b.schema, name: b.name, ownedBy: b.owned_by, source: null, target: { lastValue: b.last, isCalled: b.called }, status: 'extra on target' });
  return out;
}

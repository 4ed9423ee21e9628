/** Schema comparison as a readable diff of (kind, name) -> definition lines. */
import type pg from 'pg';
import { loadSql } from '../pg/sql.js';

export interface SchemaDifference {
  kind: string;
  name: string;
  change: 'missing on target' | 'extra on target' | 'differs';
  source?: string;
  target?: string;
}

async function objects(c: pg.Client): Promise<Map<string, { kind: string; name: string; def: string }>> {
  const { rows } = await c.query<{ kind: string; name: string; def: string }>(loadSql(import.meta.url, 'sql/schema-objects.sql'));
  // Collapse whitespace: definitions are printed slightly differently across major versions.
  return new Map(rows.map((r) => [`${r.kind} ${r.name}`, { ...r, def: (r.def ?? '').replace(/\s+/g, ' ').trim() }]));
}

export async function compareSchema(source: pg.Client, target: pg.Client): Promise<SchemaDifference[]> {
  const [s, t] = await Promise.all([objects(source), objects(target)]);
  const out: SchemaDifference[] = [];
  for (const [k, a] of s) {
    const b = t.get(k);
    t.delete(k);
    if (!b) out.push({ kind: a.kind, name: a.name, change: 'missing on target', source: a.def });
    else if (a.def !== b.def) out.push({ kind: a.kind, name: a.name, change: 'differs', source: a.def, target: b.def });
  }
  for (const b of t.values()) out.push({ kind: b.kind, name: b.name, change: 'extra on target', target: b.def });
  return out;
}

/** Human-readable verify report. */
import { table, humanDuration } from '../lib/format.js';
import type { VerifyReport } from './verify.js';
import type { RowDifference } from './compare-table.js';

function keyText(d: RowDifference): string {
  if (d.key) return Object.entries(d.key).map(([k, v]) => `${k}=${v === null ? 'NULL' : v}`).join(', ');
  return `row ${d.row ?? ''}${d.count && d.count > 1 ? ` (x${d.count})` : ''}`;
}

export function renderVerify(r: VerifyReport): string {
  const out: string[] = [];
  out.push(table(['table', 'source rows', 'target rows', 'chunks', 'result'], r.tables.map((t) => [
    `${t.schema}.${t.name}`, String(t.sourceRows), String(t.targetRows), String(t.chunks),
    t.status === 'same' ? 'same' : `DIFFERS: ${t.differenceCount} row(s)${t.note ? `; ${t.note}` : ''}`,
  ])));
  for (const m of r.missingTables) out.push(`MISSING on ${m.side}: table ${m.schema}.${m.name}`);
  for (const t of r.tables.filter((x) => x.differences.length)) {
    out.push('', `${t.schema}.${t.name}: ${t.differenceCount} difference(s)${t.differenceCount > t.differences.length ? `, first ${t.differences.length} shown` : ''}`);
    for (const d of t.differences) out.push(`  ${d.kind.padEnd(17)} ${keyText(d)}${d.columns?.length ? `  columns: ${d.columns.join(', ')}` : ''}`);
  }
  if (r.sequences) {
    const bad = r.sequences.filter((s) => s.status !== 'same');
    out.push('', `sequences: ${r.sequences.length} compared, ${bad.length} not equal`);
    for (const s of bad) {
      out.push(`  ${s.status.padEnd(17)} ${s.schema}.${s.name}${s.ownedBy ? ` (${s.ownedBy})` : ''}: source ${s.source ? `${s.source.lastValue}${s.source.isCalled ? '' : ' (not called)'}` : '-'}, target ${s.target ? `${s.target.lastValue}${s.target.isCalled ? '' : ' (not called)'}` : '-'}`);
    }
  }
  if (r.schema) {
    out.push('', `schema: ${r.schema.length} difference(s)`);
    for (const d of r.schema) {
      if (d.change === 'differs') out.push(`  ~ ${d.kind} ${d.name}\n      source: ${d.source}\n      target: ${d.target}`);
      else out.push(`  ${d.change === 'missing on target' ? '-' : '+'} ${d.kind} ${d.name} (${d.change}): ${d.source ?? d.target}`);
    }
  }
  const s = r.summary;
  out.push('', r.ok
    ? `verify (${r.level}): identical: ${s.tables} tables${r.sequences ? `, ${r.sequences.length} sequences, schema` : ''} in ${humanDuration(r.durationMs)}`
    : `verify (${r.level}): DIFFERENCES: ${s.tablesDiffering} table(s), ${s.rowDifferences} row(s)` +
      `${r.sequences ? `, ${s.sequencesBehind} sequence(s) behind` : ''}${r.schema ? `, ${s.schemaDifferences} schema difference(s)` : ''} (${humanDuration(r.durationMs)})`);
  return out.join('\n');
}

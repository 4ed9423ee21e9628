/** Human-readable verify report. */
import { displayName } from '../pg/table-name.js';
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
    `${t.kind === 'materialized view' ? '(matview) ' : ''}${displayName(t)}`, String(t.sourceRows), String(t.targetRows), String(t.chunks),
    t.status === 'same' ? 'same' : t.status === 'stale on source' ? `stale on the source: ${t.note ?? ''}` : `DIFFERS: ${t.differenceCount} row(s)${t.note ? `; ${t.note}` : ''}`,
  ])));
  for (const m of r.missingTables) out.push(`MISSING on ${m.side}: table ${displayName(m)}`);
  for (const t of r.tables.filter((x) => x.differences.length)) {
    out.push('', `${displayName(t)}: ${t.differenceCount} difference(s)${t.differenceCount > t.differences.length ? `, first ${t.differences.length} shown` : ''}`);
    for (const d of t.differences) out.push(`  ${d.kind.padEnd(17)} ${keyText(d)}${d.columns?.length ? `  columns: ${d.columns.join(', ')}` : ''}`);
  }
  const s = r.summary;
  const verdict = (n: number) => (n === 0 ? 'identical' : `${n} difference(s)`);
  // One line per part, each with what it compared.
  out.push('', `rows: ${s.tables} table(s), ${s.rows} source row(s) compared: ${s.tablesDiffering === 0 ? 'identical' : `${s.tablesDiffering} table(s) differ, ${s.rowDifferences} row(s)`}`);
  const mvPopulated = r.matviews.filter((m) => m.source && m.target).length;
  out.push(`materialized views: ${s.matviews} compared (populated or not; contents of ${mvPopulated} populated on both, in the table above): ${verdict(s.matviewDifferences)}`);
  for (const m of r.matviews.filter((x) => x.status !== 'same')) out.push(`  ${m.status.padEnd(24)} ${displayName(m)}`);
  const lo = r.largeObjects;
  out.push(`large objects: ${lo.sourceCount} on the source, ${lo.targetCount} on the target compared (owner, ACL, comment${lo.contentCompared ? ', content hash' : ''}): ${verdict(s.largeObjectDifferences)}`);
  for (const d of lo.differences.slice(0, 50)) out.push(`  ${d.change.padEnd(17)} large object ${d.oid}${d.parts ? `: ${d.parts.join(', ')}` : ''}`);
  if (r.sequences) {
    const bad = r.sequences.filter((q) => q.status !== 'same');
    out.push(`sequences: ${r.sequences.length} compared: ${bad.length === 0 ? 'identical' : `${bad.length} not equal (${s.sequencesBehind} behind or missing)`}`);
    for (const q of bad) {
      out.push(`  ${q.status.padEnd(17)} ${displayName(q)}${q.ownedBy ? ` (${q.ownedBy})` : ''}: source ${q.source ? `${q.source.lastValue}${q.source.isCalled ? '' : ' (not called)'}` : '-'}, target ${q.target ? `${q.target.lastValue}${q.target.isCalled ? '' : ' (not called)'}` : '-'}`);
    }
  }
  if (r.schema) {
    out.push(`schema: ${s.schemaObjects} object(s) compared: ${verdict(r.schema.length)}`);
    for (const d of r.schema) {
      if (d.change === 'differs') out.push(`  ~ ${d.kind} ${d.name}\n      source: ${d.source}\n      target: ${d.target}`);
      else out.push(`  ${d.change === 'missing on target' ? '-' : '+'} ${d.kind} ${d.name} (${d.change}): ${d.source ?? d.target}`);
    }
  }
  if (r.privileges) {
    out.push(`privileges: ${s.privileges} owner and grant entries compared: ${verdict(s.privilegeDifferences)}`);
    for (const d of r.privileges.differences.slice(0, 100)) out.push(`  ${d.change === 'missing on target' ? '-' : '+'} ${d.object}: ${d.entry} (${d.change})`);
    if (r.privileges.differences.length > 100) out.push(`  ... ${r.privileges.differences.length - 100} more`);
  }
  for (const n of r.notes) out.push(`note: ${n}`);
  const counted = [`${s.tables} tables`, `${s.rows} rows`, `${s.matviews} materialized views`, `${s.largeObjects} large objects`,
    ...(r.sequences ? [`${s.sequences} sequences`, `${s.schemaObjects} schema objects`, `${s.privileges} privileges`] : [])].join(', ');
  out.push('', r.ok
    ? `verify (${r.level}): identical: ${counted} compared in ${humanDuration(r.durationMs)}`
    : `verify (${r.level}): DIFFERENCES: ${s.tablesDiffering} table(s), ${s.rowDifferences} row(s)` +
      `, ${s.matviewDifferences} materialized view(s), ${s.largeObjectDifferences} large object(s)` +
      `${r.sequences ? `, ${s.sequencesBehind} sequence(s) behind` : ''}${r.schema ? `, ${s.schemaDifferences} schema difference(s)` : ''}` +
      `${r.privileges ? `, ${s.privilegeDifferences} privilege difference(s)` : ''} (compared: ${counted}; ${humanDuration(r.durationMs)})`);
  return out.join('\n');
}

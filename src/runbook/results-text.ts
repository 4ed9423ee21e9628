/** Key results as the report and the checklist say them: one line per fact, the same in Markdown and HTML. */
import { humanBytes, humanDuration } from '../lib/format.js';
import type { KeyResults, OutageBreakdown, TimedPhase, VerifyOutcome } from './key-results.js';
import type { StepTiming } from './timings.js';

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

/** "verified (checksums): 16 tables, 25344 rows identical", or what differed; `where` follows the level. */
export function verifyLine(v: VerifyOutcome, where = ''): string {
  const compared = `${plural(v.tables, 'table')}, ${plural(v.rows, 'row')}`;
  const trusted = v.trustedRows !== undefined ? ` (${v.trustedRows} of them verified before the fence and unchanged since)` : '';
  const c = v.compared;
  const also = c ? [c.matviews ? plural(c.matviews, 'materialized view') : '', c.largeObjects ? plural(c.largeObjects, 'large object') : '',
    c.sequences ? plural(c.sequences, 'sequence') : '', c.schemaObjects ? plural(c.schemaObjects, 'schema object') : '', c.privileges ? plural(c.privileges, 'privilege') : ''].filter(Boolean) : [];
  const alsoText = also.length ? `; also compared: ${also.join(', ')}` : '';
  if (v.ok) return `verified (${v.level})${where}: ${compared} identical${trusted}${alsoText}`;
  const parts = [
    v.tablesDiffering ? `${plural(v.tablesDiffering, 'table')} differ${v.tablesDiffering === 1 ? 's' : ''}${v.rowDifferences ? ` (${plural(v.rowDifferences, 'row')})` : ''}` : '',
    v.otherDifferences ? `${plural(v.otherDifferences, 'other difference')} (sequences, schema, matviews, large objects or privileges)` : '',
  ].filter(Boolean);
  return `verify (${v.level})${where} FOUND DIFFERENCES: ${parts.join('; ') || 'see the step\'s log'}; ${compared} compared${trusted}${alsoText}`;
}

export const phasesText = (ps: readonly TimedPhase[]): string => ps.map((p) => `${p.phase} ${humanDuration(p.durationMs)}`).join(', ');

/** The outage's phases in order of time, with "other" when they leave a gap. */
export function outageRows(o: OutageBreakdown): TimedPhase[] {
  return [...o.phases, ...(o.otherMs > 0 ? [{ phase: 'other (between phases)', durationMs: o.otherMs }] : [])];
}

/** `outageTable`: the outage's phases are shown as a table after the lines (the report), not in them. */
export function resultLines(r: KeyResults, o: { outageTable?: boolean } = {}): string[] {
  switch (r.kind) {
    case 'verify':
      return [verifyLine(r.verify)];
    case 'switch': {
      if (r.already) return [`already ${r.direction === 'cutover' ? 'switched' : 'rolled back'} by an earlier run: nothing to do`];
      const who = r.direction === 'cutover' ? 'on the source' : 'on the new server';
      return [
        `write outage ${humanDuration(r.outage.totalMs)} (fence to switch)${o.outageTable ? '' : `: ${phasesText(outageRows(r.outage))}`}`,
        r.verify ? verifyLine(r.verify, ' in the fence') : 'not verified (verify: none)',
        `${plural(r.fencedTables, 'table')} fenced ${who}, ${plural(r.drainedEvents, 'event')} drained in the fence, ${plural(r.sequences, 'sequence')} set`,
        ...(r.pausedMs !== undefined ? [`clients paused ${humanDuration(r.pausedMs)} in the pooler`] : []),
        ...(r.before.length ? [`before the fence, writes going on: ${phasesText(r.before)}`] : []),
        ...(r.after.length ? [`after the switch: ${phasesText(r.after)}`] : []),
      ];
    }
    case 'data': {
      const verb = { copy: 'copied', dump: 'dumped', restore: 'restored' }[r.action];
      const what = [r.tables !== undefined ? plural(r.tables, 'table') : '', r.rows !== undefined ? plural(r.rows, 'row') : '',
        r.bytes !== undefined ? `${humanBytes(r.bytes)}${r.action === 'dump' ? ' on disk' : ''}` : '', r.indexes !== undefined ? plural(r.indexes, 'index', 'indexes') : ''].filter(Boolean);
      return [`${verb} ${what.join(', ') || 'nothing counted'}`,
        ...(r.sections?.length ? [`sections: ${r.sections.map((x) => `${x.phase} ${x.skipped ? 'already done' : humanDuration(x.durationMs)} (${plural(x.items, 'item')})`).join(', ')}`] : [])];
    }
  }
}

/** A step's key results as lines: its typed results, else its one-line summary (doctor, catch up, sh...). */
export function stepResultLines(t: Pick<StepTiming, 'results' | 'summary'>, o: { outageTable?: boolean } = {}): string[] {
  if (t.results) return resultLines(t.results, o);
  return t.summary ? [t.summary] : [];
}

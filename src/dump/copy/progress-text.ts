/** A copy's progress as text, the same on the CLI and in a runbook's task list. */
import { humanBytes } from '../../lib/format.js';
import { InFlightLines, type ProgressView } from '../../lib/progress.js';
import { Meter, humanCount, rateText } from '../../lib/rate.js';
import type { CopyProgress } from './copy.js';

/**
 * "data: tables 3/12, 1.2 GB of ~4.0 GB, rows ~3.1M of ~10M (35 MB/s, ETA 1 min 20 s); indexes 4/20",
 * then a line per table streaming with its own bytes, rate, ETA and wall-clock time so far.
 */
export function copyProgress(): ProgressView<CopyProgress> {
  const total = new Meter();
  const running = new InFlightLines('bytes');
  let last: CopyProgress | undefined;
  return {
    update(p, now = Date.now()) {
      last = p;
      if (p.phase === 'data') total.sample(p.bytesDone, now);
      running.sample(p.phase === 'data' ? p.running.map((r) => ({
        name: r.part ? `${r.table} part ${r.part}` : r.table, startedAt: r.startedAt, done: r.bytesDone, total: r.bytesTotal,
      })) : [], now);
    },
    text(now = Date.now()) {
      const p = last;
      if (!p) return 'starting';
      // Sampled at each redraw as well: the copy reports only while bytes move, so a stream held up on
      // the target (the engine silent) shows its rate falling, then "stalled", instead of the last one.
      if (p.phase === 'data') { total.sample(p.bytesDone, now); running.tick(now); }
      const r = p.phase === 'data' ? rateText(total, p.bytesDone, p.bytesTotal, 'bytes') : '';
      const rows = p.rowsTotal || p.rowsDone ? `, rows ~${humanCount(p.rowsDone)} of ~${humanCount(p.rowsTotal)}` : '';
      const head = `${p.phase}: tables ${p.tablesDone}/${p.tablesTotal}, ${humanBytes(p.bytesDone)} of ~${humanBytes(p.bytesTotal)}${rows}${r ? ` (${r})` : ''}; ` +
        `indexes ${p.indexesDone}/${p.indexesTotal}${p.matviewsTotal ? `, matviews ${p.matviewsDone}/${p.matviewsTotal}` : ''}`;
      return [head, ...running.lines(now)].join('\n');
    },
  };
}

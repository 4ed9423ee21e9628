/** dump's and restore's progress as text, the same on the CLI and in a runbook's task list. */
import { humanBytes } from '../lib/format.js';
import { InFlightLines, type ProgressView, tablesProgress } from '../lib/progress.js';
import { Meter, rateText } from '../lib/rate.js';
import type { DumpProgress } from './dump.js';
import type { RestoreProgress } from './restore.js';

/** pg_dump reports tables as they start and end: done of the estimate, rate, ETA, the tables in flight. */
export function dumpProgress(): ProgressView<DumpProgress> {
  const v = tablesProgress();
  return {
    update: (p, now) => v.update({ ...p, running: p.running.map((r) => ({ name: r.table, startedAt: r.startedAt, total: r.bytes })) }, now),
    text: (now) => v.text(now),
  };
}

/**
 * "data: items 12/40, 1.2 GB of ~3.4 GB in the archive (12 MB/s, ETA 3 min)": the rate and ETA follow
 * the archive's compressed table files in the data section, items elsewhere; a line per item in flight.
 */
export function restoreProgress(): ProgressView<RestoreProgress> {
  let meter = new Meter(Infinity); // items end now and then: the average since the section's start
  const running = new InFlightLines('bytes');
  let last: RestoreProgress | undefined;
  return {
    update(p, now = Date.now()) {
      if (p.section !== last?.section) meter = new Meter(Infinity); // each section its own rate (and unit)
      last = p;
      meter.sample(p.bytesTotal ? p.bytesDone : p.itemsDone, now);
      running.sample(p.running.map((r) => ({ name: r.item, startedAt: r.startedAt, total: r.bytes || undefined })), now);
    },
    text(now = Date.now()) {
      const p = last;
      if (!p) return 'starting';
      meter.sample(p.bytesTotal ? p.bytesDone : p.itemsDone, now);
      const r = p.bytesTotal ? rateText(meter, p.bytesDone, p.bytesTotal, 'bytes') : rateText(meter, p.itemsDone, p.itemsTotal, 'items');
      const bytes = p.bytesTotal ? `, ${humanBytes(p.bytesDone)} of ${humanBytes(p.bytesTotal)} in the archive` : '';
      return [`${p.section}: items ${p.itemsDone}/${p.itemsTotal}${bytes}${r ? ` (${r})` : ''}`, ...running.lines(now)].join('\n');
    },
  };
}

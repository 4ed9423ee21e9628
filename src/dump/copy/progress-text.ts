/** One line of a copy's progress, the same on the CLI and in a runbook's task list. */
import { humanBytes } from '../../lib/format.js';
import { Rate } from '../../lib/rate.js';
import type { CopyProgress } from './copy.js';

/** Returns a function that turns each progress event into its line, with the current rate and ETA. */
export function copyProgressText(): (p: CopyProgress) => string {
  const rate = new Rate();
  return (p) => {
    const r = p.phase === 'data' ? rate.update(p.bytesDone, p.bytesTotal) : '';
    return `${p.phase}: tables ${p.tablesDone}/${p.tablesTotal}, ${humanBytes(p.bytesDone)} of ~${humanBytes(p.bytesTotal)}${r ? ` (${r})` : ''}, ` +
      `indexes ${p.indexesDone}/${p.indexesTotal}${p.matviewsTotal ? `, matviews ${p.matviewsDone}/${p.matviewsTotal}` : ''}`;
  };
}

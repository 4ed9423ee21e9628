/**
 * Progress on stderr for the CLI's long commands: on a terminal a block redrawn in place every second
 * (a totals line, then a line per table in flight), otherwise one plain line every 10 s
 * (CUTOVER_PROGRESS_INTERVAL). Each starts with the time the command has run.
 */
import { humanDuration } from '../lib/format.js';
import { type ProgressText, TTY_REFRESH_MS, oneLine, plainIntervalMs, resolveText } from '../lib/progress.js';

export interface ProgressLine {
  update(text: ProgressText): void;
  /** A line to keep (a phase, a note), printed above the live block on a terminal. */
  log(line: string): void;
  done(): void;
}

export function progressLine(o: { tty?: boolean; intervalMs?: number; out?: NodeJS.WriteStream } = {}): ProgressLine {
  const out = o.out ?? process.stderr;
  const tty = o.tty ?? out.isTTY === true;
  const every = o.intervalMs ?? (tty ? TTY_REFRESH_MS : plainIntervalMs());
  const t0 = Date.now();
  let current: ProgressText | undefined;
  let drawn = 0; // lines of the block on screen (terminal)
  let drawnAt = 0;
  const text = () => (current === undefined ? '' : `${humanDuration(Date.now() - t0)} | ${resolveText(current)}`);
  const draw = () => {
    if (current === undefined || Date.now() - drawnAt < every / 2) return;
    drawnAt = Date.now();
    if (!tty) {
      out.write(`${oneLine(text())}\n`);
      return;
    }
    // Each line cut to the terminal's width: a wrapped line would break the count of lines to go up.
    const width = Math.max(20, (out.columns || 100) - 1);
    const lines = text().split('\n').map((l) => (l.length > width ? `${l.slice(0, width - 1)}…` : l));
    out.write(`${drawn > 1 ? `\x1b[${drawn - 1}A` : ''}\r\x1b[J${lines.join('\n')}`);
    drawn = lines.length;
  };
  // Redrawn on a timer too: the engine may report seldom (a dump between tables), elapsed times move.
  const timer = setInterval(draw, every);
  timer.unref();
  return {
    update(t: ProgressText) {
      const first = current === undefined;
      current = t;
      // The first report at once, then at the timer's pace (a line per event in a CI log buries the rest).
      if (first) draw();
    },
    log(line: string) {
      if (tty && drawn) {
        out.write(`${drawn > 1 ? `\x1b[${drawn - 1}A` : ''}\r\x1b[J${line}\n`);
        drawn = 0;
        drawnAt = 0;
        draw();
      } else out.write(`${line}\n`);
    },
    done() {
      clearInterval(timer);
      if (tty && drawn) { drawnAt = 0; draw(); out.write('\n'); }
    },
  };
}

/**
 * The controlling terminal (/dev/tty), for questions asked of the person running cutover when stdout
 * is piped (`cutover run ... | tee night.log`): the question and the answer go through the terminal, the
 * output stays in the pipe. No terminal at all (CI, cron, a service): undefined, and the documented rules
 * apply (--yes). CUTOVER_NO_TTY=1 turns it off (a test harness started from a terminal).
 */
import { openSync, closeSync } from 'node:fs';
import { createInterface } from 'node:readline/promises';
import tty from 'node:tty';

export function hasControllingTerminal(): boolean {
  if (process.env.CUTOVER_NO_TTY === '1') return false;
  try {
    closeSync(openSync('/dev/tty', 'r+'));
    return true;
  } catch {
    return false;
  }
}

/** Asks a yes/no question on the controlling terminal; Enter means `dflt`. */
export async function askOnTerminal(question: string, dflt = true): Promise<boolean> {
  const fd = openSync('/dev/tty', 'r+');
  const input = new tty.ReadStream(fd);
  const output = new tty.WriteStream(fd);
  const rl = createInterface({ input, output, terminal: true });
  try {
    for (;;) {
      const a = (await rl.question(`${question} ${dflt ? '(Y/n)' : '(y/N)'} `)).trim().toLowerCase();
      if (a === '') return dflt;
      if (a === 'y' || a === 'yes') return true;
      if (a === 'n' || a === 'no') return false;
    }
  } finally {
    rl.close();
    input.destroy();
    output.destroy();
  }
}

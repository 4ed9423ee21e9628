/** Throttled progress on stderr: one rewritten line on a terminal, plain lines (every few seconds) in CI. */
export function progressLine(intervalMs = process.stderr.isTTY ? 200 : 5000): { update(text: string): void; done(): void } {
  let last = 0;
  let pending = '';
  const tty = process.stderr.isTTY === true;
  return {
    update(text: string) {
      pending = text;
      const now = Date.now();
      if (now - last < intervalMs) return;
      last = now;
      process.stderr.write(tty ? `\r\x1b[K${text}` : `${text}\n`);
    },
    done() {
      if (tty && last) process.stderr.write(`\r\x1b[K${pending}\n`);
    },
  };
}

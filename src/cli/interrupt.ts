/**
 * SIGINT, SIGTERM and SIGHUP, handled alike by every command. A command with a graceful stop (a runbook
 * run, `replicate apply`) registers a handler with `onInterrupt`: it stops starting work, cancels what
 * runs and ends by itself. Otherwise the default stop ends this process's work at once: child process
 * groups get the signal, the running statements of its own sessions are cancelled on every server it
 * reached (index builds included: a vanished client does not stop a server-side statement), the runtime
 * directory (passfiles) is removed, and the process exits with 128 + the signal's number.
 */
import { removeRuntimeDir, signalOwnChildren } from '../lib/runtime-dir.js';
import { cancelOwnSessionsEverywhere } from '../pg/own-sessions.js';
import { HANDLED_SIGNALS, type HandledSignal, SIGNAL_EXIT } from '../lib/signals.js';

export { HANDLED_SIGNALS, type HandledSignal, SIGNAL_EXIT };

type Handler = (signal: HandledSignal) => void;
const handlers: Handler[] = [];
let installed = false;

/** Installs the process's handlers once (the CLI at start, a library run when it starts). */
export function installSignalHandlers(): void {
  if (installed) return;
  installed = true;
  for (const sig of HANDLED_SIGNALS) {
    process.on(sig, () => {
      const h = handlers.at(-1);
      if (h) h(sig);
      else void stopNow(sig);
    });
  }
}

/** Registers a graceful stop for the duration of a command; returns its removal. */
export function onInterrupt(h: Handler): () => void {
  installSignalHandlers();
  handlers.push(h);
  return () => {
    const i = handlers.lastIndexOf(h);
    if (i >= 0) handlers.splice(i, 1);
  };
}

let stopping: Promise<never> | undefined;
/** The stop under way, if a signal started one: an error its cancellations cause must not exit first. */
export function stopInProgress(): Promise<never> | undefined { return stopping; }

/** Ends this process's work (children, server-side statements, passfiles) and exits 128 + signal. */
export function stopNow(signal: HandledSignal): Promise<never> {
  stopping ??= stop(signal);
  return stopping;
}

let lastWords: Handler | undefined;
/** Called by the default stop just before the process exits (the CLI's `--json` document). */
export function beforeStopExit(h: Handler): void { lastWords = h; }

async function stop(signal: HandledSignal): Promise<never> {
  {
    signalOwnChildren(signal);
    // Bounded: an unreachable server must not keep a stopping process alive.
    await Promise.race([cancelOwnSessionsEverywhere({ waitMs: 1000 }), new Promise((r) => setTimeout(r, 5000).unref())]);
    signalOwnChildren('SIGKILL');
  }
  removeRuntimeDir();
  lastWords?.(signal);
  process.exit(SIGNAL_EXIT[signal]);
}

/**
 * A graceful stop for a command that can end by itself (a runbook run), while it is `armed` (the run has
 * taken charge of its signals): the first signal aborts `signal` (the command starts nothing new and
 * cancels what runs; `onFirst` tells the person), a second one, or `graceMs` without an end, aborts
 * `stopNow` (the command ends at once; the caller exits). Unarmed (before the run is under way, after it
 * ended), a signal gets `idle` (default: the default stop). The library takes the two AbortSignals; the
 * process's signals stay here, with the CLI.
 */
export function gracefulStop(o: { onFirst?: (sig: HandledSignal) => void; idle?: (sig: HandledSignal) => void; graceMs?: number } = {}):
  { signal: AbortSignal; stopNow: AbortSignal; arm: (on: boolean) => void; off: () => void } {
  const first = new AbortController();
  const now = new AbortController();
  let armed = false;
  let timer: NodeJS.Timeout | undefined;
  const off = onInterrupt((sig) => {
    if (!armed) { (o.idle ?? ((s) => { void stopNow(s); }))(sig); return; }
    if (first.signal.aborted) { now.abort(first.signal.reason); return; }
    o.onFirst?.(sig);
    first.abort(sig);
    timer = setTimeout(() => now.abort(sig), o.graceMs ?? 10_000).unref();
  });
  return { signal: first.signal, stopNow: now.signal, arm: (on) => { armed = on; }, off: () => { off(); if (timer) clearTimeout(timer); } };
}

/** The signals cutover handles alike (the library names them; the CLI handles them: src/cli/interrupt.ts). */
export const HANDLED_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
export type HandledSignal = (typeof HANDLED_SIGNALS)[number];

/** Exit status after a signal, as a shell reports it: 128 + its number. */
export const SIGNAL_EXIT: Record<HandledSignal, number> = { SIGHUP: 129, SIGINT: 130, SIGTERM: 143 };

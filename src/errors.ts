/**
 * One error model for the whole tool: a stable code, a message that says what to do, an optional hint and
 * cause. The CLI maps codes to exit codes (docs/errors.md); library users switch on `code`.
 */
export const EXIT = {
  ok: 0,
  internal: 1,
  usage: 2,
  connection: 3,
  preflight: 4,
  difference: 5,
  stepFailed: 6,
  halted: 7,
  interrupted: 130,
} as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

export const ERROR_CODES = {
  E_USAGE: EXIT.usage,
  E_CONNINFO: EXIT.usage,
  E_RUNBOOK: EXIT.usage,
  E_AUTH: EXIT.connection,
  E_UNREACHABLE: EXIT.connection,
  E_NO_DATABASE: EXIT.connection,
  E_NO_SLOTS: EXIT.connection,
  E_SSL: EXIT.connection,
  E_CLIENT_TOOL: EXIT.preflight,
  E_PREFLIGHT: EXIT.preflight,
  E_PRIVILEGE: EXIT.preflight,
  E_BUDGET: EXIT.preflight,
  E_DIFFERENCE: EXIT.difference,
  E_NO_KEY: EXIT.preflight,
  E_FENCE: EXIT.preflight,
  E_NOT_STARTED: EXIT.preflight,
  E_HALTED: EXIT.halted,
  // A signal stopped the command (its exit status is 128 + the signal's number); in --json documents, and a
  // library run's RunInterruptedError (its AbortSignal fired).
  E_INTERRUPTED: EXIT.interrupted,
  E_SQL: EXIT.stepFailed,
  E_CHILD: EXIT.stepFailed,
  E_HARNESS: EXIT.internal,
  E_INTERNAL: EXIT.internal,
} as const;
export type ErrorCode = keyof typeof ERROR_CODES;

export interface CutoverErrorOptions {
  hint?: string;
  cause?: unknown;
  /** Extra machine-readable facts (never secrets). */
  details?: Record<string, unknown>;
}

export class CutoverError extends Error {
  readonly code: ErrorCode;
  readonly hint?: string;
  readonly details?: Record<string, unknown>;
  constructor(code: ErrorCode, message: string, opts: CutoverErrorOptions = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'CutoverError';
    this.code = code;
    this.hint = opts.hint;
    this.details = opts.details;
  }
  get exitCode(): ExitCode {
    return ERROR_CODES[this.code];
  }
  toJSON(): Record<string, unknown> {
    return { code: this.code, message: this.message, hint: this.hint, details: this.details };
  }
}

export function isCutoverError(e: unknown): e is CutoverError {
  return e instanceof CutoverError;
}

/** A message safe to print: the error's own message (already scrubbed where it is built), or a generic one. */
export function describeError(e: unknown): string {
  if (e instanceof CutoverError) return e.hint ? `${e.message}\n  hint: ${e.hint}` : e.message;
  if (e instanceof Error) return e.message;
  return String(e);
}

/**
 * The pieces every `--json` document is made of. A document is `ok: true` with the command's result, or
 * `ok: false` with `code`, `message` and `hint`: alone when the command failed before it had a result
 * (ErrorDoc, written by main.ts), or next to the result when the failure is the result (verify's
 * differences, doctor's problems, a failed run). `ok` is true exactly when the exit status is 0.
 */
import { z } from 'zod';
import { ERROR_CODES, type ErrorCode } from '../errors.js';
import { HANDLED_SIGNALS } from '../lib/signals.js';

export const int = z.number().int();
export const ms = int.nonnegative().describe('milliseconds');
export const signal = z.enum(HANDLED_SIGNALS);

export const ERROR_CODE_LIST = Object.keys(ERROR_CODES) as [ErrorCode, ...ErrorCode[]];
export const errorCode = z.enum(ERROR_CODE_LIST).describe('stable error code (docs/errors.md); the exit status is the command\'s');

const failure = {
  ok: z.literal(false),
  code: errorCode,
  message: z.string().describe('what went wrong, passwords scrubbed'),
  hint: z.string().optional().describe('what to do about it'),
};

/** A failure without a result: any command, any code (main.ts writes it). */
export const ErrorDoc = z.strictObject(failure).describe('a command that failed before it had a result');
export type ErrorDoc = z.infer<typeof ErrorDoc>;

/** A command that succeeds with a result or fails with an ErrorDoc. */
export function success<T extends z.ZodRawShape>(fields: T) {
  return z.strictObject({ ok: z.literal(true) }).extend(fields);
}

/**
 * A command whose failure still has a result: the same fields with `ok: false` and the error's fields
 * (`codes`: the codes that failure can carry).
 */
export function withFailure<T extends z.ZodRawShape, C extends ErrorCode>(fields: T, codes: readonly [C, ...C[]]) {
  return z.discriminatedUnion('ok', [
    z.strictObject({ ok: z.literal(true) }).extend(fields),
    z.strictObject({ ...failure, code: z.enum(codes) }).extend(fields),
  ]);
}

/** The error fields of a failure with a result. */
export function failed<C extends ErrorCode>(code: C, message: string, hint?: string) {
  return { ok: false as const, code, message, ...(hint ? { hint } : {}) };
}

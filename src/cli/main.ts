#!/usr/bin/env node
/** The `cutover` command: a thin shell over the library; errors become one clear message and an exit code. */
import { CommanderError } from 'commander';
import { buildProgram } from './program.js';
import { EXIT, type ErrorCode, isCutoverError } from '../errors.js';
import { scrub } from '../pg/conninfo.js';
import { beforeStopExit, installSignalHandlers, stopInProgress } from './interrupt.js';
import { documentWritten, emitJson } from './json/emit.js';
import { ErrorDoc } from '../json/base.js';
import { sweepRuntimeDirs } from '../lib/runtime-dir.js';
import { newSessionTag } from '../pg/session-tag.js';

// Before anything else: this process tree's session tag, the signal handlers, and the sweep of what
// earlier cutover processes killed with SIGKILL left behind (passfiles, orphaned child processes).
newSessionTag();
installSignalHandlers();
sweepRuntimeDirs();

const program = buildProgram();

// `--json` anywhere on the command line: an error is one JSON document on stdout too (the exit code and
// the message on stderr unchanged), so a script reading stdout never gets nothing; never a second one
// after the command's own.
const wantsJson = process.argv.slice(2).includes('--json');
const jsonError = (code: ErrorCode, message: string, hint?: string) => {
  if (wantsJson && !documentWritten()) emitJson(ErrorDoc, { ok: false, code, message, ...(hint ? { hint } : {}) }, 0);
};
beforeStopExit((sig) => jsonError('E_INTERRUPTED', `stopped by ${sig}`, 'its child processes and statements were ended first; copy, run and rehearse go on with --resume'));

function fail(e: unknown): never {
  if (e instanceof CommanderError) {
    if (e.exitCode !== 0) jsonError('E_USAGE', e.message);
    process.exit(e.exitCode === 0 ? EXIT.ok : EXIT.usage);
  }
  if (isCutoverError(e)) {
    jsonError(e.code, e.message, e.hint);
    process.stderr.write(`cutover: ${scrub(e.message)}\n${e.hint ? `  hint: ${scrub(e.hint)}\n` : ''}`);
    if (process.env.CUTOVER_DEBUG && e.cause) process.stderr.write(`${String((e.cause as Error).stack ?? e.cause)}\n`);
    process.exit(e.exitCode);
  }
  const msg = e instanceof Error ? e.message : String(e);
  jsonError('E_INTERNAL', `unexpected error: ${msg}`);
  process.stderr.write(`cutover: unexpected error: ${scrub(msg)}\n  (this is a bug; rerun with CUTOVER_DEBUG=1 for details)\n`);
  if (process.env.CUTOVER_DEBUG && e instanceof Error) process.stderr.write(`${e.stack}\n`);
  process.exit(EXIT.internal);
}

try {
  await program.parseAsync(process.argv);
} catch (e) {
  // A signal's stop cancels our statements: the error that causes is not the command's outcome.
  await stopInProgress();
  fail(e);
}

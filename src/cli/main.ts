#!/usr/bin/env node
/** The `cutover` command: a thin shell over the library; errors become one clear message and an exit code. */
import { Command, CommanderError } from 'commander';
import { EXIT, isCutoverError } from '../errors.js';
import { scrub } from '../pg/conninfo.js';
import { registerDoctor } from './commands/doctor.js';
import { registerDemo } from './commands/demo.js';
import { registerVerify } from './commands/verify.js';
import { registerCopy } from './commands/copy.js';
import { registerRunbook } from './commands/runbook.js';
import { registerBudget } from './commands/budget.js';
import { registerReplicate } from './commands/replicate.js';
import { installSignalHandlers, stopInProgress } from '../lib/interrupt.js';
import { sweepRuntimeDirs } from '../lib/runtime-dir.js';
import { newSessionTag } from '../pg/session-tag.js';

// Before anything else: this process tree's session tag, the signal handlers, and the sweep of what
// earlier cutover processes killed with SIGKILL left behind (passfiles, orphaned child processes).
newSessionTag();
installSignalHandlers();
sweepRuntimeDirs();

const program = new Command();
program
  .name('cutover')
  .description('Move a PostgreSQL database to another server from a Markdown runbook, and prove nothing was lost.')
  .version('0.1.0')
  .showHelpAfterError()
  .exitOverride();

registerDoctor(program);
registerRunbook(program);
registerCopy(program);
registerBudget(program);
registerReplicate(program);
registerVerify(program);
registerDemo(program);

function fail(e: unknown): never {
  if (e instanceof CommanderError) {
    process.exit(e.exitCode === 0 ? EXIT.ok : EXIT.usage);
  }
  if (isCutoverError(e)) {
    process.stderr.write(`cutover: ${scrub(e.message)}\n${e.hint ? `  hint: ${scrub(e.hint)}\n` : ''}`);
    if (process.env.CUTOVER_DEBUG && e.cause) process.stderr.write(`${String((e.cause as Error).stack ?? e.cause)}\n`);
    process.exit(e.exitCode);
  }
  const msg = e instanceof Error ? e.message : String(e);
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

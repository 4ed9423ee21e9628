/** The `cutover` command tree: every command registered, each help ending with an example and the exit codes. */
import { Command } from 'commander';
import { registerDoctor } from './commands/doctor.js';
import { registerDemo } from './commands/demo.js';
import { registerActionCommands } from './from-registry.js';
import { registerRunbook } from './commands/runbook.js';
import { registerBudget } from './commands/budget.js';
import { registerReplicate } from './commands/replicate.js';
import { addHelpFooters } from './help.js';

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('cutover')
    .description('Move a PostgreSQL database to another server from a Markdown runbook, and prove nothing was lost.')
    .version('0.1.0')
    .showHelpAfterError('(cutover COMMAND --help: the options, an example and the exit codes)')
    .exitOverride();
  registerDoctor(program);
  registerRunbook(program);
  // The operations with a command of their own (copy, dump, restore, verify, sql-file): from the registry.
  registerActionCommands(program);
  registerBudget(program);
  registerReplicate(program);
  registerDemo(program);
  addHelpFooters(program);
  return program;
}

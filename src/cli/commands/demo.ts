import type { Command } from 'commander';
import { runDemo } from '../../demo.js';

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('start two throwaway PostgreSQL servers, load the sample database, keep writing to it and rehearse runbooks/online-cutover.md (needs no database)')
    .option('--rows <n>', 'sample size (base row count)', '20000')
    .option('--out <dir>', 'where the journal, report and checklist go', '.cutover/demo')
    .option('--source-version <major>', 'source PostgreSQL major version (default: oldest available)')
    .option('--target-version <major>', 'target PostgreSQL major version (default: newest available)')
    .option('--writers <n>', 'application connections writing to the source during the run', '2')
    .addHelpText('after', '\nThe servers\' password is random; CUTOVER_DEMO_PASSWORD sets it (never on the command line).')
    .action(async (o: { rows: string; out: string; sourceVersion?: string; targetVersion?: string; writers: string }) => {
      process.exitCode = await runDemo({
        rows: Number(o.rows),
        outDir: o.out,
        writers: Number(o.writers),
        password: process.env.CUTOVER_DEMO_PASSWORD,
        sourceVersion: o.sourceVersion ? Number(o.sourceVersion) : undefined,
        targetVersion: o.targetVersion ? Number(o.targetVersion) : undefined,
        log: (m) => process.stdout.write(m + '\n'),
      });
    });
}

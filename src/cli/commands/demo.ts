import type { Command } from 'commander';
import { runDemo } from '../../demo.js';

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('start two throwaway PostgreSQL servers, load the sample database and run doctor on them (needs no database)')
    .option('--rows <n>', 'sample size (base row count)', '2000')
    .option('--source-version <major>', 'source PostgreSQL major version (default: oldest available)')
    .option('--target-version <major>', 'target PostgreSQL major version (default: newest available)')
    .action(async (o: { rows: string; sourceVersion?: string; targetVersion?: string }) => {
      process.exitCode = await runDemo({
        rows: Number(o.rows),
        sourceVersion: o.sourceVersion ? Number(o.sourceVersion) : undefined,
        targetVersion: o.targetVersion ? Number(o.targetVersion) : undefined,
        log: (m) => process.stdout.write(m + '\n'),
      });
    });
}

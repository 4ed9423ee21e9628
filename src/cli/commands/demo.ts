import type { Command } from 'commander';
import { runDemo } from '../demo-run.js';
import { positiveInt, withJson } from '../options.js';
import { addSecret, emitJson } from '../json/emit.js';
import { demoDoc } from '../json/build-runbook.js';
import { DemoDoc } from '../../json/shapes-runbook.js';

export function registerDemo(program: Command): void {
  withJson(program
    .command('demo'))
    .description('start two throwaway PostgreSQL servers, load the sample database, keep writing to it and rehearse runbooks/online-cutover.md (needs no database)')
    .option('--rows <n>', 'sample size (base row count)', positiveInt, 20000)
    .option('--out <dir>', 'where the journal, report and checklist go', '.cutover/demo')
    .option('--source-version <major>', 'source PostgreSQL major version (default: the newest the installed pg_dump can dump)', positiveInt)
    .option('--target-version <major>', 'target PostgreSQL major version (default: the newest available)', positiveInt)
    .option('--writers <n>', 'application connections writing to the source during the run', positiveInt, 2)
    .addHelpText('after', '\nThe servers\' password is random; CUTOVER_DEMO_PASSWORD sets it (never on the command line).')
    .action(async (o: { rows: number; out: string; sourceVersion?: number; targetVersion?: number; writers: number; json?: boolean }) => {
      const out = o.json ? process.stderr : process.stdout;
      addSecret(process.env.CUTOVER_DEMO_PASSWORD);
      const d = await runDemo({
        rows: o.rows, writers: o.writers, sourceVersion: o.sourceVersion, targetVersion: o.targetVersion,
        outDir: o.out,
        password: process.env.CUTOVER_DEMO_PASSWORD,
        log: (m) => out.write(m + '\n'),
        taskList: o.json ? 'stderr' : 'stdout',
      });
      if (o.json) emitJson(DemoDoc, demoDoc(d));
      process.exitCode = d.exitCode;
    });
}

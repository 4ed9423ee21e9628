import { type Command, Option } from 'commander';
import { verify, VERIFY_LEVELS, type VerifyLevel } from '../../verify/verify.js';
import { renderVerify } from '../../verify/render.js';
import { EXIT } from '../../errors.js';
import { resolveConnArg } from '../connection-args.js';
import { positiveInt } from '../options.js';

export function registerVerify(program: Command): void {
  program
    .command('verify')
    .description('prove source and target hold the same data: exact counts, chunked checksums down to the differing rows, sequences, schema')
    .option('--source <conn>', 'source connection (URL, key=value, or env:VAR); default $CUTOVER_SOURCE_URL')
    .option('--target <conn>', 'target connection (URL, key=value, or env:VAR); default $CUTOVER_TARGET_URL')
    .addOption(new Option('--level <level>', 'how deep to compare').choices(VERIFY_LEVELS).default('checksums'))
    .option('-j, --jobs <n>', 'worker sessions per side (each side also opens one snapshot leader)', positiveInt, 2)
    .option('--table <schema.table...>', 'only these tables')
    .option('--chunk-rows <n>', 'rows per checksum chunk', positiveInt, 100_000)
    .option('--max-reported <n>', 'differences listed per table (all are counted)', positiveInt, 20)
    .option('--json', 'print the report as JSON')
    .action(async (o: { source?: string; target?: string; level: VerifyLevel; jobs: number; table?: string[]; chunkRows: number; maxReported: number; json?: boolean }) => {
      const report = await verify({
        source: resolveConnArg('source', o.source, 'CUTOVER_SOURCE_URL'),
        target: resolveConnArg('target', o.target, 'CUTOVER_TARGET_URL'),
        level: o.level, jobs: o.jobs, tables: o.table, chunkRows: o.chunkRows, maxReported: o.maxReported,
      });
      process.stdout.write((o.json ? JSON.stringify(report, null, 2) : renderVerify(report)) + '\n');
      process.exitCode = report.ok ? EXIT.ok : EXIT.difference;
    });
}

import { type Command, Option } from 'commander';
import { verify, VERIFY_LEVELS, type VerifyLevel } from '../../verify/verify.js';
import { renderVerify } from '../../verify/render.js';
import { EXIT } from '../../errors.js';
import { parseRoleMapArgs } from '../../pg/role-map.js';
import { resolveConnArg } from '../connection-args.js';
import { positiveInt, withJson } from '../options.js';
import { printResult } from '../json/emit.js';
import { failed } from '../json/base.js';
import { VerifyDoc } from '../json/shapes-engines.js';
import { progressLine } from '../progress.js';
import { tablesProgress } from '../../lib/progress.js';

const collect = (v: string, prev: string[] = []) => [...prev, v];

export function registerVerify(program: Command): void {
  withJson(program
    .command('verify'))
    .description('prove source and target hold the same data: exact counts, chunked checksums down to the differing rows, materialized views, large objects, sequences, schema, privileges')
    .option('--source <conn>', 'source connection (URL, key=value, or env:VAR); default $CUTOVER_SOURCE_URL')
    .option('--target <conn>', 'target connection (URL, key=value, or env:VAR); default $CUTOVER_TARGET_URL')
    .addOption(new Option('--level <level>', 'how deep to compare').choices(VERIFY_LEVELS).default('checksums'))
    .option('-j, --jobs <n>', 'worker sessions per side (each side also opens one snapshot leader)', positiveInt, 2)
    .option('--table <schema.table...>', 'only these tables (each must exist; unqualified names resolve as search_path would)')
    .option('--exclude-table <schema.table...>', 'not these tables (each must exist)')
    .option('--role-map <old=new>', 'source role -> target role for owners and grants (repeatable)', collect)
    .option('--chunk-rows <n>', 'rows per checksum chunk', positiveInt, 100_000)
    .option('--max-reported <n>', 'differences listed per table (all are counted)', positiveInt, 20)
    .action(async (o: { source?: string; target?: string; level: VerifyLevel; jobs: number; table?: string[]; excludeTable?: string[]; roleMap?: string[]; chunkRows: number; maxReported: number; json?: boolean }) => {
      const roleMap = o.roleMap ? parseRoleMapArgs(o.roleMap) : undefined;
      const p = progressLine();
      const view = tablesProgress();
      const report = await verify({
        source: resolveConnArg('source', o.source, 'CUTOVER_SOURCE_URL'),
        target: resolveConnArg('target', o.target, 'CUTOVER_TARGET_URL'),
        level: o.level, jobs: o.jobs, tables: o.table, excludeTables: o.excludeTable, roleMap, chunkRows: o.chunkRows, maxReported: o.maxReported,
        onTables: (x) => { view.update(x); p.update(() => `verify ${view.text()}`); },
      }).finally(() => p.done());
      const text = renderVerify(report);
      // The failure's message is the text's last line: what differs, and what was compared.
      printResult(o.json, VerifyDoc, report.ok ? { ...report, ok: true } : { ...report, ...failed('E_DIFFERENCE', text.split('\n').at(-1)!) }, () => text);
      process.exitCode = report.ok ? EXIT.ok : EXIT.difference;
    });
}

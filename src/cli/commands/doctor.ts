import type { Command } from 'commander';
import { doctor } from '../../doctor/doctor.js';
import { renderDoctor } from '../../doctor/render.js';
import { parseHeadroom } from '../../budget/capacity.js';
import { EXIT } from '../../errors.js';
import { resolveConnArg } from '../connection-args.js';
import { rolesPolicy, withRoleOptions } from '../options.js';

export function registerDoctor(program: Command): void {
  withRoleOptions(program
    .command('doctor'))
    .description('check both servers and the client tools before anything is touched')
    .option('--source <conn>', 'source connection (URL, key=value, or env:VAR); default $CUTOVER_SOURCE_URL')
    .option('--target <conn>', 'target connection (URL, key=value, or env:VAR); default $CUTOVER_TARGET_URL')
    .option('--headroom <n|pct>', 'connections to keep free for the application on each side', '0')
    .option('--pg-bindir <dir>', 'directory holding pg_dump/pg_restore (default: PATH, /usr/lib/postgresql/*/bin)')
    .option('--copy-only', 'no change capture is planned: tables without a primary key are only a warning')
    .option('--json', 'print the report as JSON')
    .action(async (o: { source?: string; target?: string; headroom: string; pgBindir?: string; copyOnly?: boolean; json?: boolean; roleMap: string[]; createRoles?: boolean; dropUnmappedRoles?: boolean }) => {
      const source = resolveConnArg('source', o.source, 'CUTOVER_SOURCE_URL');
      const target = resolveConnArg('target', o.target, 'CUTOVER_TARGET_URL');
      const report = await doctor({ source, target, headroom: parseHeadroom(o.headroom), binDir: o.pgBindir, copyOnly: o.copyOnly, roles: rolesPolicy(o) });
      process.stdout.write((o.json ? JSON.stringify(report, null, 2) : renderDoctor(report)) + '\n');
      process.exitCode = report.ok ? EXIT.ok : EXIT.preflight;
    });
}

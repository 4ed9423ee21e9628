import { type Command, Option } from 'commander';
import { doctor, type DoctorOptions } from '../../doctor/doctor.js';
import { renderDoctor } from '../../doctor/render.js';
import { parseHeadroom } from '../../budget/capacity.js';
import { EXIT } from '../../errors.js';
import { FENCES, type Fence } from '../../replicate/fence.js';
import { loadRunbook } from '../../runbook/parse.js';
import { resolveConnections } from '../../runbook/connections.js';
import { resolveConnArg } from '../connection-args.js';
import { rolesPolicy, withJson, withRoleOptions } from '../options.js';
import { printResult } from '../json/emit.js';
import { failed } from '../../json/base.js';
import { DoctorDoc } from '../../json/shapes-engines.js';

/**
 * What a runbook plans, for doctor: its connections (or its rehearsal ones), whether it replicates (a
 * replicate-start step) and its replicate-cutover step's fence.
 */
async function fromRunbook(file: string, rehearsal: boolean): Promise<Pick<DoctorOptions, 'source' | 'target' | 'copyOnly' | 'fence' | 'headroom' | 'pooler'>> {
  const rb = await loadRunbook(file);
  const { source, target, pooler } = await resolveConnections(rb, rehearsal ? 'rehearse' : 'run');
  const cut = rb.steps.find((s) => s.action === 'replicate-cutover' && !s.rollback);
  const replicates = rb.steps.some((s) => s.action === 'replicate-start');
  return {
    source, target, copyOnly: !replicates,
    fence: cut ? { kind: cut.options.fence as Fence, roles: cut.options.roles as string[] | undefined } : undefined,
    headroom: rb.front.headroom !== undefined ? parseHeadroom(rb.front.headroom) : undefined,
    pooler: pooler ? { admin: pooler, database: (cut?.options.pooler as { database?: string } | undefined)?.database } : undefined,
  };
}

export function registerDoctor(program: Command): void {
  withJson(withRoleOptions(program
    .command('doctor')))
    .argument('[runbook]', 'read the connections, the replication plan and the cutover\'s fence from this runbook')
    .description('check both servers and the client tools before anything is touched')
    .option('--source <conn>', 'source connection (URL, key=value, or env:VAR); default $CUTOVER_SOURCE_URL')
    .option('--target <conn>', 'target connection (URL, key=value, or env:VAR); default $CUTOVER_TARGET_URL')
    .option('--rehearsal', 'with a runbook: check its rehearsal connections')
    .option('--headroom <n|pct>', 'connections to keep free for the application on each side')
    .option('--pg-bindir <dir>', 'directory holding pg_dump/pg_restore (default: PATH, /usr/lib/postgresql/*/bin)')
    .option('--copy-only', 'no change capture is planned: tables without a primary key are only a warning')
    .addOption(new Option('--fence <how>', 'the cutover\'s write fence to predict (who can write what, and whether it stops them all)').choices(FENCES))
    .option('--role <name...>', 'with --fence revoke or read-only: the roles to fence')
    .option('--pooler <conn>', 'a PgBouncer admin console in front of the source (database pgbouncer): admin rights, entries, pool mode')
    .option('--pooler-database <name>', 'the pooler entry the application connects to')
    .action(async (file: string | undefined, o: { source?: string; target?: string; rehearsal?: boolean; headroom?: string; pgBindir?: string; copyOnly?: boolean; fence?: Fence; role?: string[];
      pooler?: string; poolerDatabase?: string; json?: boolean; roleMap: string[]; createRoles?: boolean; dropUnmappedRoles?: boolean }) => {
      const planned = file ? await fromRunbook(file, o.rehearsal ?? false) : undefined;
      const source = o.source || !planned ? resolveConnArg('source', o.source, 'CUTOVER_SOURCE_URL') : planned.source;
      const target = o.target || !planned ? resolveConnArg('target', o.target, 'CUTOVER_TARGET_URL') : planned.target;
      const report = await doctor({
        source, target, binDir: o.pgBindir,
        headroom: o.headroom !== undefined ? parseHeadroom(o.headroom) : planned?.headroom ?? 0,
        copyOnly: o.copyOnly ?? planned?.copyOnly,
        fence: o.fence ? { kind: o.fence, roles: o.role } : planned?.fence,
        pooler: o.pooler ? { admin: resolveConnArg('pooler', o.pooler, 'CUTOVER_POOLER_URL'), database: o.poolerDatabase } : planned?.pooler,
        roles: rolesPolicy(o),
      });
      const fails = report.checks.filter((c) => c.status === 'fail');
      printResult(o.json, DoctorDoc, report.ok ? { ...report, ok: true } : {
        ...report, ...failed('E_PREFLIGHT', `${fails.length} check(s) failed: ${fails.map((c) => `${c.side} ${c.id}`).join(', ')}`, 'each failing check says what to fix; nothing was changed'),
      }, () => renderDoctor(report));
      process.exitCode = report.ok ? EXIT.ok : EXIT.preflight;
    });
}

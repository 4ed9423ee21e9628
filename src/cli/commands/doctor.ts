import type { Command } from 'commander';
import { doctor, type DoctorReport } from '../../doctor/doctor.js';
import { parseHeadroom } from '../../budget/capacity.js';
import { EXIT } from '../../errors.js';
import { resolveConnArg } from '../connection-args.js';
import { table } from '../format.js';

const MARK = { ok: 'ok', warn: 'WARN', fail: 'FAIL', skip: 'skip' } as const;

export function renderDoctor(r: DoctorReport): string {
  const rows = r.checks.map((c) => [MARK[c.status], c.side, c.id, c.message + (c.hint && c.status !== 'ok' ? `\n${' '.repeat(0)}    -> ${c.hint}` : '')]);
  const body = table(['status', 'side', 'check', 'result'], rows.map((x) => [x[0]!, x[1]!, x[2]!, x[3]!.split('\n')[0]!]));
  // Hints go on their own indented lines under the table row they belong to.
  const lines = body.split('\n');
  const out: string[] = lines.slice(0, 2);
  r.checks.forEach((c, i) => {
    out.push(lines[i + 2]!);
    if (c.hint && c.status !== 'ok') out.push(`      -> ${c.hint}`);
  });
  const fails = r.checks.filter((c) => c.status === 'fail').length;
  const warns = r.checks.filter((c) => c.status === 'warn').length;
  out.push('', r.ok ? `doctor: ready (${warns} warning(s))` : `doctor: ${fails} problem(s) to fix before migrating, ${warns} warning(s)`);
  return out.join('\n');
}

export function registerDoctor(program: Command): void {
  program
    .command('doctor')
    .description('check both servers and the client tools before anything is touched')
    .option('--source <conn>', 'source connection (URL, key=value, or env:VAR); default $CUTOVER_SOURCE_URL')
    .option('--target <conn>', 'target connection (URL, key=value, or env:VAR); default $CUTOVER_TARGET_URL')
    .option('--headroom <n|pct>', 'connections to keep free for the application on each side', '0')
    .option('--pg-bindir <dir>', 'directory holding pg_dump/pg_restore (default: PATH, /usr/lib/postgresql/*/bin)')
    .option('--copy-only', 'no change capture is planned: tables without a primary key are only a warning')
    .option('--json', 'print the report as JSON')
    .action(async (o: { source?: string; target?: string; headroom: string; pgBindir?: string; copyOnly?: boolean; json?: boolean }) => {
      const warn = (m: string) => process.stderr.write(m + '\n');
      const source = resolveConnArg('source', o.source, 'CUTOVER_SOURCE_URL', warn);
      const target = resolveConnArg('target', o.target, 'CUTOVER_TARGET_URL', warn);
      const report = await doctor({ source, target, headroom: parseHeadroom(o.headroom), binDir: o.pgBindir, copyOnly: o.copyOnly });
      process.stdout.write((o.json ? JSON.stringify(report, null, 2) : renderDoctor(report)) + '\n');
      process.exitCode = report.ok ? EXIT.ok : EXIT.preflight;
    });
}

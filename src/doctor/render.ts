/** The doctor report as a table for people: one row per check, hints indented under failures. */
import { table } from '../lib/format.js';
import type { DoctorReport } from './doctor.js';

const MARK = { ok: 'ok', warn: 'WARN', fail: 'FAIL', skip: 'skip' } as const;

export function renderDoctor(r: DoctorReport): string {
  const rows = r.checks.map((c) => [MARK[c.status], c.side, c.id, c.message + (c.hint && c.status !== 'ok' ? `\n${' '.repeat(0)}    -> ${c.hint}` : '')]);
  const body = table(['status', 'side', 'check', 'result'], rows.map((x) => [x[0]!, x[1]!, x[2]!, x[3]!.split('\n')[0]!]));
  // Hints go on their own indented lines under the table row they belong to.
  const lines = body.split('\n');
  const out: string[] = lines.slice(0, 2);
  r.checks.forEach((c, i) => {
    out.push(lines[i + 2]!);
    // The rest of a message of several lines (a list of roles, tables) under its row, then the hint.
    for (const more of c.message.split('\n').slice(1)) out.push(`      ${more.trim()}`);
    if (c.hint && c.status !== 'ok') out.push(`      -> ${c.hint}`);
  });
  const fails = r.checks.filter((c) => c.status === 'fail').length;
  const warns = r.checks.filter((c) => c.status === 'warn').length;
  out.push('', r.ok ? `doctor: ready (${warns} warning(s))` : `doctor: ${fails} problem(s) to fix before migrating, ${warns} warning(s)`);
  return out.join('\n');
}

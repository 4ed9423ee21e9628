/**
 * What every `--help` ends with: an example and the exit codes (the same table as src/errors.ts EXIT and
 * docs/errors.md).
 */
import type { Command } from 'commander';
import { ACTIONS } from '../runbook/actions/index.js';

/** The hand-written commands' examples; a registry action's is in its module (`cli.example`). */
const EXAMPLES: Record<string, string> = {
  doctor: 'cutover doctor --source env:SOURCE_URL --target env:TARGET_URL\n  cutover doctor runbooks/online-cutover.md --fence triggers',
  check: 'cutover check runbooks/online-cutover.md',
  render: 'cutover render runbooks/online-cutover.md --format html --timings .cutover/rehearsal/summary.json > checklist.html',
  run: 'cutover run runbooks/online-cutover.md | tee night.log        (manual steps are asked on the terminal)\n  cutover run runbooks/online-cutover.md --resume',
  rehearse: 'cutover rehearse runbooks/online-cutover.md --yes',
  budget: 'cutover budget --source env:SOURCE_URL --target env:TARGET_URL',
  demo: 'cutover demo',
  'replicate apply': 'cutover replicate apply --source env:SOURCE_URL --target env:TARGET_URL',
  'replicate status': 'cutover replicate status --source env:SOURCE_URL --target env:TARGET_URL --json',
  'replicate cutover': 'cutover replicate cutover --source env:SOURCE_URL --target env:TARGET_URL --fence triggers --verify incremental --window',
  'replicate rollback': 'cutover replicate rollback --source env:SOURCE_URL --target env:TARGET_URL --verify incremental',
};

const EXIT_CODES = `Exit codes:
  0    done (for verify: identical)
  1    internal error (a bug: rerun with CUTOVER_DEBUG=1)
  2    usage: a bad option, URL or runbook; nothing was changed
  3    connection: unreachable, authentication, no such database, no free slot, TLS
  4    a pre-flight check failed (client tools, privileges, roles, fence, budget); nothing was changed
  5    differences found (verify, or the verify inside a cutover: writes stay fenced)
  6    a step or statement failed
  7    replication halted (a schema change or a row it cannot apply)
  128+n  stopped by signal n (130 SIGINT, 143 SIGTERM, 129 SIGHUP); --resume goes on`;

const exampleOf = (path: string[]): string | undefined => EXAMPLES[path.join(' ')] ?? ACTIONS.get(path.join('-'))?.cli?.example;

/** Adds the example and the exit codes to the help of every command that runs something. */
export function addHelpFooters(program: Command): void {
  const walk = (c: Command, path: string[]) => {
    for (const sub of c.commands) {
      const p = [...path, sub.name()];
      if (sub.commands.length) { walk(sub, p); continue; }
      const example = exampleOf(p);
      sub.addHelpText('after', `\n${example ? `Example:\n  ${example}\n\n` : ''}${EXIT_CODES}\n`);
    }
  };
  walk(program, []);
}

/** Every command that runs something has an example (checked by the tests). */
export function commandsWithoutExample(program: Command): string[] {
  const out: string[] = [];
  const walk = (c: Command, path: string[]) => {
    for (const sub of c.commands) {
      const p = [...path, sub.name()];
      if (sub.commands.length) walk(sub, p);
      else if (!exampleOf(p)) out.push(p.join(' '));
    }
  };
  walk(program, []);
  return out;
}

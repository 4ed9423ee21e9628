/**
 * Every command's --help ends with an example and the exit codes; with --json, a failure is one JSON
 * document on stdout (the exit code unchanged, the message on stderr too, no password anywhere).
 */
import { describe, expect, it } from 'vitest';
import { buildProgram } from '../src/cli/program.js';
import { commandsWithoutExample } from '../src/cli/help.js';
import { cutover } from './helpers/cli.js';
import { freePort } from '../src/testing/cluster.js';

describe('cutover --help', () => {
  it('every command that runs something has an example, and its help ends with the exit codes', async () => {
    for (const cmd of [['verify'], ['copy'], ['run'], ['replicate', 'cutover'], ['doctor'], ['check']]) {
      const r = await cutover([...cmd, '--help']);
      expect(r.code, cmd.join(' ')).toBe(0);
      expect(r.stdout, cmd.join(' ')).toMatch(new RegExp(`Example:\\n  cutover ${cmd.join(' ')} `));
      expect(r.stdout, cmd.join(' ')).toMatch(/Exit codes:\n  0 .*\n(.*\n)*  5 +differences found.*\n(.*\n)*  128\+n +stopped by signal n/);
    }
    // And none is missing one (the list is the CLI's own).
    expect(commandsWithoutExample(buildProgram())).toEqual([]);
  });
});

describe('--json failures', () => {
  it('an unreachable server: exit 3, one JSON document on stdout with code, message and hint, no password', async () => {
    const port = await freePort();
    const r = await cutover(['verify', '--source', 'env:S', '--target', 'env:T', '--json'],
      { S: `postgres://app:Sekrit-77@127.0.0.1:${port}/shop?connect_timeout=2`, T: `postgres://app:Sekrit-77@127.0.0.1:${port}/other?connect_timeout=2` });
    expect(r.code).toBe(3);
    const doc = JSON.parse(r.stdout) as { ok: boolean; code: string; message: string; hint?: string };
    expect(doc).toMatchObject({ ok: false, code: 'E_UNREACHABLE' });
    expect(doc.message).toMatch(/127\.0\.0\.1/);
    expect(typeof doc.hint).toBe('string');
    expect(r.stdout + r.stderr).not.toContain('Sekrit-77');
    expect(r.stderr).toMatch(/^cutover: /);
  });

  it('a bad option with --json: exit 2 and a JSON document', async () => {
    const r = await cutover(['doctor', '--no-such-option', '--json']);
    expect(r.code).toBe(2);
    expect(JSON.parse(r.stdout.trim().split('\n').at(-1)!)).toMatchObject({ ok: false, code: 'E_USAGE', message: expect.stringMatching(/unknown option/) });
  });
});

describe('first mistakes', () => {
  it('an unset env: connection names the variable and how to set it; a bad choice points at --help', async () => {
    const r = await cutover(['copy', '--source', 'env:CUTOVER_TEST_UNSET_VAR', '--target', 'env:CUTOVER_TEST_UNSET_VAR']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^cutover: --source: environment variable CUTOVER_TEST_UNSET_VAR is not set\n  hint: export CUTOVER_TEST_UNSET_VAR=postgres:\/\//);
    const b = await cutover(['replicate', 'cutover', '--fence', 'trigger']);
    expect(b.code).toBe(2);
    expect(b.stderr).toMatch(/argument 'trigger' is invalid\. Allowed choices are triggers, revoke/);
    expect(b.stderr).toMatch(/\(cutover COMMAND --help: the options, an example and the exit codes\)/);
  });
});

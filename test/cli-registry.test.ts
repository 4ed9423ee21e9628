/**
 * The operation commands are generated from the registry (src/cli/from-registry.ts): every key of an
 * action's schema is a flag of its command, the flags the hand-written commands had still work, and a
 * bad value is refused with the same message by `cutover check` (a runbook step) and by the command.
 */
import { describe, expect, it, vi } from 'vitest';
import { Command } from 'commander';
import { z } from 'zod';
import { ACTIONS } from '../src/runbook/actions/index.js';
import { defineAction } from '../src/runbook/actions/types.js';
import { fieldsOf } from '../src/runbook/actions/fields.js';
import { buildProgram } from '../src/cli/program.js';
import { commandPath, flagsForKeys, kebab, registerActionCommands } from '../src/cli/from-registry.js';
import { cutover } from './helpers/cli.js';
import { FRONT, tempRunbook } from './helpers/runbook.js';

const flagsOf = (cmd: Command) => cmd.options.flatMap((o) => [o.long, o.short]).filter((s): s is string => !!s);

describe('commands from the registry', () => {
  const program = buildProgram();
  const withCli = [...ACTIONS.values()].filter((a) => a.cli);

  it('copy, dump, restore, verify, sql-file and replicate start/unfence/teardown/finish are generated; each schema key (and command-only option) is a flag', () => {
    expect(withCli.map((a) => a.name).sort()).toEqual(expect.arrayContaining(['copy', 'dump', 'replicate-finish', 'replicate-start', 'replicate-teardown', 'replicate-unfence', 'restore', 'sql-file', 'verify']));
    for (const a of withCli) {
      const cmd = commandPath(a).reduce<Command | undefined>((c, w) => c?.commands.find((x) => x.name() === w), program);
      expect(cmd, a.name).toBeDefined();
      const flags = flagsOf(cmd!);
      const keys = [...fieldsOf(a.schema), ...(a.cli!.options ? fieldsOf(a.cli!.options) : [])];
      for (const f of keys) {
        const derived = f.kind === 'boolean' && f.default === true ? `--no-${kebab(f.key)}` : `--${kebab(f.key)}`;
        expect(flags, `${a.name}: ${f.key}`).toContain(derived);
      }
      expect(Object.keys(flagsForKeys(a)), a.name).toEqual(fieldsOf(a.schema).map((f) => f.key));
      expect(flags, a.name).toContain('--json');
      expect(a.cli!.example, a.name).toMatch(new RegExp(`^cutover ${commandPath(a).join(' ')} `));
    }
  });

  it('every flag the hand-written commands had still works', () => {
    const before: Record<string, string[]> = {
      copy: ['--source', '--target', '-n', '--schema', '-N', '--exclude-schema', '-t', '--table', '-T', '--exclude-table', '--pg-bindir', '--role-map', '--create-roles',
        '--drop-unmapped-roles', '--json', '--no-privileges', '--apply-settings', '-j', '--jobs', '--index-jobs', '--split-tables-larger-than', '--dir', '--resume'],
      dump: ['--source', '-n', '--schema', '-N', '--exclude-schema', '-t', '--table', '-T', '--exclude-table', '--pg-bindir', '--json', '--dir', '-j', '--jobs', '-Z', '--compress', '--snapshot', '--force'],
      restore: ['--target', '--role-map', '--create-roles', '--drop-unmapped-roles', '--json', '--no-privileges', '--dir', '-j', '--jobs', '--section', '--keep-owner', '--keep-acl', '--skip-extensions', '--pg-bindir'],
      verify: ['--source', '--target', '--json', '--level', '-j', '--jobs', '--table', '--exclude-table', '--role-map', '--chunk-rows', '--max-reported'],
      'replicate start': ['--source', '--json', '-n', '--schema', '-N', '--exclude-schema', '-t', '--table', '-T', '--exclude-table', '--key', '--mode', '--lock-timeout'],
      'replicate finish': ['--source', '--target', '--json'],
      'replicate unfence': ['--source', '--json'],
      'replicate teardown': ['--source', '--target', '--json'],
    };
    for (const [name, list] of Object.entries(before)) {
      const cmd = name.split(' ').reduce<Command | undefined>((c, w) => c?.commands.find((x) => x.name() === w), program);
      const flags = flagsOf(cmd!);
      for (const f of list) expect(flags, `${name} ${f}`).toContain(f);
    }
  });

  it('the command line becomes the options a step would have written: presets, aliases, variadic, records, the CLI\'s own defaults', async () => {
    const seen = vi.fn();
    const fake = defineAction({
      name: 'fake', endpoints: {}, description: 'a test operation',
      schema: z.strictObject({
        jobs: z.union([z.literal('auto'), z.number().int().min(1)]).default('auto'),
        settings: z.enum(['report', 'apply']).default('report'),
        privileges: z.boolean().default(true),
        tables: z.array(z.string()).optional(),
        role_map: z.record(z.string(), z.string()).optional(),
        chunk_rows: z.number().int().min(1).optional(),
      }),
      run: () => Promise.resolve({}),
      cli: {
        description: 'fake', example: 'cutover fake',
        flags: { jobs: { short: 'j', default: 2 }, tables: { flag: 'table', short: 't' }, settings: { presets: [{ flag: 'apply-settings', value: 'apply', help: '' }] } },
        options: z.strictObject({ resume: z.boolean().default(false) }),
        execute: (_ctx, o, x) => { seen(o, x); return Promise.resolve({}); },
        output: () => ({ doc: {}, text: () => '' }),
        doc: z.object({}),
      },
    });
    const run = async (args: string[]) => {
      const p = new Command().exitOverride();
      registerActionCommands(p, { actions: new Map([['fake', fake]]) });
      const out = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
      try { await p.parseAsync(['node', 'cutover', 'fake', ...args]); } finally { out.mockRestore(); }
      return seen.mock.calls.at(-1) as [Record<string, unknown>, Record<string, unknown>];
    };
    expect(await run([])).toEqual([{ jobs: 2, settings: 'report', privileges: true }, { resume: false }]);
    expect(await run(['--apply-settings', '--no-privileges', '-t', 'a.b', 'c', '--role-map', 'x=y', '--role-map', 'u=v', '--chunk-rows', '7', '-j', 'auto', '--resume']))
      .toEqual([{ jobs: 'auto', settings: 'apply', privileges: false, tables: ['a.b', 'c'], role_map: { x: 'y', u: 'v' }, chunk_rows: 7 }, { resume: true }]);
    // The schema's own spelling works beside the one the help shows.
    expect((await run(['--tables', 'z', '--settings', 'apply']))[0]).toMatchObject({ tables: ['z'], settings: 'apply' });
  });
});

describe('a side the command runs without (replicate teardown\'s target)', () => {
  it('is left out when neither the flag nor its variable gives it; resolved when one does', async () => {
    const got = vi.fn();
    const fake = defineAction({
      name: 'fake-two', endpoints: { source: 'write', target: 'write' }, description: 'a test operation', schema: z.strictObject({}),
      run: () => Promise.resolve({}),
      cli: {
        description: 'fake', example: 'cutover fake-two', optionalSides: ['target'],
        execute: (ctx) => { got(ctx.source?.host, ctx.target?.host); return Promise.resolve({}); },
        output: () => ({ doc: {}, text: () => '' }), doc: z.object({}),
      },
    });
    const run = async (args: string[]) => {
      const p = new Command().exitOverride();
      registerActionCommands(p, { actions: new Map([['fake-two', fake]]) });
      const out = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
      try { await p.parseAsync(['node', 'cutover', 'fake-two', ...args]); } finally { out.mockRestore(); }
      return got.mock.calls.at(-1);
    };
    vi.stubEnv('CUTOVER_TARGET_URL', '');
    try {
      expect(await run(['--source', 'postgres://u@src.invalid/db'])).toEqual(['src.invalid', undefined]);
      expect(await run(['--source', 'postgres://u@src.invalid/db', '--target', 'postgres://u@tgt.invalid/db'])).toEqual(['src.invalid', 'tgt.invalid']);
      vi.stubEnv('CUTOVER_TARGET_URL', 'postgres://u@env.invalid/db');
      expect(await run(['--source', 'postgres://u@src.invalid/db'])).toEqual(['src.invalid', 'env.invalid']);
    } finally { vi.unstubAllEnvs(); }
  });
});

describe('the same refusal from a runbook step and from the command', () => {
  // [action, the step's YAML, the command's arguments]
  const cases: [string, string, string[]][] = [
    ['copy', 'jobs: 0', ['-j', '0']],
    ['copy', 'jobs: 65', ['--jobs', '65']],
    ['copy', 'jobs: many', ['-j', 'many']],
    ['dump', 'compress: 12', ['-Z', '12']],
    ['dump', 'compress: fast', ['--compress', 'fast']],
    ['verify', 'chunk_rows: 0', ['--chunk-rows', '0']],
    ['copy', 'index_jobs: 1.5', ['--index-jobs', '1.5']],
    ['copy', 'split_tables_larger_than_mb: -1', ['--split-tables-larger-than', '-1']],
    ['sql-file', 'file: notes.txt\non: target', ['--file', 'notes.txt', '--on', 'target']],
    ['replicate-start', 'lock_timeout_ms: 5', ['--lock-timeout', '5']],
  ];

  it.each(cases)('%s %s', async (action, yaml, args) => {
    const rb = await tempRunbook(`${FRONT}\n# T\n\n## Steps\n\n\`\`\`cutover ${action} {id=s}\n${yaml}\n\`\`\`\n`);
    const check = await cutover(['check', rb.file]);
    expect(check.code).toBe(2);
    const key = yaml.split(':')[0]!;
    const fromRunbook = new RegExp(`runbook\\.md:\\d+: cutover ${action}: ${key}: (.*)`).exec(check.stderr)?.[1];
    expect(fromRunbook, check.stderr).toBeTruthy();

    const cli = await cutover([...action.replace(/^replicate-/, 'replicate ').split(' '), ...args]);
    expect(cli.code).toBe(2);
    const fromCli = /argument '[^']*' is invalid\. (.*)/.exec(cli.stderr)?.[1];
    expect(fromCli, cli.stderr).toBe(fromRunbook);
  });

  it('the whole-number flags keep the hand-written commands\' message', async () => {
    for (const args of [['verify', '--chunk-rows', '0'], ['verify', '--max-reported', 'x'], ['copy', '--index-jobs', '0']]) {
      const r = await cutover(args);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/argument '[^']*' is invalid\. must be a whole number >= 1\n/);
    }
  });
});

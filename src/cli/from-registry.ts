/**
 * The `cutover <action>` commands of the operations registry (src/runbook/actions), generated: each key
 * of the action's schema is a flag (snake_case -> --kebab-case, a boolean --flag or --no-flag by its
 * default, an enum's choices in the help, an array variadic), each value is checked by the key's own
 * schema as it is read (so a bad value gets the runbook's message), and the whole goes through the same
 * `schema.parse` as a runbook step before the action's `execute`. What a command spells differently
 * (a short alias, an older flag name, the CLI's own default) is declared in the action's module.
 */
import { type Command, InvalidArgumentError, Option } from 'commander';
import type { z } from 'zod';
import { ACTIONS } from '../runbook/actions/index.js';
import { type Field, fieldsOf } from '../runbook/actions/fields.js';
import { type Action, type ActionCli, type CliFlag, type CliFlags, type ExecContext, endpointsOf } from '../runbook/actions/types.js';
import { resolveEndpoint } from '../pg/endpoint.js';
import { CutoverError } from '../errors.js';
import { resolveText } from '../lib/progress.js';
import { resolveConnArg } from './connection-args.js';
import { rolesPolicy, withJson, withRoleOptions } from './options.js';
import { printResult } from './json/emit.js';
import { progressLine } from './progress.js';

export const kebab = (key: string): string => key.replace(/_/g, '-');

/** One flag of a command: the commander options that set the key, and how their values become its value. */
interface Flag {
  field: Field;
  main: Option;
  /** Other spellings: the derived name when the help shows another, and presets. */
  alternates: { option: Option; value: (v: unknown) => unknown }[];
  fromArgs?: (values: string[]) => unknown;
}

const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;
// A number where the schema takes one; anything else as given, for the schema to say what is wrong.
const coerce = (f: Field, v: string): unknown => ((f.kind === 'number' || f.kind === 'jobs' || f.numeric) && NUMBER.test(v) ? Number(v) : v);

/** Checks a value by the key's own schema: commander reports the schema's message for the flag. */
function checked(f: Field, value: unknown): unknown {
  const r = f.schema.safeParse(value);
  if (!r.success) throw new InvalidArgumentError(r.error.issues[0]?.message ?? 'invalid value');
  return r.data;
}

function option(f: Field, extra: CliFlag, long: string, hidden: boolean): Option {
  const help = extra.help ?? f.description ?? '';
  const short = extra.short && !hidden ? `-${extra.short}, ` : '';
  if (f.kind === 'boolean') {
    // The flag that changes something: --no-x for what is on unless said otherwise.
    const o = new Option(`${short}--${f.default === true ? 'no-' : ''}${long}`, help);
    return hidden ? o.hideHelp() : o;
  }
  const arg = extra.arg ?? (f.kind === 'number' || f.kind === 'jobs' ? 'n' : f.kind === 'record' ? 'key=value' : f.kind === 'enum' ? 'choice' : 'value');
  const o = new Option(`${short}--${long} <${arg}${f.kind === 'array' ? '...' : ''}>`, help);
  if (f.choices) o.choices(f.choices);
  else if (f.kind === 'array') {
    o.argParser((v: string, prev: unknown) => checked(f, [...(Array.isArray(prev) ? prev : []), coerce(f, v)]));
  } else if (f.kind === 'record') {
    // Repeatable key=value: collected as given; the action's fromArgs (or the first `=`) makes the record.
    o.argParser((v: string, prev: unknown) => [...(Array.isArray(prev) ? prev : []), v]);
  } else o.argParser((v: string) => checked(f, coerce(f, v)));
  const dflt = 'default' in extra ? extra.default : f.default;
  if (dflt !== undefined && !hidden && !extra.required) o.default(dflt);
  if ((extra.required || f.required) && !hidden) o.makeOptionMandatory();
  return hidden ? o.hideHelp() : o;
}

// An action's extras are typed by its own schema's keys; here they are looked up by key name.
const byKey = (extras: CliFlags<z.ZodType> | undefined) => (extras ?? {}) as Record<string, CliFlag | undefined>;

function flagsOf(schema: z.ZodType, extras: CliFlags<z.ZodType> | undefined): Flag[] {
  return fieldsOf(schema).map((field) => {
    const extra = byKey(extras)[field.key] ?? {};
    const derived = kebab(field.key);
    const main = option(field, extra, extra.flag ?? derived, false);
    const alternates: Flag['alternates'] = [];
    // The schema's own spelling always works (a runbook key is a flag), shown or not.
    if (extra.flag && extra.flag !== derived) alternates.push({ option: option(field, extra, derived, true), value: (v) => v });
    for (const p of extra.presets ?? []) alternates.push({ option: new Option(`--${p.flag}`, p.help), value: () => p.value });
    return { field, main, alternates, fromArgs: extra.fromArgs };
  });
}

/** The key's value from the command line: the last spelling given there wins over a default. */
function valueOf(cmd: Command, f: Flag): unknown {
  const opts = cmd.opts<Record<string, unknown>>();
  let v = opts[f.main.attributeName()];
  for (const a of f.alternates) if (cmd.getOptionValueSource(a.option.attributeName()) === 'cli') v = a.value(opts[a.option.attributeName()]);
  if (f.field.kind === 'record' && Array.isArray(v)) {
    const given = v.map(String);
    v = f.fromArgs ? f.fromArgs(given) : Object.fromEntries(given.map((s) => [s.slice(0, Math.max(0, s.indexOf('='))), s.slice(s.indexOf('=') + 1)]));
  }
  return v;
}

/** The options object a runbook step would have written (snake_case), parsed by the same schema. */
function parseFlags(cmd: Command, name: string, schema: z.ZodType, flags: Flag[]): unknown {
  const given: Record<string, unknown> = {};
  for (const f of flags) {
    const v = valueOf(cmd, f);
    if (v !== undefined) given[f.field.key] = v;
  }
  const r = schema.safeParse(given);
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  const key = issue.path.find((p): p is string => typeof p === 'string');
  const flag = flags.find((f) => f.field.key === key)?.main.long;
  throw new CutoverError('E_USAGE', `${name}: ${flag ? `${flag}: ` : ''}${issue.message}`, { hint: `cutover ${name} --help lists its options` });
}

const SIDE_HELP = { source: 'source connection (URL, key=value, or env:VAR); default $CUTOVER_SOURCE_URL', target: 'target connection (URL, key=value, or env:VAR); default $CUTOVER_TARGET_URL' };

const SIDES = ['source', 'target'] as const;

function register(program: Command, a: Action, cli: ActionCli<z.ZodType>): void {
  const cmd = program.command(commandName(a)).description(cli.description);
  // The sides it may use (both when its options say which): a flag each.
  const sides = SIDES.filter((s) => typeof a.endpoints === 'function' || a.endpoints[s]);
  for (const side of sides) cmd.option(`--${side} <conn>`, SIDE_HELP[side]);
  const flags = flagsOf(a.schema, cli.flags);
  const own = cli.options ? flagsOf(cli.options, cli.optionFlags) : [];
  for (const f of [...flags, ...own]) for (const o of [f.main, ...f.alternates.map((x) => x.option)]) cmd.addOption(o);
  if (cli.roles) withRoleOptions(cmd);
  withJson(cmd);
  cmd.action(async () => {
    const o = cmd.opts<{ source?: string; target?: string; json?: boolean; roleMap?: string[]; createRoles?: boolean; dropUnmappedRoles?: boolean }>();
    const options = parseFlags(cmd, a.name, a.schema, flags);
    const x = cli.options ? parseFlags(cmd, a.name, cli.options, own) : {};
    // Only the sides these options use are resolved (and required).
    const uses = endpointsOf(a, options);
    const conn = async (side: 'source' | 'target') => {
      const variable = side === 'source' ? 'CUTOVER_SOURCE_URL' : 'CUTOVER_TARGET_URL';
      if (!sides.includes(side) || !uses[side]) return undefined;
      if (cli.optionalSides?.includes(side) && !o[side] && !process.env[variable]) return undefined;
      return resolveEndpoint(resolveConnArg(side, o[side], variable));
    };
    const source = await conn('source');
    const target = await conn('target');
    const p = progressLine();
    const ctx: ExecContext = {
      stepId: a.name, source, target, headroom: 0, roles: cli.roles ? rolesPolicy(o) : undefined, signal: new AbortController().signal,
      progress: (t) => p.update(() => `${a.name} ${resolveText(t)}`),
      log: (m) => process.stderr.write(`note: ${m}\n`),
    };
    const r = await cli.execute(ctx, options, x).finally(() => p.done());
    const out = cli.output(r, options, x);
    printResult(o.json, cli.doc, out.doc, out.text);
    if (out.exitCode !== undefined) process.exitCode = out.exitCode;
  });
}

/** Its command's words: `replicate start` for replicate-start (a subcommand of `replicate`). */
export const commandPath = (a: Action): string[] => (a.cli?.parent ? [a.cli.parent, a.name.slice(a.cli.parent.length + 1)] : [a.name]);
const commandName = (a: Action) => commandPath(a).at(-1)!;

/**
 * Every registry action that declares a command, in the registry's order: the top-level ones, or with
 * `parent` (`program` being that command) its subcommands.
 */
export function registerActionCommands(program: Command, o: { parent?: string; actions?: ReadonlyMap<string, Action> } = {}): void {
  for (const a of (o.actions ?? ACTIONS).values()) if (a.cli && a.cli.parent === o.parent) register(program, a, a.cli);
}

/** The flags a command reads for each schema key (for the tests: every key is a flag). */
export function flagsForKeys(a: Action): Record<string, string[]> {
  return Object.fromEntries(flagsOf(a.schema, a.cli?.flags)
    .map((f) => [f.field.key, [f.main, ...f.alternates.map((x) => x.option)].flatMap((o) => [o.long, o.short]).filter((s): s is string => !!s)]));
}

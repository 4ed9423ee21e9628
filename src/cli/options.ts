import { InvalidArgumentError } from 'commander';

export function positiveInt(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a whole number >= 1');
  return n;
}

import type { Command } from 'commander';
import { CutoverError } from '../errors.js';
import { parseRoleMapArgs, type RolesPolicy } from '../pg/role-map.js';

const collect = (v: string, prev: string[]) => [...prev, v];

/** --role-map old=new (repeatable), --create-roles, --drop-unmapped-roles. */
export function withRoleOptions(cmd: Command): Command {
  return cmd
    .option('--role-map <old=new>', 'owners and grants of source role "old" go to target role "new" (repeatable)', collect, [] as string[])
    .option('--create-roles', 'create roles missing on the target as NOLOGIN (needs CREATEROLE there)')
    .option('--drop-unmapped-roles', 'leave out the ownership and grants of roles missing on the target');
}

export function rolesPolicy(o: { roleMap?: string[]; createRoles?: boolean; dropUnmappedRoles?: boolean }): RolesPolicy {
  if (o.createRoles && o.dropUnmappedRoles) throw new CutoverError('E_USAGE', '--create-roles and --drop-unmapped-roles exclude each other');
  return { map: parseRoleMapArgs(o.roleMap ?? []), create: o.createRoles ?? false, dropUnmapped: o.dropUnmappedRoles ?? false };
}

/** `--json` as every command spells it. */
export function withJson(cmd: Command): Command {
  return cmd.option('--json', 'print one JSON document on stdout (shapes: docs/json.md); progress and notes go to stderr');
}

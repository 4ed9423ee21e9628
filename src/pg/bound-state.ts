/**
 * State bound to its databases: journals (run, copy, dump/restore) record the identity of the databases
 * they describe (src/pg/identity.ts) and refuse to continue against any other, naming both, before
 * anything is touched.
 */
import { CutoverError } from '../errors.js';
import type { ConnParams } from './conninfo.js';
import { withClient } from './connect.js';
import { bindingOf, databaseIdentity, describeBinding, sameBinding, type DbBinding } from './identity.js';

export interface Bindings { source: DbBinding; target: DbBinding }

export async function readBinding(p: ConnParams, step = 'identity'): Promise<DbBinding> {
  return withClient(p, step, async (c) => bindingOf(await databaseIdentity(c, p)));
}

export async function readBindings(source: ConnParams, target: ConnParams): Promise<Bindings> {
  const [s, t] = await Promise.all([readBinding(source), readBinding(target)]);
  return { source: s, target: t };
}

/** Throws, naming both, when `now` is not the pair of databases `recorded` describes. */
export function refuseOtherDatabases(recorded: Partial<Bindings>, now: Bindings, what: string, hint: string): void {
  const wrong = (['source', 'target'] as const).filter((side) => recorded[side] && !sameBinding(recorded[side]!, now[side]));
  if (!wrong.length) return;
  throw new CutoverError('E_USAGE', `${what} describes other database(s) than the ones given now; nothing was changed:\n` +
    wrong.map((side) => `  ${side}: the journal is for ${describeBinding(recorded[side]!)}\n  ${' '.repeat(side.length)}  now given: ${describeBinding(now[side])}`).join('\n'), {
    hint, details: { sides: wrong },
  });
}

/**
 * State bound to its databases: journals (run, copy, dump/restore) record the identity of the databases
 * they describe (src/pg/identity.ts) and refuse to continue against any other, naming both, before
 * anything is touched.
 */
import { CutoverError } from '../errors.js';
import { withClient } from './connect.js';
import { bindingOf, databaseIdentity, describeBinding, sameBinding, type DbBinding } from './identity.js';
import type { Endpoint } from './endpoint.js';

export interface Bindings { source: DbBinding; target: DbBinding }

export async function readBinding(p: Endpoint, step = 'identity'): Promise<DbBinding> {
  return withClient(p, step, async (c) => bindingOf(await databaseIdentity(c, p)));
}

/**
 * Both identities, each if it can be read: a side that does not answer (wrong password, unreachable) is
 * left out, and `errors` says why, for a caller that lets a later check report it with the others.
 */
export async function readBindingsLenient(source: Endpoint, target: Endpoint): Promise<Partial<Bindings> & { errors: { source?: unknown; target?: unknown } }> {
  const [s, t] = await Promise.allSettled([readBinding(source), readBinding(target)]);
  return {
    source: s.status === 'fulfilled' ? s.value : undefined, target: t.status === 'fulfilled' ? t.value : undefined,
    errors: { source: s.status === 'rejected' ? s.reason : undefined, target: t.status === 'rejected' ? t.reason : undefined },
  };
}

export async function readBindings(source: Endpoint, target: Endpoint): Promise<Bindings> {
  const [s, t] = await Promise.all([readBinding(source), readBinding(target)]);
  return { source: s, target: t };
}

/** Throws, naming both, when `now` is not the pair of databases `recorded` describes. */
export function refuseOtherDatabases(recorded: Partial<Bindings>, now: Partial<Bindings>, what: string, hint: string): void {
  // A side that cannot be identified now (it does not answer) is refused by whatever connects to it next.
  const wrong = (['source', 'target'] as const).filter((side) => recorded[side] && now[side] && !sameBinding(recorded[side]!, now[side]!));
  if (!wrong.length) return;
  throw new CutoverError('E_USAGE', `${what} describes other database(s) than the ones given now; nothing was changed:\n` +
    wrong.map((side) => `  ${side}: the journal is for ${describeBinding(recorded[side]!)}\n  ${' '.repeat(side.length)}  now given: ${describeBinding(now[side]!)}`).join('\n'), {
    hint, details: { sides: wrong },
  });
}

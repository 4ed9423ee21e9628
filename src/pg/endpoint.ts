/**
 * An endpoint: connection parameters whose credentials are resolved (the password from the connection
 * string, PGPASSWORD, or the password file: `passfile`, PGPASSFILE, ~/.pgpass). It is the only form that
 * opens a connection (`connect`, `withClient`) or starts a client tool (`runTool`, `childCredentials`),
 * and `resolveEndpoint` is the only function that makes one: an engine resolves what it was given once,
 * at its entry, and passes endpoints on.
 */
import type { ConnParams } from './conninfo.js';
import { withPgpass } from './pgpass.js';

declare const resolvedBrand: unique symbol;
export type Endpoint = ConnParams & { readonly [resolvedBrand]: true };

const resolved = new WeakSet<object>();

export async function resolveEndpoint(p: ConnParams | Endpoint): Promise<Endpoint> {
  if (resolved.has(p)) return p as Endpoint;
  const e = (await withPgpass(p)) as Endpoint;
  // A copy: the caller's object stays what it was.
  const out = (e === p ? { ...e } : e) as Endpoint;
  resolved.add(out);
  return out;
}

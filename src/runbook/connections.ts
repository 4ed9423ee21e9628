/** Resolves the runbook's connection references (env var names or password-less URLs) for a mode. */
import { CutoverError } from '../errors.js';
import { type ConnParams, envNotSet, parseConnString } from '../pg/conninfo.js';
import { resolveEndpoint } from '../pg/endpoint.js';
import type { ConnectionRef, Runbook } from './model.js';
import type { Endpoint } from '../pg/endpoint.js';

export type Mode = 'run' | 'rehearse';

function resolveRef(ref: ConnectionRef, label: string, env: NodeJS.ProcessEnv): ConnParams {
  if (ref.env) {
    const v = env[ref.env];
    if (!v) throw envNotSet(label, ref.env);
    return parseConnString(v, { env });
  }
  return parseConnString(ref.url!, { env });
}

/** The run's endpoints, credentials resolved: the two databases, the pooler if any, and the named others. */
export interface RunEndpoints { source: Endpoint; target: Endpoint; pooler?: Endpoint; named: Record<string, Endpoint> }

export async function resolveConnections(rb: Runbook, mode: Mode, env: NodeJS.ProcessEnv = process.env): Promise<RunEndpoints> {
  const refs = mode === 'rehearse' ? rb.front.connections.rehearsal : rb.front.connections;
  if (!refs) {
    throw new CutoverError('E_RUNBOOK', `${rb.file}: no connections.rehearsal in the front matter`, {
      hint: 'add connections: rehearsal: { source: env:REHEARSAL_SOURCE_URL, target: env:REHEARSAL_TARGET_URL }',
    });
  }
  const prefix = mode === 'rehearse' ? 'connections.rehearsal' : 'connections';
  return {
    source: await resolveEndpoint(resolveRef(refs.source, `${prefix}.source`, env)),
    target: await resolveEndpoint(resolveRef(refs.target, `${prefix}.target`, env)),
    pooler: refs.pooler ? await resolveEndpoint(resolveRef(refs.pooler, `${prefix}.pooler`, env)) : undefined,
    named: Object.fromEntries(await Promise.all(Object.entries(refs.named).map(async ([k, ref]) => [k, await resolveEndpoint(resolveRef(ref, `${prefix}.${k}`, env))] as const))),
  };
}

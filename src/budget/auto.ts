/**
 * `jobs: auto`: the largest parallelism whose connections fit what each side has available
 * (capacity.ts), given how many connections an action opens per job. Refuses with the numbers when even
 * one job does not fit.
 */
import { CutoverError } from '../errors.js';
import { type Capacity, describeCapacity } from './capacity.js';

export interface Demand {
  /** Connections on each side for `jobs` parallel workers. */
  source: (jobs: number) => number;
  target: (jobs: number) => number;
}

/**
 * The streaming copy: source = snapshot leader + one per table job + pg_dump --schema-only at the start;
 * target = table jobs + index jobs at once (closed before post-data, whose pg_restore opens max(2, I)).
 */
export function copyDemand(jobs: number, indexJobs: number): { source: number; target: number } {
  return { source: jobs + 2, target: Math.max(jobs + indexJobs, 2) };
}

export const DEMANDS = {
  // pg_dump -j N opens N+1 source connections.
  dump: { source: (j: number) => j + 1, target: () => 0 },
  // pg_restore -j M peaks at M target connections (the leader closes its own first); cutover uses M >= 2.
  restore: { source: () => 0, target: (j: number) => Math.max(2, j) },
  copy: { source: (j: number) => copyDemand(j, j).source, target: (j: number) => copyDemand(j, j).target },
  // verify: one snapshot leader + one worker per job, on each side.
  verify: { source: (j: number) => j + 1, target: (j: number) => j + 1 },
  // replicate-cutover: the applier's session on each side, plus verify's (leader + jobs) after the drain.
  'replicate-cutover': { source: (j: number) => j + 2, target: (j: number) => j + 2 },
} satisfies Record<string, Demand>;

export const MAX_AUTO_JOBS = 8;

export function autoJobs(action: string, demand: Demand, source: Capacity | undefined, target: Capacity | undefined, max = MAX_AUTO_JOBS): number {
  let best = 0;
  for (let j = 1; j <= max; j++) {
    const fitsS = !source || demand.source(j) <= source.available;
    const fitsT = !target || demand.target(j) <= target.available;
    if (fitsS && fitsT) best = j; else break;
  }
  if (best === 0) {
    const need = `one job needs ${demand.source(1)} source and ${demand.target(1)} target connection(s)`;
    const have = `source ${source ? describeCapacity(source) : 'not used'}; target ${target ? describeCapacity(target) : 'not used'}`;
    throw new CutoverError('E_BUDGET', `${action}: not enough connections: ${need}; ${have}`, {
      hint: 'free connections (stop clients), lower the runbook headroom, or raise max_connections / the role or database limit',
    });
  }
  return best;
}

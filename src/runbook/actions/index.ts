/** The registry: every operation a `cutover <action>` block can run (one module each, see types.ts). */
import { type Action, endpointsOf } from './types.js';
import type { Step } from '../model.js';
import { copyAction } from './copy.js';
import { dumpAction, restoreAction } from './dump-restore.js';
import { verifyAction } from './verify.js';
import { sqlFileAction } from './sql-file.js';
import { budgetAction, doctorAction, waitForAction } from './checks.js';
import { replicateCatchUpAction, replicateCutoverAction, replicateFinishAction, replicateRollbackAction, replicateStartAction, replicateTeardownAction, replicateUnfenceAction } from './replicate.js';

export const ACTIONS: ReadonlyMap<string, Action> = new Map<string, Action>(
  [doctorAction, budgetAction, dumpAction, restoreAction, copyAction, verifyAction, waitForAction, sqlFileAction,
    replicateStartAction, replicateCatchUpAction, replicateCutoverAction, replicateUnfenceAction, replicateTeardownAction,
    replicateRollbackAction, replicateFinishAction].map((a) => [a.name, a as unknown as Action]),
);
export type { Action, ActionContext, StepOutputs } from './types.js';

/** The endpoints a step names: a sql step's `on`, an action's (from the registry, with its options). */
export function stepEndpoints(s: Pick<Step, 'kind' | 'on' | 'action' | 'options'>): string[] {
  if (s.kind === 'sql') return [s.on ?? 'source'];
  const a = s.kind === 'action' ? ACTIONS.get(s.action ?? '') : undefined;
  return a ? Object.keys(endpointsOf(a, s.options)) : [];
}

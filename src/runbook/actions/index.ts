/** The registry: every operation a `cutover <action>` block can run (one module each, see types.ts). */
import type { Action } from './types.js';
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

/** `--json` documents of the `replicate` commands. */
import { z } from 'zod';
import { CAPTURE_MODES } from '../replicate/capture.js';
import { CUTOVER_VERIFY, FENCES } from '../replicate/cutover.js';
import { int, ms, signal, success, withFailure } from './base.js';

const str = z.string();
const direction = z.enum(['forward', 'reverse']).describe('forward: source to target; reverse: the rollback window, target to the old source');

export const StartDoc = success({
  tables: z.array(z.strictObject({ schema: str, name: str, key: z.array(str), keySource: str.describe('"primary key", or the index --key named') })),
  mode: z.enum(CAPTURE_MODES), durationMs: ms, lockRetries: int,
  removed: z.array(str).describe('tables captured before and no longer selected'),
});

export const ApplyDoc = withFailure({
  direction, batches: int, events: int, upserted: int, deleted: int,
  lagMs: ms.describe('the last batch\'s lag'),
  stoppedBy: signal.optional().describe('the signal that ended it (exit 128 + its number)'),
}, ['E_INTERRUPTED']);

export const StatusDoc = withFailure({
  installed: z.boolean(), direction,
  mode: str.optional(), tables: int.optional(), startSnapshot: str.nullable().optional(), fenced: int.optional().describe('tables fenced on the capturing side'),
  applied: z.strictObject({
    tick: str, tickAt: str, appliedAt: str, batches: int, events: int, upserted: int, deleted: int,
    halted: str.nullable().describe('why replication halted (exit 7)'),
  }).optional(),
  pendingEvents: int.optional(), loggedEvents: int.optional(), logBytes: int.optional(), lagMs: ms.optional(),
  window: z.strictObject({ openedAt: str, openMs: ms, capturedEvents: int, eventsPerSecond: z.number(), oldSourceFenced: int }).optional(),
}, ['E_HALTED']);

const switched = {
  fence: z.enum(FENCES), fencedAt: str, outageMs: ms.describe('fence to verified: the time the application could not write'),
  phases: z.array(z.strictObject({ phase: str, durationMs: ms, outage: z.boolean().describe('inside the write outage: from the fence (or the pooler\'s pause) to the switch') })),
  revoked: int, fencedTables: int, drainedEvents: int, sequences: int, triggersRestored: int,
  pause: z.strictObject({ pausedMs: ms, maxClientWaitMs: ms, waitingClients: int, entry: str, repointed: str }).optional().describe('--fence pooler'),
  verify: z.strictObject({
    level: z.enum(CUTOVER_VERIFY).exclude(['none']),
    ok: z.boolean(), tables: int, rows: int, trustedRows: int.optional().describe('incremental: verified before the fence and unchanged since'),
  }).optional(),
};
const Unfenced = z.strictObject({ tables: int, privileges: int, roles: int, statements: z.array(str) });

export const CutoverDoc = success({
  ...switched,
  window: z.strictObject({ tables: int, leftOut: z.array(str), startSnapshot: str, durationMs: ms, already: z.boolean() }).optional().describe('--window'),
});

export const RollbackDoc = success({
  ...switched, unfenced: Unfenced,
  already: z.boolean().describe('rolled back before: nothing else done (the other fields are zero)'),
});

const Teardown = z.strictObject({ triggersDropped: int, sourceSchema: z.boolean(), targetSchema: z.boolean(), targetTriggersRestored: int, fenceStatements: z.array(str) });
export const TeardownDoc = success(Teardown.shape);
export const FinishDoc = success({ target: Teardown, constraints: int, oldSourceFenced: z.boolean(), fenceStatements: z.array(str) });
export const UnfenceDoc = success(Unfenced.shape);

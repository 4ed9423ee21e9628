/** `--json` documents of doctor, budget, verify, copy, dump and restore. */
import { z } from 'zod';
import { VERIFY_LEVELS } from '../verify/verify.js';
import { SECTIONS } from '../dump/restore.js';
import { int, ms, success, withFailure } from './base.js';

const str = z.string();
const nullableInt = int.nullable();

export const Capacity = z.strictObject({
  maxConnections: int, reservedSlots: int,
  inUse: int.describe('client sessions now, the probing one excluded'),
  ours: int.describe('of which cutover\'s own'),
  headroom: int,
  available: int.describe('connections cutover may open now'),
  mayHold: int.describe('all connections cutover may hold at once'),
  limitedBy: z.enum(['server', 'role', 'database']),
  roleLimit: nullableInt, databaseLimit: nullableInt,
});

const Check = z.strictObject({
  id: str, side: z.enum(['source', 'target', 'client', 'pooler']), status: z.enum(['ok', 'warn', 'fail', 'skip']), message: str, hint: str.optional(),
});
const DoctorSide = z.strictObject({
  connection: str.describe('the connection, password shown as ****'),
  version: str.optional(), major: int.optional(), role: str.optional(), superuser: z.boolean().optional(),
  capacity: Capacity.optional(), tables: int.optional(), bytes: int.optional(),
});
export const DoctorDoc = withFailure({ checks: z.array(Check), source: DoctorSide, target: DoctorSide }, ['E_PREFLIGHT']);

const BudgetSide = z.strictObject({ cap: Capacity, apps: z.array(z.strictObject({ app: str, n: int })).describe('client sessions by application_name') });
export const BudgetDoc = success({
  source: BudgetSide, target: BudgetSide,
  plan: z.array(z.strictObject({
    action: str, jobs: int.describe('0: does not fit'), source: int, target: int, error: str.optional(),
  })).describe('the parallelism each action would get now (jobs: auto) and the connections it would open'),
});

const RowDifference = z.strictObject({
  kind: z.enum(['missing on target', 'extra on target', 'changed']),
  key: z.record(str, str.nullable()).nullable().describe('primary key values as text; null for a table without a key'),
  columns: z.array(str).optional(), row: str.optional(), count: int.optional(),
});
const TableResult = z.strictObject({
  schema: str, name: str, kind: z.enum(['table', 'materialized view']).optional(),
  sourceRows: int, targetRows: int, status: z.enum(['same', 'differs', 'stale on source']), chunks: int,
  differenceCount: int, differences: z.array(RowDifference).describe('the first --max-reported of them'), note: str.optional(), durationMs: ms,
});
const sides = z.enum(['missing on target', 'extra on target']);
const seqValue = z.strictObject({ lastValue: str, isCalled: z.boolean() }).nullable();
export const VerifyDoc = withFailure({
  level: z.enum(VERIFY_LEVELS), jobs: int, durationMs: ms,
  tables: z.array(TableResult),
  missingTables: z.array(z.strictObject({ schema: str, name: str, side: z.enum(['target', 'source']).describe('the side it is missing on') })),
  matviews: z.array(z.strictObject({
    schema: str, name: str, source: z.boolean().nullable(), target: z.boolean().nullable(),
    status: z.enum(['same', 'not populated on target', 'populated on target only', 'missing on target', 'extra on target']),
  })),
  largeObjects: z.strictObject({
    sourceCount: int, targetCount: int, contentCompared: z.boolean(),
    differences: z.array(z.strictObject({ oid: str, change: z.enum(['missing on target', 'extra on target', 'differs']), parts: z.array(z.enum(['owner', 'acl', 'comment', 'content'])).optional() })),
  }),
  sequences: z.array(z.strictObject({
    schema: str, name: str, ownedBy: str, source: seqValue, target: seqValue,
    status: z.enum(['same', 'behind on target', 'ahead on target', 'missing on target', 'extra on target', 'advanced on source in the fence']),
  })).optional(),
  schema: z.array(z.strictObject({ kind: str, name: str, change: z.enum(['missing on target', 'extra on target', 'differs']), source: str.optional(), target: str.optional() })).optional(),
  privileges: z.strictObject({ compared: int, differences: z.array(z.strictObject({ object: str, entry: str, change: sides })) }).optional(),
  notes: z.array(str),
  summary: z.strictObject({
    tables: int, rows: int, tablesDiffering: int, rowDifferences: int, matviews: int, matviewDifferences: int,
    largeObjects: int, largeObjectDifferences: int, sequences: int, sequencesBehind: int,
    schemaObjects: int, schemaDifferences: int, privileges: int, privilegeDifferences: int,
  }),
}, ['E_DIFFERENCE']);

const grantors = z.strictObject({ kept: int, asOwner: int }).describe('grants a non-owner made on the source: made by that grantor, or as the owner\'s');
export const CopyDoc = success({
  resumed: z.boolean(), snapshot: str, newSnapshotOnResume: z.boolean(), durationMs: ms,
  phases: z.array(z.strictObject({ phase: str, side: z.enum(['source', 'target', 'both']), durationMs: ms, skipped: z.boolean().optional(), concurrency: int })),
  tables: z.array(z.strictObject({ table: str, rows: int, bytes: int, durationMs: ms, parts: int, skipped: z.boolean().describe('copied before a resume') })),
  indexes: int, largeObjects: int, sequences: int,
  matviews: z.strictObject({ refreshed: int, unpopulated: int }),
  privileges: z.strictObject({ owners: int, grants: int, defaultPrivileges: int, policies: int, rolesCreated: z.array(str), skipped: int, notes: z.array(str), grantors }).optional()
    .describe('absent with --no-privileges'),
  settings: z.strictObject({ found: int, applied: z.boolean() }).optional(),
  connections: z.strictObject({ source: int, target: int }).describe('peak connections'),
});

export const DumpDoc = success({
  dir: str, skipped: z.boolean().describe('the directory held a complete dump made with these options'), durationMs: ms,
  tables: int, bytesOnDisk: int, pgDumpVersion: str, jobs: int,
  finishedAt: str.describe('when pg_dump finished: for a skipped dump, the moment its data is of'),
});

export const WaitForDoc = success({
  on: str.describe('the endpoint polled'), checks: int.describe('times the condition was read (the last one true)'), durationMs: ms,
});

export const SqlFileDoc = success({
  file: str.describe('the file as shown (relative to the current directory)'), on: str.describe('the endpoint it ran on: source or target (a runbook step may name others)'),
  statements: int.describe('statements in the file (an estimate: the text split at semicolons)'), durationMs: ms,
});

export const RestoreDoc = success({
  sections: z.array(z.strictObject({ section: z.enum(SECTIONS), durationMs: ms, skipped: z.boolean(), items: int })),
  tables: int.describe('tables whose rows the dump holds (TABLE DATA entries restored or already there)'),
  durationMs: ms, jobs: int,
  dropped: z.array(str).describe('archive entries left out because they fail on managed targets'),
  privileges: z.strictObject({ owners: int, grants: int, defaultPrivileges: int, policies: int, rolesCreated: z.array(str), skipped: int, notes: z.array(str), grantors }).optional(),
});

/** `--json` documents of check, render, run, rehearse and demo. */
import { z } from 'zod';
import { ERROR_CODE_LIST, int, ms, signal, success, withFailure } from './base.js';

const str = z.string();
const outcome = z.enum(['ok', 'failed', 'interrupted', 'skipped']);
const kind = z.enum(['manual', 'sql', 'sh', 'action']);

const ConnRef = z.strictObject({ env: str.optional().describe('environment variable holding it'), url: str.optional().describe('written in the runbook (never with a password)') });
const Outage = z.strictObject({
  projectedMs: ms.describe('from the (est. ...) notes, or the timings'), budgetMs: ms.optional(), withinBudget: z.boolean().optional(),
  criticalPath: z.array(str).describe('step ids between the writes-stopped and writes-resumed markers, parallel groups by their longest'),
});

export const CheckDoc = z.discriminatedUnion('ok', [
  success({
    runbook: str, name: str, phases: z.array(str),
    connections: z.strictObject({
      source: ConnRef, target: ConnRef, pooler: ConnRef.optional(),
      named: z.record(str, ConnRef).optional().describe('endpoints the steps use by name (sql {on=NAME}, sql-file on:, NAME_URL in sh)'),
      rehearsal: z.strictObject({ source: ConnRef, target: ConnRef, pooler: ConnRef.optional(), named: z.record(str, ConnRef).optional() }).optional(),
    }),
    steps: z.array(z.strictObject({
      id: str, line: int, phase: str, rollback: z.boolean(), kind, action: str.optional(), on: str.optional().describe('sql steps: the endpoint (source, target or a named one)'),
      parallel: str.optional(), estimateMs: ms.optional(), title: str,
    })),
    markers: z.array(z.strictObject({ kind: z.enum(['writes-stopped', 'writes-resumed']), line: int, phase: str })),
    outage: Outage,
  }),
  z.strictObject({
    ok: z.literal(false), code: z.literal('E_RUNBOOK'), message: str, hint: str.optional(),
    problems: z.array(z.strictObject({ file: str, line: int, message: str })).describe('every problem found, as FILE:LINE: message says'),
  }),
]);

export const RenderDoc = success({
  format: z.enum(['md', 'html']),
  timings: str.nullable().describe('the summary.json whose durations the checklist shows'),
  output: str.optional().describe('the file written (--output)'),
  text: str.optional().describe('the checklist itself, without --output'),
});

const StepResult = z.strictObject({
  id: str, title: str, phase: str, kind, action: str.optional(), side: z.enum(['source', 'target', 'both', 'none']),
  startMs: int.describe('ms since the run started'), durationMs: ms, outcome,
  simulated: z.boolean().optional().describe('an auto-confirmed manual step: its stated duration, not measured'),
  rows: int.optional(), bytes: int.optional(), summary: str.optional(),
  writeOutageMs: ms.optional().describe('a replicate-cutover step: fence to verified'),
});

export const RunDoc = withFailure({
  mode: z.enum(['run', 'rehearse']), runbook: str, name: str,
  outcome, rolledBack: z.boolean(), signal: signal.optional(),
  stateDir: str.describe('journal, logs and summary.json'), summary: str.describe('summary.json: every step\'s timing and the connection peaks'),
  reports: z.array(str).optional().describe('rehearse: report.md, report.html and the timeline'),
  startedAt: str, endedAt: str, durationMs: ms,
  outage: Outage.extend({ measuredMs: ms.optional().describe('the steps between the markers, as they ran') }),
  steps: z.array(StepResult),
}, ERROR_CODE_LIST);

export const DemoDoc = withFailure({
  outDir: str, sourceVersion: int, targetVersion: int, rows: int, writers: int,
  outcome, durationMs: ms.describe('the rehearsal, without the manual steps\' stated durations'),
  writeOutageMs: ms.nullable().describe('measured: fence to verified'),
  applicationCommits: int.describe('the application\'s transactions on the source before the fence'),
  verify: str.nullable().describe('the verify inside the fence, as reported'),
  rollback: z.strictObject({ outageMs: ms, drainedEvents: int, verify: str.nullable() }).nullable().describe('the rollback window rehearsed'),
  files: z.strictObject({ summary: str, markdown: str, report: str, timeline: str, checklist: str }),
}, ERROR_CODE_LIST);

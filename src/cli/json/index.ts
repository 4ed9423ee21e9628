/**
 * Every command's `--json` document, by command: the one definition the commands build their documents
 * from, docs/json.md is generated from (scripts/json-docs.ts) and the tests validate output against.
 */
import type { z } from 'zod';
import { BudgetDoc, CopyDoc, DoctorDoc, DumpDoc, RestoreDoc, SqlFileDoc, VerifyDoc, WaitForDoc } from '../../json/shapes-engines.js';
import { CheckDoc, DemoDoc, RenderDoc, RunDoc } from '../../json/shapes-runbook.js';
import { ApplyDoc, CutoverDoc, FinishDoc, RollbackDoc, StartDoc, StatusDoc, TeardownDoc, UnfenceDoc } from '../../json/shapes-replicate.js';

export { ErrorDoc } from '../../json/base.js';

export interface JsonCommand { shape: z.ZodType; about: string }

export const JSON_COMMANDS = {
  doctor: { shape: DoctorDoc, about: 'Every check, and what was found on each side. `ok: false` (exit 4, `E_PREFLIGHT`) when a check failed.' },
  check: { shape: CheckDoc, about: 'The plan: steps, markers, connections (environment variable names, never a password) and the outage projected from the `(est. ...)` notes. A runbook with problems: `ok: false`, `E_RUNBOOK`, exit 2, every problem in `problems`.' },
  render: { shape: RenderDoc, about: 'The checklist in `text`, or with `--output` the file written.' },
  run: { shape: RunDoc, about: 'The run: its outcome, every step\'s timing and outcome, the outage, where the journal is. A failed step: `ok: false` with the step\'s error (its code; exit 6 or the code\'s); a signal: `E_INTERRUPTED`, exit 128 + its number. The task list goes to stderr.' },
  rehearse: { shape: RunDoc, about: 'As `run`, with `mode: "rehearse"` and the report files in `reports`.' },
  copy: { shape: CopyDoc, about: 'The copy\'s phases, tables, counts and peak connections.' },
  dump: { shape: DumpDoc, about: 'What pg_dump wrote, or `skipped` when the directory already held a complete dump made with these options.' },
  restore: { shape: RestoreDoc, about: 'pg_restore section by section, entries left out, owners and grants applied.' },
  'wait-for': { shape: WaitForDoc, about: 'The condition held: on which side, after how many checks. Still false at the timeout: the error document, `E_SQL`, exit 6, naming its last value.' },
  'sql-file': { shape: SqlFileDoc, about: 'The file run, on which side. A failing statement: the error document, `E_SQL`, exit 6, its message naming the file\'s FILE:LINE; nothing of the file was committed.' },
  budget: { shape: BudgetDoc, about: 'Connections on each side and the parallelism each action would get.' },
  verify: { shape: VerifyDoc, about: 'Everything compared, part by part. `ok: false` (exit 5, `E_DIFFERENCE`) when anything differs; the message is the summary line.' },
  demo: { shape: DemoDoc, about: 'What the demo measured and the files it wrote. Its narration and the task list go to stderr.' },
  'replicate start': { shape: StartDoc, about: 'The tables captured and the key each is replicated by.' },
  'replicate apply': { shape: ApplyDoc, about: 'What was applied. Stopped by a signal (how a follow ends): `ok: false`, `E_INTERRUPTED`, exit 128 + its number, with the totals.' },
  'replicate status': { shape: StatusDoc, about: 'What is captured and how far the target is. Halted replication: `ok: false`, `E_HALTED`, exit 7.' },
  'replicate cutover': { shape: CutoverDoc, about: 'The write outage phase by phase, the verify inside the fence, the pooler\'s pause and the rollback window when asked for.' },
  'replicate rollback': { shape: RollbackDoc, about: 'As `replicate cutover`, the other way, and what was lifted from the old source (`unfenced`).' },
  'replicate finish': { shape: FinishDoc, about: 'What ending the rollback window removed.' },
  'replicate unfence': { shape: UnfenceDoc, about: 'What was lifted, and the statements that did it.' },
  'replicate teardown': { shape: TeardownDoc, about: 'What teardown removed.' },
} satisfies Record<string, JsonCommand>;

export type JsonCommandName = keyof typeof JSON_COMMANDS;
/** A document of `command`, as its schema's input type (examples, tests). */
export type JsonDocument<C extends JsonCommandName> = z.input<(typeof JSON_COMMANDS)[C]['shape']>;

/**
 * The run journal: one JSON line per event in the state directory (run start/end, step start/end with
 * the step's content hash and key outputs). `cutover run --resume` reads it to skip finished steps and
 * to refuse when a finished step's text changed. Single small appends survive a kill (at worst a torn
 * last line, ignored).
 */
import { appendFile, mkdir, readFile, rename } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { StepOutputs } from './actions/index.js';
import type { DbBinding } from '../pg/identity.js';

export type Outcome = 'ok' | 'failed' | 'interrupted' | 'skipped';

export type JournalEvent =
  // source/target: the databases this journal describes (a resume elsewhere is refused); tag: the run's
  // session tag, to end what it left running if it is killed.
  | { event: 'run-start'; at: string; mode: string; runbook: string; pid: number; source?: DbBinding; target?: DbBinding; tag?: string }
  | { event: 'run-end'; at: string; outcome: Outcome; signal?: string }
  | { event: 'step-start'; at: string; id: string; hash: string }
  | { event: 'step-end'; at: string; id: string; hash: string; outcome: Outcome; startedAt: string; durationMs: number; simulated?: boolean; outputs?: StepOutputs; error?: string;
      /** The step's whole output (notes, every line of an sh step, progress every 10 s), relative to the state directory. */
      log?: string }
  | { event: 'warning'; at: string; id: string; message: string };

export class RunJournal {
  readonly events: JournalEvent[] = [];
  private closed = false;
  private constructor(readonly dir: string) {}

  get file(): string { return join(this.dir, 'journal.jsonl'); }

  static async open(dir: string): Promise<RunJournal> {
    await mkdir(dir, { recursive: true });
    const j = new RunJournal(dir);
    if (existsSync(j.file)) {
      for (const line of (await readFile(j.file, 'utf8')).split('\n')) {
        if (!line.trim()) continue;
        try { j.events.push(JSON.parse(line) as JournalEvent); } catch { /* torn last line */ }
      }
    }
    return j;
  }

  async append(e: JournalEvent): Promise<void> {
    if (this.closed) return;
    this.events.push(e);
    await appendFile(this.file, JSON.stringify(e) + '\n');
  }

  /** Ends the journal: a run stopped at once records nothing after its end (its steps may still be unwinding). */
  close(): void { this.closed = true; }

  /** Moves the journal aside (for --fresh), keeping it for the record. */
  async archive(): Promise<void> {
    if (existsSync(this.file)) await rename(this.file, join(this.dir, `journal.${new Date().toISOString().replace(/[:.]/g, '-')}.jsonl`));
    this.events.length = 0;
  }

  get started(): boolean { return this.events.some((e) => e.event === 'run-start'); }

  /** The last run's start. */
  get lastStart(): Extract<JournalEvent, { event: 'run-start' }> | undefined {
    return this.events.filter((e): e is Extract<JournalEvent, { event: 'run-start' }> => e.event === 'run-start').at(-1);
  }

  /** The databases the journal describes (each side from the latest run that could identify it). */
  get bindings(): { source?: DbBinding; target?: DbBinding } {
    const starts = this.events.filter((e): e is Extract<JournalEvent, { event: 'run-start' }> => e.event === 'run-start');
    return { source: starts.filter((e) => e.source).at(-1)?.source, target: starts.filter((e) => e.target).at(-1)?.target };
  }

  /** The last run's end, if it ended. */
  get lastEnd(): Extract<JournalEvent, { event: 'run-end' }> | undefined {
    const lastStart = this.events.map((e) => e.event).lastIndexOf('run-start');
    return this.events.slice(lastStart).find((e): e is Extract<JournalEvent, { event: 'run-end' }> => e.event === 'run-end');
  }

  /** Ids of every step that started, in any run this journal records. */
  startedSteps(): Set<string> {
    return new Set(this.events.flatMap((e) => (e.event === 'step-start' ? [e.id] : [])));
  }

  /** Steps that finished ok, with the hash they had. */
  finished(): Map<string, Extract<JournalEvent, { event: 'step-end' }>> {
    const m = new Map<string, Extract<JournalEvent, { event: 'step-end' }>>();
    for (const e of this.events) {
      if (e.event === 'step-end' && e.outcome === 'ok') m.set(e.id, e);
      if (e.event === 'run-start' && e.mode === 'fresh') m.clear();
    }
    return m;
  }
}

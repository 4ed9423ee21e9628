/**
 * The copy's journal: one JSON line per finished unit (schema, table part, table, index, post-data, ...)
 * in the work directory. A resumed copy skips every unit already in it (pgcopydb does the same with its
 * SQLite catalog). Appends are small single writes, so a kill leaves at worst a torn last line, ignored.
 */
import { appendFile, readFile, mkdir } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { DbBinding } from '../../pg/identity.js';

export interface JournalEntry {
  kind: 'binding' | 'snapshot' | 'pre-data' | 'truncate' | 'part' | 'table' | 'index' | 'fkey' | 'large-objects' | 'post-data' | 'sequences' | 'analyze' | 'matview' | 'privileges' | 'done';
  key: string;
  at: string;
  ms?: number;
  rows?: number;
  bytes?: number;
  detail?: string;
}

/** What a 'binding' entry records: the copy's source and target, and the session tag of the process. */
export interface CopyBinding { source: DbBinding; target: DbBinding; tag?: string }

export class Journal {
  private done = new Map<string, JournalEntry>();
  readonly entries: JournalEntry[] = [];
  private constructor(readonly file: string) {}

  static async open(dir: string): Promise<Journal> {
    await mkdir(dir, { recursive: true });
    const j = new Journal(join(dir, 'journal.jsonl'));
    if (existsSync(j.file)) {
      for (const line of (await readFile(j.file, 'utf8')).split('\n')) {
        if (!line.trim()) continue;
        try {
          const e = JSON.parse(line) as JournalEntry;
          j.entries.push(e);
          j.done.set(`${e.kind}\u0000${e.key}`, e);
        } catch { /* torn last line from a kill */ }
      }
    }
    return j;
  }

  /** Nothing was copied yet ('binding' entries alone record only which databases were meant). */
  get isEmpty(): boolean { return !this.entries.some((e) => e.kind !== 'binding'); }

  /** The databases and session tag of the latest copy process that wrote this journal ('binding' entries). */
  get binding(): CopyBinding | undefined {
    const e = this.entries.filter((x) => x.kind === 'binding').at(-1);
    return e?.detail ? (JSON.parse(e.detail) as CopyBinding) : undefined;
  }

  has(kind: JournalEntry['kind'], key = ''): boolean {
    return this.done.has(`${kind}\u0000${key}`);
  }

  get(kind: JournalEntry['kind'], key = ''): JournalEntry | undefined {
    return this.done.get(`${kind}\u0000${key}`);
  }

  async record(e: Omit<JournalEntry, 'at'>): Promise<void> {
    const full = { ...e, at: new Date().toISOString() };
    this.entries.push(full);
    this.done.set(`${e.kind}\u0000${e.key}`, full);
    await appendFile(this.file, JSON.stringify(full) + '\n');
  }
}

/** Which tables a comparison has done and which it reads now, for a progress line (TablesProgress). */
import type { TablesProgress } from '../lib/progress.js';

export interface TrackedWork { name: string; bytes: number; rows: number; chunks?: number }

export class TableTracker {
  private readonly p: TablesProgress;
  private readonly work = new Map<string, TrackedWork>();

  constructor(items: TrackedWork[], private readonly sink?: (p: TablesProgress) => void) {
    for (const i of items) this.work.set(i.name, i);
    const chunked = items.some((i) => i.chunks !== undefined);
    this.p = {
      tablesDone: 0, tablesTotal: items.length, bytesDone: 0, bytesTotal: items.reduce((n, i) => n + i.bytes, 0),
      rowsDone: 0, rowsTotal: items.reduce((n, i) => n + i.rows, 0), running: [],
      ...(chunked ? { chunksDone: 0, chunksTotal: items.reduce((n, i) => n + (i.chunks ?? 0), 0) } : {}),
    };
  }

  start(name: string): void {
    this.p.running.push({ name, startedAt: Date.now(), total: this.work.get(name)?.bytes || undefined });
    this.emit();
  }

  /** `rows`: the rows the comparison read on the source (exact). */
  finish(name: string, rows: number): void {
    const w = this.work.get(name);
    this.p.running = this.p.running.filter((r) => r.name !== name);
    this.p.tablesDone++;
    this.p.bytesDone += w?.bytes ?? 0;
    this.p.rowsDone += rows;
    if (this.p.chunksDone !== undefined) this.p.chunksDone += w?.chunks ?? 0;
    this.emit();
  }

  private emit(): void {
    this.sink?.({ ...this.p, running: this.p.running.map((r) => ({ ...r })) });
  }
}

/** Paired worker sessions (one per side, same snapshot per side) handed out to tasks one pair at a time. */
import type pg from 'pg';

export interface Pair { source: pg.Client; target: pg.Client; index: number }

export class PairPool {
  private free: Pair[];
  private waiters: ((p: Pair) => void)[] = [];
  constructor(sources: pg.Client[], targets: pg.Client[]) {
    this.free = sources.map((s, i) => ({ source: s, target: targets[i]!, index: i }));
  }
  async use<T>(fn: (p: Pair) => Promise<T>): Promise<T> {
    const pair = this.free.pop() ?? (await new Promise<Pair>((r) => this.waiters.push(r)));
    try {
      return await fn(pair);
    } finally {
      const w = this.waiters.shift();
      if (w) w(pair); else this.free.push(pair);
    }
  }
}

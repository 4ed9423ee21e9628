/** Runs async tasks with at most `concurrency` at a time; tasks may enqueue more while running. */
export class TaskPool<R> {
  private queue: (() => Promise<R>)[] = [];
  private running = 0;
  private results: R[] = [];
  private failure: unknown;
  private idle?: () => void;
  private fail?: (e: unknown) => void;

  constructor(private readonly concurrency: number) {
    if (concurrency < 1) throw new Error('concurrency must be >= 1');
  }

  /** Queues a task; `first` puts it ahead of those waiting (a long job that should not end up last). */
  add(task: () => Promise<R>, first = false): void {
    if (first) this.queue.unshift(task); else this.queue.push(task);
    this.pump();
  }

  private pump(): void {
    while (this.failure === undefined && this.running < this.concurrency && this.queue.length) {
      const task = this.queue.shift()!;
      this.running++;
      task().then((r) => { this.results.push(r); }, (e) => { this.failure ??= e; })
        .finally(() => {
          this.running--;
          if (this.failure !== undefined && this.running === 0) this.fail?.(this.failure);
          else if (this.running === 0 && this.queue.length === 0) this.idle?.();
          else this.pump();
        });
    }
  }

  /** Resolves with every result once the queue is empty and nothing runs; rejects on the first failure. */
  drain(): Promise<R[]> {
    if (this.failure !== undefined && this.running === 0) return Promise.reject(this.failure);
    if (this.running === 0 && this.queue.length === 0) return Promise.resolve(this.results);
    return new Promise((resolve, reject) => {
      this.idle = () => resolve(this.results);
      this.fail = reject;
    });
  }
}

/** Maps items with bounded concurrency, preserving order. */
export async function mapLimit<T, R>(items: readonly T[], concurrency: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, items.length)) }, worker));
  return out;
}

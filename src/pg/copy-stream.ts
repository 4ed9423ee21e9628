/** One COPY stream from a source session into a target session, no disk in between. */
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom, to as copyTo } from 'pg-copy-streams';

export interface StreamResult { rows: number; bytes: number; ms: number }

export async function streamCopy(source: pg.Client, target: pg.Client, copyOutSql: string, copyInSql: string,
  onBytes?: (n: number) => void): Promise<StreamResult> {
  const t0 = Date.now();
  let bytes = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      bytes += chunk.length;
      onBytes?.(chunk.length);
      cb(null, chunk);
    },
  });
  const out = source.query(copyTo(copyOutSql));
  const into = target.query(copyFrom(copyInSql));
  // pipeline() rejects with the first error; a COPY that fails on the server can emit a second one after
  // that, which without a listener would crash the process.
  const ignoreLate = () => undefined;
  out.on('error', ignoreLate);
  into.on('error', ignoreLate);
  try {
    await pipeline(out, counter, into);
  } catch (e) {
    // The COPY ... TO STDOUT owns the source session's reader until its end: failed on the target side
    // (a constraint, a lost target session), it is never read to the end, and the next query on that
    // session would wait forever. The session is unusable: close it, so that what follows fails at once.
    if (!out.readableEnded) (source as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy();
    throw e;
  }
  return { rows: Number(into.rowCount ?? 0), bytes, ms: Date.now() - t0 };
}

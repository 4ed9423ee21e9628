/**
 * Runs a PostgreSQL client tool (pg_dump, pg_restore, psql) through execa with credentials in the
 * environment and a 0600 passfile. A failure becomes E_CHILD with the command line (no secrets: there are
 * none in argv), the exit code, the duration and the tool's own stderr, scrubbed.
 */
import { execa } from 'execa';
import { CutoverError } from '../errors.js';
import { scrub } from './conninfo.js';
import { childCredentials, withoutInheritedPasswords } from './child-env.js';
import { admitConnections } from './admission.js';
import { superviseGroup } from '../lib/child-group.js';
import type { Endpoint } from './endpoint.js';

export interface ToolRun {
  stdout: string;
  stderr: string;
  durationMs: number;
}

export interface RunToolOptions {
  /** Called with each stderr line as it arrives (pg_dump/pg_restore --verbose progress). */
  onStderrLine?: (line: string) => void;
  signal?: AbortSignal;
  /** Connections the tool opens (pg_dump -j N: N+1): counted, and admitted by the run's governor. */
  connections?: number;
}

export async function runTool(path: string, args: string[], conn: Endpoint, step: string, opts: RunToolOptions = {}): Promise<ToolRun> {
  const release = await admitConnections(conn, opts.connections ?? 1, `cutover/${step}`);
  const creds = await childCredentials(step, conn).catch((e: unknown) => { release(); throw e; });
  const t0 = Date.now();
  const stderrLines: string[] = [];
  try {
    const child = execa(path, args, {
      // Its own process group: an interruption signals pg_dump and its parallel workers together.
      env: { ...withoutInheritedPasswords(), ...creds.env }, extendEnv: true, reject: false, stdin: 'ignore', all: false, detached: true,
      // LC_MESSAGES=C: the tool's messages are parsed for progress only, and shown to the user as-is.
      lines: false,
    });
    const unsupervise = superviseGroup(child.pid, opts.signal);
    let buf = '';
    child.stderr?.on('data', (d: Buffer) => {
      buf += d.toString();
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        stderrLines.push(line);
        if (stderrLines.length > 400) stderrLines.splice(0, 200);
        opts.onStderrLine?.(line);
      }
    });
    const r = await child.finally(unsupervise);
    const durationMs = Date.now() - t0;
    if (buf) stderrLines.push(buf);
    if (r.exitCode !== 0 || r.isCanceled || opts.signal?.aborted) {
      const errors = stderrLines.filter((l) => !/^\S+: (dumping|processing|creating|finished|launching|reading|saving|last built-in|identifying|flagging|executing|restoring|connecting|implied data-only|entering|skipping|setting owner|saving)/.test(l));
      const tail = (errors.length ? errors : stderrLines).slice(-15).join('\n');
      throw new CutoverError('E_CHILD',
        `${step}: ${r.isCanceled || opts.signal?.aborted ? 'cancelled' : `exited with code ${r.exitCode ?? r.signal}`} after ${(durationMs / 1000).toFixed(1)} s: ${scrub(r.escapedCommand, [conn.password])}\n${scrub(tail, [conn.password])}`,
        { details: { exitCode: r.exitCode, signal: r.signal, durationMs } });
    }
    return { stdout: String(r.stdout ?? ''), stderr: stderrLines.join('\n'), durationMs };
  } finally {
    release();
    await creds.cleanup();
  }
}

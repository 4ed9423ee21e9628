/**
 * Children in their own process group: spawned detached (the child leads a new group), the group recorded
 * in the runtime directory (so the sweep after a SIGKILL of cutover can end it), and signalled as a whole
 * on an interruption: a shell step's `psql` or a pg_dump worker never outlives the step.
 */
import { childGroupEnded, recordChildGroup } from './runtime-dir.js';

/**
 * Records the child's group and, on `signal`'s abort, sends the abort reason's signal to the group (SIGKILL
 * 5 s later). Only while the child is awaited (call the returned function when it has ended): its group id
 * cannot be reused before that.
 */
export function superviseGroup(pid: number | undefined, signal?: AbortSignal): () => void {
  if (pid === undefined) return () => undefined;
  recordChildGroup(pid);
  let hard: NodeJS.Timeout | undefined;
  const kill = (sig: NodeJS.Signals | number) => { try { process.kill(-pid, sig); } catch { /* the group is gone */ } };
  const onAbort = () => {
    const reason = signal?.reason as unknown;
    kill(typeof reason === 'string' && /^SIG[A-Z]+$/.test(reason) ? (reason as NodeJS.Signals) : 'SIGTERM');
    hard = setTimeout(() => kill('SIGKILL'), 5000);
    hard.unref();
  };
  if (signal?.aborted) onAbort();
  else signal?.addEventListener('abort', onAbort, { once: true });
  return () => {
    signal?.removeEventListener('abort', onAbort);
    if (hard) clearTimeout(hard);
    childGroupEnded(pid);
  };
}

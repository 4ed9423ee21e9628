/**
 * The per-process runtime directory: `<tmpdir>/cutover-<uid>/<pid>-<start time>/` (0700), holding the
 * temporary passfiles of child processes and the process-group ids of the children started (runbook `sh`
 * steps, pg_dump, pg_restore). It is removed when the process exits (normally, on an error, or on
 * SIGINT/SIGTERM/SIGHUP through src/cli/interrupt.ts). A SIGKILL leaves it behind: every cutover command
 * starts with `sweepRuntimeDirs()`, which removes the directories whose owner process is gone, after
 * ending the child process groups they recorded (only processes that carry the owner's marker in their
 * environment, so a reused pid or process-group id is never killed by mistake).
 */
import { appendFileSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Environment variable every child gets: the name of its owner's runtime directory. */
export const OWNER_VAR = 'CUTOVER_OWNER';

function uid(): number { return process.getuid?.() ?? 0; }

export function runtimeBase(): string {
  return join(process.env.CUTOVER_RUNTIME_DIR ?? tmpdir(), `cutover-${uid()}`);
}

/** A process's start time in clock ticks since boot (/proc/PID/stat field 22), or undefined if it is gone. */
export function processStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) is in parentheses and may hold spaces: fields count from after its ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    if (existsSync('/proc/self/stat')) return undefined;
    // Without /proc: alive or not is all we can tell.
    try { process.kill(pid, 0); return '0'; } catch { return undefined; }
  }
}

/** Whether a runtime directory's owner (`<pid>-<start>`) still runs. */
export function ownerAlive(name: string): boolean {
  const m = /^(\d+)-(\d+)$/.exec(name);
  if (!m) return false;
  const start = processStartTime(Number(m[1]));
  return start !== undefined && (start === m[2] || start === '0');
}

let mine: string | undefined;

function ensureBase(): string {
  const base = runtimeBase();
  mkdirSync(base, { recursive: true, mode: 0o700 });
  const st = lstatSync(base);
  // Someone else's directory (or a symlink) at our path in a shared /tmp: never write secrets into it.
  if (!st.isDirectory() || st.uid !== uid() || (st.mode & 0o077) !== 0) {
    throw new Error(`${base} is not a private directory of this user (owner uid ${st.uid}, mode ${(st.mode & 0o777).toString(8)}): remove it or set CUTOVER_RUNTIME_DIR`);
  }
  return base;
}

/** This process's runtime directory, created on first use. */
export function runtimeDir(): string {
  if (mine && existsSync(mine)) return mine;
  const dir = join(ensureBase(), `${process.pid}-${processStartTime(process.pid) ?? '0'}`);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (!mine) process.once('exit', removeRuntimeDir);
  mine = dir;
  return dir;
}

/** The marker children carry in their environment (`CUTOVER_OWNER=<dir name>`). */
export function ownerMarker(): string {
  return runtimeDir().slice(runtimeDir().lastIndexOf('/') + 1);
}

/** Removes this process's runtime directory (passfiles included). Synchronous: safe in an 'exit' handler. */
export function removeRuntimeDir(): void {
  if (mine) rmSync(mine, { recursive: true, force: true });
}

/** Records a child's process group (the child was spawned detached: its pid is its group's id). */
export function recordChildGroup(pgid: number): void {
  appendFileSync(join(runtimeDir(), 'children'), `${pgid}\n`, { mode: 0o600 });
  liveGroups.add(pgid);
}

/** Live processes in one of `groups` whose environment carries `CUTOVER_OWNER=<owner>`. */
export function processesOf(owner: string, groups: Set<number>): number[] {
  if (!groups.size || !existsSync('/proc/self/stat')) return [];
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const pgid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
      if (!groups.has(pgid)) continue;
      const env = readFileSync(`/proc/${name}/environ`, 'utf8').split('\0');
      if (env.includes(`${OWNER_VAR}=${owner}`)) out.push(Number(name));
    } catch { /* gone meanwhile, or not ours to read */ }
  }
  return out;
}

function recordedGroups(dir: string): Set<number> {
  try {
    return new Set(readFileSync(join(dir, 'children'), 'utf8').split('\n').filter(Boolean).map(Number));
  } catch { return new Set(); }
}

/** Process groups of children not known to be finished (for systems without /proc). */
const liveGroups = new Set<number>();
export function childGroupEnded(pgid: number): void { liveGroups.delete(pgid); }

/**
 * Sends `signal` to this process's children that still run. On Linux, to each process of a recorded
 * group that carries this process's marker: a group id recorded for a child long gone may have been
 * reused by someone else's group, which must never be signalled. Elsewhere, to the groups of children
 * still awaited.
 */
export function signalOwnChildren(signal: NodeJS.Signals): number {
  if (!mine) return 0;
  if (existsSync('/proc/self/stat')) {
    const pids = processesOf(ownerMarker(), recordedGroups(mine));
    for (const pid of pids) { try { process.kill(pid, signal); } catch { /* already gone */ } }
    return pids.length;
  }
  let n = 0;
  for (const g of liveGroups) {
    try { process.kill(-g, signal); n++; } catch { /* already gone */ }
  }
  return n;
}

export interface SweepResult { removed: string[]; killed: number[] }

/**
 * Removes the runtime directories of cutover processes that are gone (killed with SIGKILL, or a crash),
 * first ending the child processes they left running. Best effort: never fails the command.
 */
export function sweepRuntimeDirs(): SweepResult {
  const r: SweepResult = { removed: [], killed: [] };
  const base = runtimeBase();
  let names: string[];
  try { names = readdirSync(base); } catch { return r; }
  for (const name of names) {
    if (ownerAlive(name) || join(base, name) === mine) continue;
    const dir = join(base, name);
    try {
      if (lstatSync(dir).uid !== uid()) continue;
      const orphans = processesOf(name, recordedGroups(dir));
      for (const pid of orphans) { try { process.kill(pid, 'SIGKILL'); r.killed.push(pid); } catch { /* gone */ } }
      rmSync(dir, { recursive: true, force: true });
      r.removed.push(dir);
    } catch { /* another process swept it meanwhile */ }
  }
  return r;
}

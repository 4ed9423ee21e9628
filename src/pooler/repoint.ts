/**
 * Points a PgBouncer database entry at the new server, between PAUSE and RESUME:
 *   ini:     rewrites the entry's host, port and dbname in a pgbouncer.ini cutover can write (every other
 *            key, pool user and password included, is kept), atomically (write beside, rename), then
 *            the caller RELOADs. The previous text is returned so that a failure can put it back.
 *   command: runs the operator's command (a ConfigMap update, a config-management run) with the target
 *            in CUTOVER_TARGET_HOST / _PORT / _DBNAME; never a password. It must leave the pooler
 *            reloaded or say so by its exit code.
 */
import { chown, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { execa } from 'execa';
import { CutoverError } from '../errors.js';

export type Repoint = { ini: string } | { command: string };
export interface Endpoint { host: string; port: number; dbname: string }

const ENTRY = /^(\s*)("(?:[^"]|"")+"|[^\s=;#]+)(\s*=\s*)(.*)$/;
const TOKEN = /([A-Za-z_]+)\s*=\s*('(?:[^'\\]|\\.|'')*'|[^\s]+)/g;

/** The [databases] line of `entry` and its line number, or an error saying what the file has. */
function findEntry(lines: string[], entry: string, path: string): number {
  let section = '';
  const names: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i]!;
    const sec = /^\s*\[([^\]]+)\]/.exec(l);
    if (sec) { section = sec[1]!.trim().toLowerCase(); continue; }
    if (section !== 'databases' || /^\s*[;#]/.test(l)) continue;
    const m = ENTRY.exec(l);
    if (!m) continue;
    const name = m[2]!.startsWith('"') ? m[2]!.slice(1, -1).replace(/""/g, '"') : m[2]!;
    if (name === entry) return i;
    names.push(name);
  }
  throw new CutoverError('E_USAGE', `${path}: no entry "${entry}" in its [databases] section (it has: ${names.join(', ') || 'none'})`, {
    hint: 'pooler.database names the [databases] entry the application connects to; an entry that %include or auth_query builds cannot be rewritten: use pooler.command',
  });
}

/** Rewrites host, port and dbname of the entry; returns the previous file text. */
export async function repointIni(path: string, entry: string, to: Endpoint): Promise<{ previous: string; line: string }> {
  const previous = await readFile(path, 'utf8');
  const lines = previous.split('\n');
  const i = findEntry(lines, entry, path);
  const m = ENTRY.exec(lines[i]!)!;
  const want: Record<string, string> = { host: to.host, port: String(to.port), dbname: quoteValue(to.dbname) };
  const seen = new Set<string>();
  let rest = m[4]!.replace(TOKEN, (all: string, key: string) => {
    const k = key.toLowerCase();
    if (!(k in want)) return all;
    seen.add(k);
    return `${key}=${want[k]}`;
  });
  for (const k of ['host', 'port', 'dbname']) if (!seen.has(k)) rest = `${k}=${want[k]} ${rest}`.trim();
  lines[i] = `${m[1]}${m[2]}${m[3]}${rest}`;
  await writeAtomically(path, lines.join('\n'));
  return { previous, line: lines[i]!.replace(/password\s*=\s*('(?:[^'\\]|\\.|'')*'|\S+)/gi, 'password=***') };
}

/** Puts the file's previous text back (a failure before RESUME on the new server). */
export async function restoreIni(path: string, previous: string): Promise<void> {
  await writeAtomically(path, previous);
}

/** Checks before the pause that the entry exists and the file can be replaced. */
export async function checkIni(path: string, entry: string): Promise<void> {
  const text = await readFile(path, 'utf8').catch((e: NodeJS.ErrnoException) => {
    throw new CutoverError('E_USAGE', `pooler.ini: cannot read ${path} (${e.code ?? e.message})`, { hint: 'cutover must run where it can write the pooler\'s pgbouncer.ini, or use pooler.command' });
  });
  findEntry(text.split('\n'), entry, path);
}

async function writeAtomically(path: string, text: string): Promise<void> {
  const st = await stat(path);
  const tmp = `${path}.cutover-${process.pid}`;
  await writeFile(tmp, text, { mode: st.mode & 0o777 });
  await chown(tmp, st.uid, st.gid).catch(() => undefined);
  await rename(tmp, path);
}

function quoteValue(v: string): string {
  return /^[A-Za-z0-9_.-]+$/.test(v) ? v : `'${v.replace(/'/g, "''")}'`;
}

export async function runRepointCommand(command: string, to: Endpoint, signal?: AbortSignal): Promise<void> {
  const r = await execa('sh', ['-c', command], {
    reject: false, cancelSignal: signal, timeout: 60_000, all: true,
    env: { CUTOVER_TARGET_HOST: to.host, CUTOVER_TARGET_PORT: String(to.port), CUTOVER_TARGET_DBNAME: to.dbname, PGPASSWORD: undefined },
  });
  if (r.exitCode !== 0) {
    throw new CutoverError('E_CHILD', `pooler.command exited ${r.exitCode ?? r.signal}: ${(r.all ?? '').split('\n').slice(-5).join('\n')}`, {
      hint: 'the pooler was not repointed; it resumes on the old server',
    });
  }
}

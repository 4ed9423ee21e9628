/**
 * Finds PostgreSQL client tools (pg_dump, pg_restore, psql) and checks they are new enough for a server:
 * pg_dump refuses a server newer than itself ("aborting because of server version mismatch") and an older
 * pg_restore cannot read a newer archive ("unsupported version (1.NN) in file header").
 */
import { access, readdir } from 'node:fs/promises';
import { constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { execa } from 'execa';
import { CutoverError } from '../errors.js';

export type ClientToolName = 'pg_dump' | 'pg_restore' | 'psql';

export interface ClientTool {
  name: ClientToolName;
  path: string;
  version: string;
  major: number;
}

async function isExecutable(p: string): Promise<boolean> {
  try { await access(p, constants.X_OK); return true; } catch { return false; }
}

/** Directories to look in, most specific first: an explicit bin dir, PATH, then versioned install dirs. */
export async function candidateBinDirs(binDir?: string, env: NodeJS.ProcessEnv = process.env): Promise<string[]> {
  const dirs: string[] = [];
  const explicit = binDir ?? env.CUTOVER_PG_BINDIR;
  if (explicit) return [explicit];
  dirs.push(...(env.PATH ?? '').split(delimiter).filter(Boolean));
  for (const root of ['/usr/lib/postgresql', '/usr/local/pgsql']) {
    try {
      for (const v of await readdir(root)) dirs.push(join(root, v, 'bin'));
    } catch { /* not installed there */ }
  }
  try {
    for (const v of await readdir('/usr')) if (/^pgsql-\d+$/.test(v)) dirs.push(join('/usr', v, 'bin'));
  } catch { /* ignore */ }
  return [...new Set(dirs)];
}

export async function toolVersion(path: string): Promise<{ version: string; major: number }> {
  const { stdout } = await execa(path, ['--version'], { timeout: 10_000 });
  const m = /\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?/.exec(stdout) ?? /(\d+)\.(\d+)/.exec(stdout);
  if (!m) throw new CutoverError('E_CLIENT_TOOL', `${path} --version printed something unexpected: ${stdout.slice(0, 100)}`);
  return { version: m[2] !== undefined ? `${m[1]}.${m[2]}` : m[1]!, major: Number(m[1]) };
}

/** Every installation of `name` found, newest first. */
export async function findClientTools(name: ClientToolName, binDir?: string): Promise<ClientTool[]> {
  const found: ClientTool[] = [];
  const seen = new Set<string>();
  for (const dir of await candidateBinDirs(binDir)) {
    const p = join(dir, name);
    if (seen.has(p) || !(await isExecutable(p))) continue;
    seen.add(p);
    try {
      const v = await toolVersion(p);
      found.push({ name, path: p, ...v });
    } catch { /* a broken wrapper: skip it */ }
  }
  return found.sort((a, b) => b.major - a.major);
}

export function installHint(major: number): string {
  return `install the PostgreSQL ${major} client tools (Debian/Ubuntu: \`apt install postgresql-client-${major}\` from apt.postgresql.org; ` +
    `RHEL/Fedora: \`dnf install postgresql${major}\`; macOS: \`brew install postgresql@${major}\`), ` +
    `then run again, or point CUTOVER_PG_BINDIR (--pg-bindir) at its bin directory`;
}

/**
 * The newest `name` that can work against a server of `serverMajor`. Throws E_CLIENT_TOOL when none is
 * found or all are older than the server, with the versions found and how to install the right one.
 */
export async function requireClientTool(name: ClientToolName, serverMajor: number, binDir?: string): Promise<ClientTool> {
  const tools = await findClientTools(name, binDir);
  if (tools.length === 0) {
    throw new CutoverError('E_CLIENT_TOOL', `${name} was not found${binDir ? ` in ${binDir}` : ' on PATH or in /usr/lib/postgresql/*/bin'}`, {
      hint: installHint(serverMajor),
    });
  }
  const best = tools[0]!;
  if (best.major < serverMajor) {
    const what = name === 'pg_dump'
      ? `pg_dump refuses it ("server version mismatch")`
      : `it cannot read archives or use features of version ${serverMajor}`;
    throw new CutoverError('E_CLIENT_TOOL',
      `${name} ${best.version} (${best.path}) is older than the PostgreSQL ${serverMajor} server: ${what}`, {
        hint: installHint(serverMajor),
        details: { found: tools.map((t) => ({ path: t.path, version: t.version })) },
      });
  }
  return best;
}

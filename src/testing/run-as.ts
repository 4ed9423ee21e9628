/**
 * `postgres` refuses to run as root. When we are root, servers run as an unprivileged user: the one named
 * by CUTOVER_TEST_USER, else `postgres` if it exists, else `cutover-pg`, created on first use.
 */
import { execa } from 'execa';
import { CutoverError } from '../errors.js';

export interface RunAs { user: string; uid: number; gid: number }

let cached: Promise<RunAs | undefined> | undefined;

async function lookup(user: string): Promise<RunAs | undefined> {
  const u = await execa('id', ['-u', user], { reject: false });
  const g = await execa('id', ['-g', user], { reject: false });
  if (u.exitCode !== 0 || g.exitCode !== 0) return undefined;
  return { user, uid: Number(u.stdout.trim()), gid: Number(g.stdout.trim()) };
}

export function serverUser(): Promise<RunAs | undefined> {
  cached ??= (async () => {
    if (typeof process.getuid !== 'function' || process.getuid() !== 0) return undefined;
    const wanted = process.env.CUTOVER_TEST_USER;
    if (wanted) {
      const r = await lookup(wanted);
      if (!r) throw new CutoverError('E_HARNESS', `CUTOVER_TEST_USER=${wanted} does not exist`);
      return r;
    }
    const pg = await lookup('postgres');
    if (pg) return pg;
    const existing = await lookup('cutover-pg');
    if (existing) return existing;
    const add = await execa('useradd', ['--system', '--no-create-home', '--shell', '/usr/sbin/nologin', 'cutover-pg'], { reject: false });
    const created = await lookup('cutover-pg');
    if (!created) {
      throw new CutoverError('E_HARNESS', `running as root and could not create an unprivileged user for the test servers: ${add.stderr}`, {
        hint: 'create one (useradd --system cutover-pg) or set CUTOVER_TEST_USER to an existing non-root user',
      });
    }
    return created;
  })();
  return cached;
}

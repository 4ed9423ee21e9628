import { execa } from 'execa';
import { fileURLToPath } from 'node:url';

export const CLI = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));

/**
 * Runs the built CLI; never throws, returns exit code and output. Without a terminal of its own, even when
 * the test runner was started from one (CUTOVER_NO_TTY: no question goes to /dev/tty).
 */
export async function cutover(args: string[], env: Record<string, string | undefined> = {}) {
  const r = await execa('node', [CLI, ...args], { reject: false, env: { CUTOVER_NO_TTY: '1', ...env, CUTOVER_DEBUG: undefined }, extendEnv: true });
  return { code: r.exitCode ?? -1, stdout: r.stdout, stderr: r.stderr };
}

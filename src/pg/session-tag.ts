/**
 * The session tag: a short random word, one per process tree (a `cutover` command and the children it
 * starts share it through CUTOVER_SESSION_TAG), appended to the application_name of every session cutover
 * opens (`cutover/<step>#<tag>`). It tells this run's sessions from everyone else's, including other
 * cutover processes on the same server, so that an interruption cancels exactly its own server-side work
 * and a resumed run can end what a killed one left running (src/pg/own-sessions.ts).
 */
import { randomBytes } from 'node:crypto';

export const TAG_VAR = 'CUTOVER_SESSION_TAG';

export function sessionTag(): string | undefined {
  const t = process.env[TAG_VAR];
  return t && /^[a-z0-9]{4,16}$/.test(t) ? t : undefined;
}

/** The process's tag, created (and exported to children) if there is none yet. */
export function ensureSessionTag(): string {
  const t = sessionTag();
  if (t) return t;
  const fresh = randomBytes(6).toString('hex').replace(/^/, 't').slice(0, 9);
  process.env[TAG_VAR] = fresh;
  return fresh;
}

/** `cutover/<step>` plus the tag, within application_name's 63 bytes (the step part is shortened). */
export function taggedName(base: string, tag = sessionTag()): string {
  const clean = base.replace(/[^\x20-\x7e]/g, '_');
  return tag ? `${clean.slice(0, 62 - tag.length)}#${tag}` : clean.slice(0, 63);
}

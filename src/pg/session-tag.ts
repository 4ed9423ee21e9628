/**
 * The session tag: a short random word, one per cutover process (its children, such as psql in an `sh`
 * step, get it in PGAPPNAME; CUTOVER_SESSION_TAG holds it for the library), appended to the application_name of every session cutover
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

/** The process's tag, created (and exported to children) if there is none yet (a library run). */
export function ensureSessionTag(): string {
  return sessionTag() ?? newSessionTag();
}

/**
 * A new tag for this process (every CLI command takes one: an inherited tag would make two commands,
 * e.g. one started by a script that another one runs, cancel or end each other's sessions).
 */
export function newSessionTag(): string {
  const fresh = `t${randomBytes(4).toString('hex')}`;
  process.env[TAG_VAR] = fresh;
  return fresh;
}

/** `cutover/<step>` plus the tag, within application_name's 63 bytes (the step part is shortened). */
export function taggedName(base: string, tag = sessionTag()): string {
  const clean = base.replace(/[^\x20-\x7e]/g, '_');
  return tag ? `${clean.slice(0, 62 - tag.length)}#${tag}` : clean.slice(0, 63);
}

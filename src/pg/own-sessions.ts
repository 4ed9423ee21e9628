/**
 * Finding and stopping cutover's own sessions on a server: those whose application_name carries this
 * process tree's session tag (src/pg/session-tag.ts), whoever opened them (this process, psql in an `sh`
 * step, pg_dump, pg_restore). An interruption cancels their running statements (index builds included);
 * a resumed run terminates what the killed run it resumes left behind, and waits until they are gone.
 */
import type pg from 'pg';
import { CutoverError } from '../errors.js';
import { redact } from './conninfo.js';
import { applicationName, connectUnadmitted } from './connect.js';
import { loadSql } from './sql.js';
import { sessionTag, taggedName } from './session-tag.js';
import { sleep } from '../lib/backoff.js';
import type { Endpoint } from './endpoint.js';

export interface OwnSession { pid: number; app: string; state: string; can_signal: boolean }

/** Servers this process connected to (for the interruption path of commands without a runner). */
const servers = new Map<string, Endpoint>();
export function rememberServer(p: Endpoint): void {
  const k = `${p.host}:${p.port}/${p.dbname}/${p.user}`;
  if (!servers.has(k)) servers.set(k, p);
}
export function rememberedServers(): Endpoint[] {
  return [...servers.values()];
}

export async function listOwnSessions(c: pg.Client, tag: string, exceptSteps: string[] = []): Promise<OwnSession[]> {
  const except = exceptSteps.map((s) => taggedName(`cutover/${s}`, tag));
  return (await c.query<OwnSession>(loadSql(import.meta.url, 'sql/own-sessions.sql'), [tag, except])).rows;
}

export interface SignalResult { server: string; signalled: number; refused: OwnSession[]; remaining: OwnSession[] }

/**
 * Cancels (or terminates) the tag's sessions on one server, except `exceptSteps` (e.g. the run lock).
 * With `waitMs`, signals again until none is active (cancel) or none is left (terminate), up to then.
 */
export async function signalOwnSessions(p: Endpoint, o: { tag?: string; terminate?: boolean; exceptSteps?: string[]; waitMs?: number }): Promise<SignalResult> {
  const tag = o.tag ?? sessionTag();
  const res: SignalResult = { server: redact(p), signalled: 0, refused: [], remaining: [] };
  if (!tag) return res;
  const c = await connectUnadmitted(p, o.terminate ? 'end-sessions' : 'cancel');
  try {
    const deadline = Date.now() + (o.waitMs ?? 0);
    for (;;) {
      const all = await listOwnSessions(c, tag, o.exceptSteps);
      // Our own helper connection of another server pass is never a target.
      const busy = all.filter((s) => s.app !== applicationName('cancel') && s.app !== applicationName('end-sessions'))
        .filter((s) => o.terminate || s.state === 'active');
      res.remaining = busy;
      if (!busy.length || (res.signalled > 0 && Date.now() >= deadline)) break;
      for (const s of busy) {
        if (!s.can_signal) { if (!res.refused.some((r) => r.pid === s.pid)) res.refused.push(s); continue; }
        const fn = o.terminate ? 'pg_terminate_backend' : 'pg_cancel_backend';
        if ((await c.query<{ ok: boolean }>(`SELECT ${fn}($1) AS ok`, [s.pid]).catch(() => ({ rows: [{ ok: false }] }))).rows[0]!.ok) res.signalled++;
      }
      if (Date.now() >= deadline) {
        res.remaining = (await listOwnSessions(c, tag, o.exceptSteps)).filter((s) => o.terminate || s.state === 'active');
        break;
      }
      await sleep(100);
    }
    return res;
  } finally {
    await c.end().catch(() => undefined);
  }
}

/** Cancels the running statements of this process tree's sessions on every server it connected to. */
export async function cancelOwnSessionsEverywhere(o: { exceptSteps?: string[]; waitMs?: number } = {}): Promise<void> {
  const seen = new Set<string>();
  await Promise.all(rememberedServers().filter((p) => {
    const k = `${p.host}:${p.port}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  }).map((p) => signalOwnSessions(p, { exceptSteps: o.exceptSteps, waitMs: o.waitMs }).catch(() => undefined)));
}

/**
 * Ends the sessions a killed cutover process (session tag `tag`) left on each server, and waits until
 * they are gone (up to 30 s). Throws while one stays (this role may not end it, or it does not end).
 */
export async function endSessionsOfTag(tag: string, sides: { side: string; params: Endpoint }[], what: string, note: (m: string) => void): Promise<void> {
  for (const { side, params } of sides) {
    const r = await signalOwnSessions(params, { tag, terminate: true, waitMs: 30_000 });
    if (r.signalled) note(`ended ${r.signalled} session(s) ${what} left on the ${side} (${redact(params)})`);
    if (r.remaining.length) {
      throw new CutoverError('E_PREFLIGHT', `sessions ${what} left still run on the ${side} ${redact(params)}: ` +
        r.remaining.map((x) => `pid ${x.pid} (${x.app}, ${x.state || 'state hidden'})`).join(', '), {
        hint: r.refused.length
          ? 'this role may not end them: ask an administrator to run SELECT pg_terminate_backend(pid) for them, then resume again'
          : 'they did not end within 30 s of pg_terminate_backend: check the server, then resume again',
      });
    }
  }
}

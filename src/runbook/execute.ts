/** Runs one executable step: sql on a side, sh with the connections in its environment, or an action. */
import { execa } from 'execa';
import { admitConnections } from '../pg/admission.js';
import { CutoverError } from '../errors.js';
import { scrub } from '../pg/conninfo.js';
import { backendPid, withClient } from '../pg/connect.js';
import { childCredentials } from '../pg/child-env.js';
import { superviseGroup } from '../lib/child-group.js';
import { sqlStateOf } from '../pg/sqlstate.js';
import { ACTIONS, type ActionContext, type StepOutputs } from './actions/index.js';
import { endpointOf, oneSessionOn } from './actions/common.js';
import type { Step } from './model.js';

export async function executeStep(step: Step, ctx: ActionContext): Promise<StepOutputs> {
  const secrets = Object.values(ctx.endpoints).map((e) => e.password);
  if (step.kind === 'sql') {
    const side = step.on ?? 'source';
    // `cutover check` and the run refuse an undeclared endpoint; a library caller may not have checked.
    const endpoint = endpointOf(ctx, side);
    try {
      return await withClient(endpoint, step.id, async (c) => {
        // Ctrl-C cancels the statement on the server (a vanished client does not stop a running query).
        const pid = backendPid(c);
        const cancel = () => { if (pid) void withClient(endpoint, `${step.id}/cancel`, (k) => k.query('SELECT pg_cancel_backend($1)', [pid])).catch(() => undefined); };
        ctx.signal.addEventListener('abort', cancel, { once: true });
        const res = await c.query(step.body).finally(() => ctx.signal.removeEventListener('abort', cancel));
        const results = Array.isArray(res) ? res : [res];
        const last = [...results].reverse().find((r) => r.rows?.length) ?? results.at(-1)!;
        const shown = (last.rows ?? []).slice(0, 5).map((r: Record<string, unknown>) => Object.entries(r).map(([k, v]) => `${k}=${v === null ? 'NULL' : String(v)}`).join(' '));
        for (const l of shown) ctx.log(l);
        return { rows: last.rowCount ?? 0, connections: oneSessionOn(side), summary: shown[0] };
      });
    } catch (e) {
      if (e instanceof CutoverError) throw e;
      const state = sqlStateOf(e);
      throw new CutoverError('E_SQL', `sql on ${side} failed${state ? ` (SQLSTATE ${state})` : ''}: ${scrub((e as Error).message, secrets)}`, { cause: e });
    }
  }
  if (step.kind === 'sh') {
    // Declared connections ({connections=S/T}) are admitted by the run's governor and counted until the end.
    const declared = (step.options as { connections?: { source: number; target: number } }).connections;
    const releases = declared ? [await admitConnections(ctx.source, declared.source, `cutover/${step.id}`)] : [];
    if (declared) releases.push(await admitConnections(ctx.target, declared.target, `cutover/${step.id}`).catch((e: unknown) => { releases[0]!(); throw e; }));
    // SOURCE_URL, TARGET_URL and NAME_URL for each named endpoint (no password: it is in the passfile).
    const creds = await childCredentials(step.id, undefined, [
      { params: ctx.source, urlVar: 'SOURCE_URL' }, { params: ctx.target, urlVar: 'TARGET_URL' },
      ...Object.entries(ctx.endpoints).filter(([k]) => !['source', 'target', 'pooler'].includes(k)).map(([k, params]) => ({ params, urlVar: `${k.toUpperCase()}_URL` })),
    ]);
    try {
      // Its own process group, signalled as a whole on an interruption (the runner's signal is the abort
      // reason): a psql started by the script never outlives the step.
      const child = execa('sh', ['-c', step.body], { env: { ...creds.env, CUTOVER_STATE_DIR: ctx.stateDir }, extendEnv: true, all: true, reject: false, detached: true, stdin: 'ignore' });
      const unsupervise = superviseGroup(child.pid, ctx.signal);
      child.all?.on('data', (d: Buffer) => {
        const lines = d.toString().split('\n').filter(Boolean);
        // Every line goes to the step's log (the runner writes it to logs/<step>.log); the last is shown.
        for (const l of lines) ctx.log(scrub(l, secrets));
      });
      const r = await child.finally(unsupervise);
      const out = scrub(String(r.all ?? ''), secrets).trimEnd();
      if (r.exitCode !== 0 || r.isCanceled || ctx.signal.aborted) {
        throw new CutoverError('E_CHILD', `sh step exited with ${ctx.signal.aborted ? `${String(ctx.signal.reason)} (interrupted)` : `code ${r.exitCode ?? r.signal}`} after ${(r.durationMs / 1000).toFixed(1)} s:\n${out.split('\n').slice(-15).join('\n')}`);
      }
      const lines = out.split('\n').filter(Boolean);
      return { summary: lines.at(-1), connections: declared ?? { source: 0, target: 0 } };
    } finally {
      for (const r of releases) r();
      await creds.cleanup();
    }
  }
  if (step.kind === 'action') {
    const action = ACTIONS.get(step.action!)!;
    return action.run(ctx, step.options as never);
  }
  throw new CutoverError('E_INTERNAL', `executeStep: ${step.kind} steps are confirmed, not executed`);
}

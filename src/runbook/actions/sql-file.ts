/**
 * `cutover sql-file`: runs a `.sql` file kept beside the runbook on one endpoint, as one simple-protocol
 * query (one implicit transaction unless the file says otherwise). A failing statement is named by the
 * file's own FILE:LINE, so the operator opens the file where the server stopped.
 */
import { readFile } from 'node:fs/promises';
import { isAbsolute, join, relative } from 'node:path';
import { z } from 'zod';
import { CutoverError } from '../../errors.js';
import { withClient } from '../../pg/connect.js';
import { resolveEndpoint } from '../../pg/endpoint.js';
import { sqlStateOf } from '../../pg/sqlstate.js';
import { SqlFileDoc } from '../../json/shapes-engines.js';
import { defineAction, type ExecContext } from './types.js';
import { endpointOption } from '../model.js';
import { endpointOf, oneSessionOn } from './common.js';

const schema = z.strictObject({
  file: z.string().min(1).regex(/\.sql$/, 'must name a .sql file').describe('the .sql file (a step\'s: relative to the runbook; a command\'s: to the current directory)'),
  on: endpointOption.describe('where it runs: source, target, or an endpoint the runbook names (connections: { reporting: ... })'),
});

async function execute(ctx: ExecContext, o: z.infer<typeof schema>): Promise<{ file: string; on: string; statements: number; durationMs: number }> {
  const path = isAbsolute(o.file) ? o.file : join(ctx.runbookDir ?? '.', o.file);
  const text = await readFile(path, 'utf8').catch((e: unknown) => {
    throw new CutoverError('E_USAGE', `sql-file: cannot read ${path}: ${(e as Error).message}`, { hint: ctx.runbookDir ? 'a relative `file` is read from the runbook\'s folder' : 'a relative --file is read from the current directory' });
  });
  const shown = relative(process.cwd(), path) || path;
  const t0 = Date.now();
  return withClient(await resolveEndpoint(endpointOf(ctx, o.on)), ctx.stepId, async (c) => {
    try {
      await c.query(text);
    } catch (e) {
      // The server's position is a 1-based character offset into the text it was sent: the file.
      const pos = Number((e as { position?: string }).position);
      const line = pos > 0 ? text.slice(0, pos - 1).split('\n').length : undefined;
      const state = sqlStateOf(e);
      throw new CutoverError('E_SQL', `${shown}${line ? `:${line}` : ''}: ${(e as Error).message}${state ? ` (SQLSTATE ${state})` : ''}; the file ran as one transaction: none of it was committed (unless it commits itself)`, { cause: e });
    }
    const statements = text.split(';').filter((x) => x.replace(/--.*$/gm, '').trim()).length;
    return { file: shown, on: o.on, statements, durationMs: Date.now() - t0 };
  });
}

const ran = (r: { file: string; on: string; statements: number }) => `ran ${r.file} on the ${r.on} (~${r.statements} statement(s))`;

export const sqlFileAction = defineAction({
  name: 'sql-file',
  endpoints: (o) => ({ [o.on]: 'write' }),
  endpointsText: 'the `on` endpoint (source, target or a named one): write',
  description: 'run a .sql file (relative to the runbook) on one side, in one transaction; an error names the file\'s FILE:LINE',
  schema,
  async run(ctx, o) {
    const r = await execute(ctx, o);
    return { summary: ran(r), connections: oneSessionOn(o.on) };
  },
  cli: {
    description: 'run a .sql file on one side, in one transaction; a failing statement is named by the file\'s FILE:LINE and nothing of the file is committed',
    example: 'cutover sql-file --file migrations/add_audit.sql --on target --target env:TARGET_URL',
    flags: { file: { arg: 'path' }, on: { arg: 'side' } },
    execute,
    output: (r) => ({ doc: { ok: true as const, ...r }, text: () => ran(r) }),
    doc: SqlFileDoc,
  },
});

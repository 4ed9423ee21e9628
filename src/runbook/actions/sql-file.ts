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
import { defineAction } from './types.js';

export const sqlFileAction = defineAction({
  name: 'sql-file',
  endpoints: (o) => ({ [o.on]: 'write' }),
  endpointsText: 'the `on` side: write',
  description: 'run a .sql file (relative to the runbook) on one side, in one transaction; an error names the file\'s FILE:LINE',
  schema: z.strictObject({ file: z.string().min(1).regex(/\.sql$/, 'must name a .sql file'), on: z.enum(['source', 'target']) }),
  async run(ctx, o) {
    const path = isAbsolute(o.file) ? o.file : join(ctx.runbookDir ?? '.', o.file);
    const text = await readFile(path, 'utf8').catch((e: unknown) => {
      throw new CutoverError('E_USAGE', `sql-file: cannot read ${path}: ${(e as Error).message}`, { hint: 'a relative `file` is read from the runbook\'s folder' });
    });
    const shown = relative(process.cwd(), path) || path;
    return withClient(await resolveEndpoint(ctx[o.on]), ctx.stepId, async (c) => {
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
      return { summary: `ran ${shown} on the ${o.on} (~${statements} statement(s))`, connections: { source: o.on === 'source' ? 1 : 0, target: o.on === 'target' ? 1 : 0 } };
    });
  },
});

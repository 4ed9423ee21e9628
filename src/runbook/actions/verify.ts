import { z } from 'zod';
import { verify, VERIFY_LEVELS, type VerifyReport } from '../../verify/verify.js';
import { renderVerify } from '../../verify/render.js';
import { DEMANDS } from '../../budget/auto.js';
import { CutoverError, EXIT } from '../../errors.js';
import { parseRoleMapArgs, roleMapFromObject } from '../../pg/role-map.js';
import { VerifyDoc } from '../../json/shapes-engines.js';
import { failed } from '../../json/base.js';
import { defineAction, type ExecContext } from './types.js';
import { tablesProgress } from '../../lib/progress.js';
import { endpointOf, jobsOption, resolveJobs, wholeNumber } from './common.js';
import { verifyOutcome } from '../key-results.js';

const schema = z.strictObject({
  level: z.enum(VERIFY_LEVELS).default('checksums').describe('how deep to compare'),
  jobs: jobsOption.describe('worker sessions per side (each side also opens one snapshot leader)'),
  tables: z.array(z.string()).optional().describe('only these tables (each must exist; unqualified names resolve as search_path would)'),
  exclude_tables: z.array(z.string()).optional().describe('not these tables (each must exist)'),
  role_map: z.record(z.string(), z.string()).optional().describe('source role -> target role for owners and grants'),
  chunk_rows: wholeNumber(1).optional().describe('rows per checksum chunk'),
});
const commandOptions = z.strictObject({
  max_reported: wholeNumber(1).default(20).describe('differences listed per table (all are counted)'),
});

async function execute(ctx: ExecContext, o: z.infer<typeof schema>, x: Partial<z.infer<typeof commandOptions>>): Promise<{ report: VerifyReport; jobs: number }> {
  const jobs = await resolveJobs(ctx, 'verify', o.jobs, DEMANDS.verify);
  const view = tablesProgress();
  const report = await verify({
    source: endpointOf(ctx, 'source'), target: endpointOf(ctx, 'target'), level: o.level, jobs, tables: o.tables, excludeTables: o.exclude_tables,
    roleMap: o.role_map ? roleMapFromObject(o.role_map) : undefined, chunkRows: o.chunk_rows, maxReported: x.max_reported,
    onTables: (p) => { view.update(p); ctx.progress(() => view.text()); },
  });
  return { report, jobs };
}

export const verifyAction = defineAction({
  name: 'verify',
  endpoints: { source: 'read', target: 'read' },
  demand: DEMANDS.verify,
  description: 'counts, chunked checksums down to the differing rows, sequences and schema; fails on any difference',
  schema,
  async run(ctx, o) {
    const { report: r, jobs } = await execute(ctx, o, {});
    const rows = r.tables.reduce((n, t) => n + t.sourceRows, 0);
    // The counts go with the failure too: the report of a failed rehearsal shows what differed.
    const results = { kind: 'verify' as const, verify: verifyOutcome(o.level, r.ok, r.summary) };
    if (!r.ok) {
      throw new CutoverError('E_DIFFERENCE', `verify (${o.level}) found differences:\n${renderVerify(r)}`, { details: { results } });
    }
    return { rows, results, connections: { source: jobs + 1, target: jobs + 1 }, concurrency: jobs, summary: `identical: ${r.summary.tables} tables, ${rows} rows, ${r.summary.matviews} materialized views, ${r.summary.largeObjects} large objects` +
      `${r.sequences ? `, ${r.summary.sequences} sequences, ${r.summary.schemaObjects} schema objects, ${r.summary.privileges} privileges` : ''} compared` };
  },
  cli: {
    description: 'prove source and target hold the same data: exact counts, chunked checksums down to the differing rows, materialized views, large objects, sequences, schema, privileges',
    example: 'cutover verify --source env:SOURCE_URL --target env:TARGET_URL --level checksums --json',
    flags: {
      level: { arg: 'level' },
      jobs: { short: 'j', default: 2 },
      tables: { flag: 'table', arg: 'schema.table' },
      exclude_tables: { flag: 'exclude-table', arg: 'schema.table' },
      role_map: { arg: 'old=new', help: 'source role -> target role for owners and grants (repeatable)', fromArgs: (v) => Object.fromEntries(parseRoleMapArgs(v)) },
      chunk_rows: { default: 100_000 },
    },
    options: commandOptions,
    execute,
    output: ({ report }) => {
      const text = renderVerify(report);
      // The failure's message is the text's last line: what differs, and what was compared.
      return {
        doc: report.ok ? { ...report, ok: true as const } : { ...report, ...failed('E_DIFFERENCE', text.split('\n').at(-1)!) },
        text: () => text,
        exitCode: report.ok ? EXIT.ok : EXIT.difference,
      };
    },
    doc: VerifyDoc,
  },
});

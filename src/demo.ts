/**
 * The built-in demo: two throwaway servers (different major versions when available), the sample database
 * on the source, and the demo runbook (runbooks/demo.md) rehearsed against them: doctor, budget, the
 * streaming copy, verification, SQL and shell steps, a write-outage estimate and a report. Needs no
 * existing database.
 */
import { fileURLToPath } from 'node:url';
import { join, resolve } from 'node:path';
import { rm, writeFile } from 'node:fs/promises';
import { availableMajors, startClusters, stopAllClusters, createSampleDatabase } from './testing/index.js';
import { redact } from './pg/conninfo.js';
import { EXIT, describeError } from './errors.js';
import { loadRunbook } from './runbook/parse.js';
import { runRunbook } from './runbook/runner.js';
import { renderRunbook } from './runbook/render.js';
import { outageText, writeReport } from './runbook/report.js';
import { findClientTools } from './pg/tools.js';

export interface DemoOptions {
  rows?: number;
  sourceVersion?: number;
  targetVersion?: number;
  /** Where the journal, summary, report and rendered checklist go. */
  outDir?: string;
  log: (m: string) => void;
}

export const DEMO_RUNBOOK = fileURLToPath(new URL('../runbooks/demo.md', import.meta.url));

export async function runDemo(o: DemoOptions): Promise<number> {
  const majors = await availableMajors();
  // pg_dump must be at least as new as the source: the demo's source is the newest server it can dump.
  const pgDump = (await findClientTools('pg_dump'))[0]?.major ?? 15;
  const sourceVersion = o.sourceVersion ?? majors.filter((m) => m <= pgDump)[0] ?? majors[0] ?? 15;
  const targetVersion = o.targetVersion ?? majors.at(-1) ?? 15;
  const outDir = resolve(o.outDir ?? join('.cutover', 'demo'));
  await rm(outDir, { recursive: true, force: true });
  o.log(`demo: starting PostgreSQL ${sourceVersion} (source) and ${targetVersion} (target) in temporary directories...`);
  const stop = () => { void stopAllClusters().finally(() => process.exit(EXIT.interrupted)); };
  process.once('SIGINT', stop);
  try {
    const [source, target] = await startClusters([{ version: sourceVersion }, { version: targetVersion }]);
    await source!.createDatabase('shop');
    await target!.createDatabase('shop');
    o.log(`demo: loading the sample database (${o.rows ?? 20000} base rows: every common type, hostile names, partitions, a table without a key)`);
    await createSampleDatabase(source!.url('shop'), { rows: o.rows ?? 20000 });
    // The runbook names environment variables; the demo sets them (never argv).
    process.env.SOURCE_URL = source!.url('shop');
    process.env.TARGET_URL = target!.url('shop');
    o.log(`demo: source ${redact(source!.params('shop'))}\ndemo: target ${redact(target!.params('shop'))}`);
    o.log(`demo: cutover rehearse ${DEMO_RUNBOOK} --yes\n`);
    const rb = await loadRunbook(DEMO_RUNBOOK);
    const r = await runRunbook({
      runbook: rb, mode: 'rehearse', source: source!.params('shop'), target: target!.params('shop'),
      stateDir: outDir, yes: true, fresh: true, manualDurationMs: 0,
    });
    const files = await writeReport(outDir, r.summary);
    const checklist = join(outDir, 'checklist.html');
    await writeFile(checklist, renderRunbook(rb, 'html', r.summary));
    o.log(`\ndemo: rehearsal ${r.outcome} in ${(r.summary.durationMs / 1000).toFixed(1)} s. ${outageText(r.summary)}`);
    o.log(`demo: report ${files[1]}, timeline ${files[2]}, checklist with rehearsed timings ${checklist}`);
    if (r.outcome !== 'ok') {
      o.log(`demo: failed: ${describeError(r.error)}`);
      return EXIT.stepFailed;
    }
    return EXIT.ok;
  } finally {
    process.off('SIGINT', stop);
    await stopAllClusters();
  }
}

/**
 * The built-in demo: two throwaway servers (different major versions when available), the sample database
 * on the source, and cutover's checks run against them. Needs no existing database.
 */
import { availableMajors, startClusters, stopAllClusters, createSampleDatabase } from './testing/index.js';
import { doctor } from './doctor/doctor.js';
import { renderDoctor } from './cli/commands/doctor.js';
import { redact } from './pg/conninfo.js';
import { EXIT } from './errors.js';

export interface DemoOptions {
  rows?: number;
  sourceVersion?: number;
  targetVersion?: number;
  log: (m: string) => void;
}

export async function runDemo(o: DemoOptions): Promise<number> {
  const majors = await availableMajors();
  // The client tools must be at least as new as the source: pick a source no newer than the local pg_dump.
  const sourceVersion = o.sourceVersion ?? majors[0] ?? 15;
  const targetVersion = o.targetVersion ?? majors.at(-1) ?? 15;
  o.log(`demo: starting PostgreSQL ${sourceVersion} (source) and ${targetVersion} (target) in temporary directories...`);
  const stop = () => { void stopAllClusters().finally(() => process.exit(EXIT.interrupted)); };
  process.once('SIGINT', stop);
  try {
    const [source, target] = await startClusters([{ version: sourceVersion }, { version: targetVersion }]);
    const srcUrl = await source!.createDatabase('shop');
    await target!.createDatabase('shop');
    o.log(`demo: loading the sample database (${o.rows ?? 2000} base rows) into ${redact(source!.params('shop'))}`);
    await createSampleDatabase(srcUrl, { rows: o.rows ?? 2000 });
    o.log(`demo: cutover doctor --source ${redact(source!.params('shop'))} --target ${redact(target!.params('shop'))}\n`);
    const report = await doctor({ source: source!.params('shop'), target: target!.params('shop'), headroom: '10%' });
    o.log(renderDoctor(report));
    o.log('\ndemo: the sample database has a table without a primary key on purpose (billing.audit_log): doctor flags it.');
    return EXIT.ok;
  } finally {
    process.off('SIGINT', stop);
    await stopAllClusters();
  }
}

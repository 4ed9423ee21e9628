/**
 * `npm run bench`: every benchmark in bench/, one after the other (never in parallel: they would share
 * the two cores), each with its full output, then one table of medians and ratios against the reference
 * tools measured in the same run. Not part of npm test.
 *
 *   npm run bench                        # the defaults below (about 25 minutes on a 2-core machine)
 *   npm run bench -- --gb 3.3 --rounds 3 # larger databases, as docs/performance.md quotes
 *   npm run bench -- --only copy,verify
 *   npm run bench -- --gb 0.1 --rounds 1 --seconds 5 --bulk 50000   # a smoke run of the whole chain
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { arg, type BenchResult } from './lib.js';

const gb = arg('gb', '1');
const rounds = arg('rounds', '3');
const only = arg('only', 'copy,verify,replicate').split(',');
const seconds = arg('seconds', '20');
const bulk = arg('bulk', '500000');
const RUNS: Record<string, string[]> = {
  copy: ['bench/copy.ts', '--gb', gb, '--rounds', rounds, '--jobs', '2'],
  verify: ['bench/verify.ts', '--gb', gb, '--rounds', rounds, '--jobs', '2'],
  replicate: ['bench/replicate.ts', '--part', 'all', '--gb', gb, '--rounds', rounds, '--seconds', seconds, '--bulk', bulk, '--rate', '1000'],
};

const dir = await mkdtemp(join(tmpdir(), 'cutover-bench-all-'));
const results = join(dir, 'results.jsonl');
const failed: string[] = [];
const t0 = Date.now();
try {
  for (const name of only) {
    const args = RUNS[name];
    if (!args) throw new Error(`unknown benchmark "${name}" (known: ${Object.keys(RUNS).join(', ')})`);
    console.log(`\n# npx tsx ${args.join(' ')}\n`);
    const r = await execa('npx', ['tsx', ...args], { stdio: 'inherit', reject: false, env: { BENCH_RESULTS: results } });
    if (r.exitCode !== 0) failed.push(`${name} (exit ${r.exitCode})`);
  }
  const rows = (await readFile(results, 'utf8').catch(() => '')).split('\n').filter(Boolean).map((l) => JSON.parse(l) as BenchResult);
  const fmt = (v: number, unit: string) => `${unit === 's' ? v.toFixed(1) : v.toFixed(0)} ${unit}`;
  console.log(`\n# Summary: ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), ${Math.round(totalmem() / 1024 ** 3)} GiB, ` +
    `--gb ${gb} --rounds ${rounds}, ${((Date.now() - t0) / 60000).toFixed(0)} min\n`);
  console.log('| benchmark | measured | median | ratio (same run) |\n|---|---|---|---|');
  for (const r of rows) {
    const ratios = Object.entries(r.ratios ?? {}).map(([ref, x]) => `${x.toFixed(2)}x ${ref}`).join(', ');
    console.log(`| ${r.bench} | ${r.what} | ${fmt(r.value, r.unit)} | ${ratios} |`);
  }
  console.log('\nRatios are value / reference: below 1.00x is faster for times, lower for throughput (TPS).');
  if (failed.length) {
    console.log(`\nFAILED: ${failed.join(', ')}`);
    process.exitCode = 1;
  }
} finally {
  await rm(dir, { recursive: true, force: true });
}

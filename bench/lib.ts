/** Shared benchmark helpers: timing child commands, medians, ratio tables. Not part of npm test. */
import { appendFileSync } from 'node:fs';
import { execa } from 'execa';

export interface Sample { method: string; round: number; seconds: number }

/** `detached`: own process group (pgcopydb signals its whole group when it exits). */
export async function timed(cmd: string, args: string[], env: Record<string, string | undefined> = {}, detached = false): Promise<number> {
  const t0 = process.hrtime.bigint();
  const r = await execa(cmd, args, { env, extendEnv: true, reject: false, all: true, detached });
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.exitCode !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.exitCode}):\n${String(r.all).slice(-3000)}`);
  return s;
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export function report(samples: Sample[], baseline: string[]): string {
  const methods = [...new Set(samples.map((s) => s.method))];
  const med = new Map(methods.map((m) => [m, median(samples.filter((s) => s.method === m).map((s) => s.seconds))]));
  const lines = [`| method | runs (s) | median (s) | ${baseline.map((b) => `vs ${b}`).join(' | ')} |`, `|---|---|---|${baseline.map(() => '---').join('|')}|`];
  for (const m of methods) {
    const runs = samples.filter((s) => s.method === m).map((s) => s.seconds.toFixed(1)).join(', ');
    const ratios = baseline.map((b) => (med.has(b) ? `${(med.get(m)! / med.get(b)!).toFixed(2)}x` : '-'));
    lines.push(`| ${m} | ${runs} | ${med.get(m)!.toFixed(1)} | ${ratios.join(' | ')} |`);
  }
  return lines.join('\n');
}

export function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : dflt;
}

/** One line of the combined table `npm run bench` prints (bench/all.ts). */
export interface BenchResult {
  bench: string;
  /** What was measured, e.g. "cutover copy", "row triggers: pgbench tpcb-like". */
  what: string;
  value: number;
  unit: string;
  /** value / reference's value, per reference measured in the same run. */
  ratios?: Record<string, number>;
}

/** Appends results to the file named by BENCH_RESULTS (JSON lines), when set; bench/all.ts reads them. */
export function record(results: BenchResult[]): void {
  const file = process.env.BENCH_RESULTS;
  if (file) appendFileSync(file, results.map((r) => JSON.stringify(r)).join('\n') + '\n');
}

/** Each method's median time and its ratio to every reference that was measured. */
export function recordSamples(bench: string, samples: Sample[], references: string[]): void {
  const methods = [...new Set(samples.map((s) => s.method))];
  const med = new Map(methods.map((m) => [m, median(samples.filter((s) => s.method === m).map((s) => s.seconds))]));
  record(methods.map((m) => ({
    bench, what: m, value: med.get(m)!, unit: 's',
    ratios: Object.fromEntries(references.filter((r) => r !== m && med.has(r)).map((r) => [r, med.get(m)! / med.get(r)!])),
  })));
}

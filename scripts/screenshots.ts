/**
 * Screenshots of the rendered checklist and the rehearsal report, from real rehearsals, checked.
 *
 *   npx tsx scripts/screenshots.ts [outdir]        (default .cutover/screenshots; needs Debian's chromium)
 *
 * Rehearses two shipped runbooks against throwaway servers (the harness in src/testing): the demo's
 * runbooks/online-cutover.md under a write load (its manual steps state 30 s, 1 min and 2 days, which the
 * timeline must not let swallow the measured seconds), and runbooks/dump-restore-window.md on the sample
 * database. For each, renders the checklist with the rehearsal's timings and the report, takes PNGs with
 * headless Chromium, and checks through Chromium's DOM dump that the page has its title, every step's
 * title and the verify result, and that each PNG is a picture (its size, colours, not one blank colour).
 * Exits 1 if a check fails. Not part of `npm test`: CI has no Chromium (docs/testing.md).
 * CHROMIUM=/path/to/chromium picks another binary.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { runDemo } from '../src/cli/demo-run.js';
import { availableMajors, createSampleDatabase, startClusters, stopAllClusters } from '../src/testing/index.js';
import { findClientTools } from '../src/pg/tools.js';
import { loadRunbook } from '../src/runbook/parse.js';
import { runRunbook } from '../src/runbook/runner.js';
import { renderRunbook } from '../src/runbook/render.js';
import { verifyVerdicts, writeReport } from '../src/runbook/report.js';
import { loadTimings, type RunSummary } from '../src/runbook/timings.js';
import { stepResultLines } from '../src/runbook/results-text.js';
import { pngStats } from './png.js';

const run = promisify(execFile);
const WIDTH = 1280, HEIGHT = 2000;
const outDir = resolve(process.argv[2] ?? join('.cutover', 'screenshots'));
const chromium = process.env.CHROMIUM ?? '/usr/bin/chromium';
const failures: string[] = [];
const check = (ok: boolean, what: string) => { if (!ok) failures.push(what); };
const log = (m: string) => process.stdout.write(`${m}\n`);

interface Page { name: string; file: string; title: string; mustContain: string[] }

/** Chromium headless, as root too (no sandbox there), with a profile of its own that is removed after. */
async function chrome(args: string[]): Promise<string> {
  const profile = await mkdtemp(join(tmpdir(), 'cutover-chromium-'));
  try {
    const r = await run(chromium, ['--headless', '--no-sandbox', '--disable-gpu', '--hide-scrollbars', '--no-first-run', `--user-data-dir=${profile}`, ...args],
      { maxBuffer: 64 * 1024 * 1024, timeout: 120_000 });
    return r.stdout;
  } finally {
    await rm(profile, { recursive: true, force: true });
  }
}

/** The page's text as a reader sees it: tags out, entities decoded, spaces collapsed. */
function textOf(dom: string): string {
  return dom.replace(/<style[\s\S]*?<\/style>/g, ' ').replace(/<\/?(code|b|i|span|small|a)\b[^>]*>/g, '').replace(/<[^>]+>/g, ' ')
    .replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&nbsp;/g, ' ').replace(/&amp;/g, '&')
    .replace(/`/g, '').replace(/\s+/g, ' ');
}
const squash = (t: string) => t.replace(/`/g, '').replace(/\s+/g, ' ').trim();

async function shoot(p: Page): Promise<void> {
  const png = join(outDir, `${p.name}.png`);
  const url = `file://${p.file}`;
  await chrome([`--screenshot=${png}`, `--window-size=${WIDTH},${HEIGHT}`, url]);
  const text = textOf(await chrome(['--dump-dom', url]));
  check(text.includes(squash(p.title)), `${p.name}: the title "${p.title}" is not on the page`);
  for (const m of p.mustContain) check(text.includes(squash(m)), `${p.name}: "${m}" is not on the page`);
  if (!existsSync(png)) { failures.push(`${p.name}: no screenshot written`); return; }
  const buf = await readFile(png);
  const s = pngStats(buf);
  check(s.width === WIDTH && s.height === HEIGHT, `${p.name}.png is ${s.width}x${s.height}, not ${WIDTH}x${HEIGHT}`);
  check(buf.length > 30_000, `${p.name}.png is only ${buf.length} bytes`);
  // A rendered page: text in several colours over a background, not a blank (one-colour) picture.
  check(s.colours >= 32, `${p.name}.png has ${s.colours} colour(s)`);
  check(s.inked > 0.02, `${p.name}.png is ${(100 - s.inked * 100).toFixed(1)} % one colour`);
  log(`${p.name}: ${png} (${s.width}x${s.height}, ${Math.round(buf.length / 1024)} kB, ${s.colours >= 4096 ? '4096+' : s.colours} colours, ${(s.inked * 100).toFixed(1)} % inked); ${p.mustContain.length} texts checked`);
}

/** The pages of one rehearsal: its report and its checklist, with what each must show. */
function pages(name: string, dir: string, s: RunSummary): Page[] {
  const verdicts = verifyVerdicts(s).map((v) => v.line);
  check(verdicts.length > 0, `${name}: the rehearsal has no verify result`);
  check(verdicts.every((v) => v.startsWith('verified (')), `${name}: a verify did not say identical: ${verdicts.join('; ')}`);
  const titles = s.steps.map((t) => t.title);
  // Under each step of the checklist: what its rehearsal found (the verify lines among them).
  const found = s.steps.flatMap((t) => stepResultLines(t).slice(0, 2));
  const verifies = s.steps.flatMap((t) => stepResultLines(t).filter((l) => /^verif(y|ied) \(/.test(l)));
  check(verifies.length > 0, `${name}: no step shows a verify result in the checklist`);
  return [
    { name: `${name}-report`, file: join(dir, 'report.html'), title: `${s.name}: rehearsal report`, mustContain: [...verdicts, ...titles, 'Results', 'Timeline'] },
    { name: `${name}-checklist`, file: join(dir, 'checklist.html'), title: s.name, mustContain: [...verifies, ...titles, ...found] },
  ];
}

async function demoPages(): Promise<Page[]> {
  const dir = join(outDir, 'online-cutover');
  const code = await runDemo({ outDir: dir, rows: 5000, log: (m) => log(m.split('\n').map((l) => `  ${l}`).join('\n')) });
  check(code === 0, `the demo's rehearsal exited ${code}`);
  return pages('online-cutover', dir, await loadTimings(join(dir, 'summary.json')));
}

async function windowPages(): Promise<Page[]> {
  const dir = join(outDir, 'dump-restore-window');
  await rm(dir, { recursive: true, force: true });
  const majors = await availableMajors();
  const pgDump = (await findClientTools('pg_dump'))[0]?.major ?? 15;
  const [src, tgt] = await startClusters([{ version: majors.filter((m) => m <= pgDump).at(-1) ?? 15 }, { version: majors.at(-1) ?? 15 }]);
  try {
    await src!.createDatabase('shop');
    await tgt!.createDatabase('shop');
    await createSampleDatabase(src!.url('shop'), { rows: 5000 });
    const rb = await loadRunbook(fileURLToPath(new URL('../runbooks/dump-restore-window.md', import.meta.url)));
    log(`rehearsing ${rb.file}`);
    const r = await runRunbook({ runbook: rb, mode: 'rehearse', source: src!.params('shop'), target: tgt!.params('shop'), stateDir: dir, yes: true, fresh: true, renderer: 'simple' });
    check(r.outcome === 'ok', `dump-restore-window.md: rehearsal ${r.outcome}`);
    await writeReport(dir, r.summary);
    await writeFile(join(dir, 'checklist.html'), renderRunbook(rb, 'html', r.summary));
    return pages('dump-restore-window', dir, r.summary);
  } finally {
    await stopAllClusters();
  }
}

async function main(): Promise<number> {
  if (!existsSync(chromium)) {
    log(`screenshots: no Chromium at ${chromium} (Debian: apt-get install chromium; or set CHROMIUM)`);
    return 2;
  }
  await mkdir(outDir, { recursive: true });
  const all = [...await demoPages(), ...await windowPages()];
  for (const p of all) await shoot(p);
  if (failures.length) {
    log(`\nscreenshots: ${failures.length} check(s) failed:\n${failures.map((f) => `  - ${f}`).join('\n')}`);
    return 1;
  }
  log(`\nscreenshots: ${all.length} pages checked, PNGs in ${outDir}`);
  return 0;
}

main().then((code) => { process.exitCode = code; }, (e: unknown) => { log(`screenshots: ${(e as Error).stack ?? String(e)}`); process.exitCode = 1; });

/**
 * The folder layout is the architecture (docs/architecture.md): no import cycle between the folders of
 * src/, the library never prompts, prints or exits, and src/pg (connections) stands below the engines.
 * Read from the sources, no server needed.
 */
import { describe, expect, it } from 'vitest';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';

const files: string[] = [];
const walk = (d: string) => { for (const f of readdirSync(d)) { const p = join(d, f); if (statSync(p).isDirectory()) walk(p); else if (p.endsWith('.ts')) files.push(p); } };
walk('src');

/** A file's unit: its top folder under src/, or the file itself at the top. */
const unitOf = (p: string) => { const parts = relative('src', p).split('/'); return parts.length > 1 ? parts[0]! : parts[0]!.replace(/\.js$/, '.ts'); };
const imports = (p: string) => [...readFileSync(p, 'utf8').matchAll(/from '(\.[^']+)'/g)].map((m) => normalize(join(dirname(p), m[1]!)));

describe('the architecture', () => {
  it('has no import cycle between the folders of src/ (src/index.ts, the library\'s entry, aside)', () => {
    const deps = new Map<string, Set<string>>();
    for (const f of files.filter((x) => x !== join('src', 'index.ts'))) {
      const from = unitOf(f);
      for (const to of imports(f).map(unitOf)) if (to !== from) deps.set(from, (deps.get(from) ?? new Set()).add(to));
    }
    const reaches = (a: string, b: string, seen = new Set<string>()): boolean =>
      [...(deps.get(a) ?? [])].some((x) => x === b || (!seen.has(x) && reaches(x, b, seen.add(x))));
    const cycles = [...deps].flatMap(([a, tos]) => [...tos].filter((b) => reaches(b, a)).map((b) => `${a} <-> ${b}`));
    expect(cycles).toEqual([]);
    // The layers that must not look up: connections below budget and the engines; the engines below the runbook and the CLI.
    expect([...(deps.get('pg') ?? [])].filter((x) => ['budget', 'dump', 'replicate', 'verify', 'runbook', 'cli'].includes(x))).toEqual([]);
    for (const engine of ['dump', 'replicate', 'verify', 'budget', 'pooler']) expect({ engine, up: [...(deps.get(engine) ?? [])].filter((x) => ['runbook', 'cli'].includes(x)) }).toEqual({ engine, up: [] });
  });

  it('keeps prompts, terminal output and process exits in the CLI: the library and its engines have none', () => {
    const library = files.filter((f) => !f.startsWith(join('src', 'cli')) && !f.startsWith(join('src', 'testing')));
    const found = library.flatMap((f) => readFileSync(f, 'utf8').split('\n').map((l, i) => ({ at: `${f}:${i + 1}`, l }))
      .filter(({ l }) => !/^\s*(\/\/|\*|\/\*\*)/.test(l) && /process\.exit\(|process\.std(out|err)\.write|console\.(log|error)|@inquirer\/prompts|prompt-adapter-inquirer/.test(l)).map((x) => x.at));
    expect(found).toEqual([]);
  });
});

/**
 * Front matter: raw YAML -> checked FrontMatter, every problem collected with its line (as
 * graphile-migrate's settings.ts does), unknown keys rejected.
 */
import { LineCounter, parseDocument, isNode, type Document } from 'yaml';
import { z } from 'zod';
import { parseConnString } from '../pg/conninfo.js';
import { parseHeadroom } from '../budget/capacity.js';
import { parseDuration } from '../lib/duration.js';
import { type ConnectionRef, ENDPOINT_NAME, type FrontMatter, RESERVED_ENDPOINTS } from './model.js';
import { roleMapFromObject } from '../pg/role-map.js';

export interface Located { line: number; message: string }

const connRef = z.union([
  z.string().min(1),
  z.strictObject({ env: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'an environment variable name') }),
  z.strictObject({ url: z.string().min(1) }),
]);

const rawSchema = z.strictObject({
  name: z.string().min(1),
  // Other keys are named endpoints (checked below: their names, and the same names in both sets).
  connections: z.object({
    source: connRef,
    target: connRef,
    pooler: connRef.optional(),
    rehearsal: z.object({ source: connRef, target: connRef, pooler: connRef.optional() }).catchall(connRef).optional(),
  }).catchall(connRef),
  downtime_budget: z.string().optional(),
  headroom: z.union([z.number().int().min(0), z.string()]).optional(),
  max_parallel: z.number().int().min(1).max(64).default(2),
  defaults: z.record(z.string(), z.record(z.string(), z.unknown())).default({}),
  roles: z.strictObject({
    map: z.record(z.string().min(1), z.string().min(1, 'a role name')).default({}),
    create: z.boolean().default(false),
    drop_unmapped: z.boolean().default(false),
  }).optional(),
});

export function toConnectionRef(v: z.infer<typeof connRef>): ConnectionRef {
  if (typeof v !== 'string') return v;
  if (v.startsWith('env:')) return { env: v.slice(4) };
  if (/^\$\{?[A-Za-z_][A-Za-z0-9_]*\}?$/.test(v)) return { env: v.replace(/^\$\{?|\}$/g, '') };
  return { url: v };
}

/** Line (1-based, in the file) of the node at `path`, or of its closest existing parent. */
export function lineOf(doc: Document, lc: LineCounter, path: (string | number)[], offset: number): number {
  for (let n = path.length; n >= 0; n--) {
    const node = n === 0 ? doc.contents : doc.getIn(path.slice(0, n), true);
    if (isNode(node) && node.range) return lc.linePos(node.range[0]).line + offset;
  }
  return 1 + offset;
}

export function parseYaml(text: string, offset: number): { doc: Document; lc: LineCounter; problems: Located[] } {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, uniqueKeys: true });
  const problems = doc.errors.map((e) => ({ line: (e.linePos?.[0].line ?? 1) + offset, message: `bad YAML: ${e.message.split('\n')[0]}` }));
  return { doc, lc, problems };
}

/** `offset`: lines before the YAML text in the file (the opening ---). */
export function checkFrontMatter(text: string, offset: number): { front?: FrontMatter; problems: Located[] } {
  const { doc, lc, problems } = parseYaml(text, offset);
  if (problems.length) return { problems };
  const raw = (doc.toJS() ?? {}) as Record<string, unknown>;
  const parsed = rawSchema.safeParse(raw);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const path = issue.path.filter((p): p is string | number => typeof p !== 'symbol');
      const where = path.join('.') || 'front matter';
      const unknown = issue.code === 'unrecognized_keys';
      const msg = unknown ? `unknown key(s) ${issue.keys.map((k) => `"${k}"`).join(', ')} in ${where}` : `${where}: ${issue.message}`;
      problems.push({ line: lineOf(doc, lc, unknown ? [...path, issue.keys[0]!] : path, offset), message: msg });
    }
  }
  // The field checks below run on the raw values too, so every problem is reported in one pass.
  const conns = (raw.connections ?? {}) as Record<string, unknown>;
  const rehearsalRaw = (conns.rehearsal ?? {}) as Record<string, unknown>;
  const refs: [string, ConnectionRef][] = [];
  const namedIn = (set: Record<string, unknown>) => Object.keys(set).filter((k) => !(RESERVED_ENDPOINTS as readonly string[]).includes(k));
  const named = namedIn(conns), namedRehearsal = namedIn(rehearsalRaw);
  for (const [name, v] of [['source', conns.source], ['target', conns.target], ['pooler', conns.pooler], ['rehearsal.source', rehearsalRaw.source],
    ['rehearsal.target', rehearsalRaw.target], ['rehearsal.pooler', rehearsalRaw.pooler],
    ...named.map((k) => [k, conns[k]] as const), ...namedRehearsal.map((k) => [`rehearsal.${k}`, rehearsalRaw[k]] as const)] as const) {
    if (v === undefined && name.endsWith('pooler')) continue;
    const ok = connRef.safeParse(v);
    if (ok.success) refs.push([name, toConnectionRef(ok.data)]);
  }
  // A named endpoint: a name sh steps can carry as NAME_URL, declared for the rehearsal too (a rehearsal
  // runs the same steps, so it needs the same endpoints).
  for (const [set, names] of [['connections', named], ['connections.rehearsal', namedRehearsal]] as const) {
    for (const k of names.filter((n) => !ENDPOINT_NAME.test(n))) {
      problems.push({ line: lineOf(doc, lc, [...set.split('.'), k], offset), message: `${set}.${k}: an endpoint's name is lower case letters, digits and _ (starting with a letter), e.g. reporting` });
    }
  }
  if (raw.connections && conns.rehearsal !== undefined) {
    for (const k of named.filter((n) => !namedRehearsal.includes(n))) {
      problems.push({ line: lineOf(doc, lc, ['connections', k], offset), message: `connections.${k}: declared for the run but not under connections.rehearsal (a rehearsal runs the same steps: add rehearsal: { ${k}: env:REHEARSAL_${k.toUpperCase()}_URL })` });
    }
    for (const k of namedRehearsal.filter((n) => !named.includes(n))) {
      problems.push({ line: lineOf(doc, lc, ['connections', 'rehearsal', k], offset), message: `connections.rehearsal.${k}: declared for the rehearsal but not for the run (add connections: { ${k}: env:${k.toUpperCase()}_URL })` });
    }
  }
  for (const [name, ref] of refs) {
    if (!ref.url) continue;
    const line = lineOf(doc, lc, ['connections', ...name.split('.')], offset);
    try {
      if (parseConnString(ref.url, { env: {} }).passwordSource === 'conninfo') {
        problems.push({ line, message: `connections.${name}: the connection string contains a password; a runbook is reviewed and shared: use env: VAR, PGPASSWORD or ~/.pgpass` });
      }
    } catch (e) {
      problems.push({ line, message: `connections.${name}: ${(e as Error).message}` });
    }
  }
  let downtimeBudgetMs: number | undefined;
  if (typeof raw.downtime_budget === 'string') {
    downtimeBudgetMs = parseDuration(raw.downtime_budget);
    if (downtimeBudgetMs === undefined) problems.push({ line: lineOf(doc, lc, ['downtime_budget'], offset), message: `downtime_budget: "${raw.downtime_budget}" is not a duration (e.g. "6h", "90 min")` });
  }
  if (typeof raw.headroom === 'string' || typeof raw.headroom === 'number') {
    try { parseHeadroom(raw.headroom); } catch (e) { problems.push({ line: lineOf(doc, lc, ['headroom'], offset), message: `headroom: ${(e as Error).message}` }); }
  }
  const rolesRaw = (raw.roles ?? {}) as Record<string, unknown>;
  if (rolesRaw.create === true && rolesRaw.drop_unmapped === true) {
    problems.push({ line: lineOf(doc, lc, ['roles', 'drop_unmapped'], offset), message: 'roles: create and drop_unmapped exclude each other (create the missing roles, or leave their grants out)' });
  }
  if (problems.length || !parsed.success) return { problems: problems.sort((a, b) => a.line - b.line) };
  const r = parsed.data;
  const get = (k: string) => refs.find(([n]) => n === k)![1];
  const opt = (k: string) => refs.find(([n]) => n === k)?.[1];
  const namedRefs = (prefix: string, names: string[]) => Object.fromEntries(names.map((k) => [k, get(`${prefix}${k}`)]));
  return {
    problems,
    front: {
      name: r.name,
      connections: {
        source: get('source'), target: get('target'), pooler: opt('pooler'), named: namedRefs('', named),
        rehearsal: r.connections.rehearsal
          ? { source: get('rehearsal.source'), target: get('rehearsal.target'), pooler: opt('rehearsal.pooler'), named: namedRefs('rehearsal.', namedRehearsal) }
          : undefined,
      },
      downtimeBudgetMs, headroom: r.headroom, maxParallel: r.max_parallel, defaults: r.defaults,
      roles: { map: roleMapFromObject(r.roles?.map), create: r.roles?.create ?? false, dropUnmapped: r.roles?.drop_unmapped ?? false },
    },
  };
}

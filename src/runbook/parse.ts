/**
 * Markdown runbook -> Runbook. Headings (##) are phases; fenced blocks are executable steps
 * (`cutover <action> {attrs}` with YAML options, `sql {on=source}`, `sh`); checklist items `- [ ] ...`
 * are manual steps, or give their title to the fenced block inside them; HTML comments
 * `<!-- cutover: writes-stopped -->` / `writes-resumed` delimit the write outage. Everything is checked in
 * one pass and every problem is reported as FILE:LINE: message.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import MarkdownIt from 'markdown-it';
import { CutoverError } from '../errors.js';
import { ACTIONS, stepEndpoints } from './actions/index.js';
import { estimateIn } from '../lib/duration.js';
import { closeMatches } from '../lib/similar.js';
import { checkFrontMatter, lineOf, parseYaml, type Located } from './front-matter.js';
import { ENDPOINT_NAME, type Marker, type Runbook, type RunbookProblem, type Step, formatProblem } from './model.js';

const md = new MarkdownIt('commonmark');
const EXEC_LANGS = new Set(['sql', 'sh', 'bash', 'shell', 'cutover']);
const ATTRS = new Set(['id', 'on', 'parallel', 'connections', 'title']);
const MARKER_RE = /<!--\s*cutover:\s*([a-z-]+)\s*-->/g;

export interface ParseResult { runbook?: Runbook; problems: RunbookProblem[] }

export async function loadRunbook(path: string): Promise<Runbook> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new CutoverError('E_USAGE', `cannot read runbook ${path}: ${code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : (e as Error).message}`);
  }
  const r = parseRunbook(text, path);
  if (!r.runbook) {
    throw new CutoverError('E_RUNBOOK', `${r.problems.length} problem(s) in ${basename(path)}:\n${r.problems.map(formatProblem).join('\n')}`, {
      hint: 'fix them and run `cutover check` again; nothing was run',
    });
  }
  return r.runbook;
}

function parseInfo(info: string): { lang: string; words: string[]; attrs: Record<string, string>; bad: string[] } {
  const brace = /\{([^}]*)\}\s*$/.exec(info);
  const head = (brace ? info.slice(0, brace.index) : info).trim().split(/\s+/).filter(Boolean);
  const attrs: Record<string, string> = {};
  const bad: string[] = [];
  if (brace) {
    const re = /([A-Za-z_][\w-]*)\s*=\s*("([^"]*)"|'([^']*)'|[^\s"']+)/g;
    const seen = brace[1]!.replace(re, (...g: string[]) => { attrs[g[1]!] = g[3] ?? g[4] ?? g[2]!; return ''; }).trim();
    if (seen) bad.push(`cannot read "${seen}" in {...}: use key=value`);
  }
  return { lang: (head[0] ?? '').toLowerCase(), words: head.slice(1), attrs, bad };
}

/** An id from a title: its words, lowercased, as many whole words as fit in 40 characters. */
function slug(s: string): string {
  const words = s.toLowerCase().normalize('NFKD').replace(/[\u0300-\u036f]/g, '').replace(/\(est\.?[^)]*\)/g, '')
    .split(/[^a-z0-9]+/).filter(Boolean);
  let out = '';
  for (const w of words) {
    if (out && out.length + 1 + w.length > 40) break;
    out = out ? `${out}-${w}` : w;
  }
  return out.slice(0, 40) || 'step';
}

const ABBREVIATIONS = /(?:^|[\s(])(?:e\.g|i\.e|etc|vs|cf|approx|est|incl|no)\.$/i;

/**
 * A step's title from the text that describes it: its first sentence (a period, ! or ? followed by a
 * space, outside `code` and not ending an abbreviation); the whole text becomes the description when it
 * says more. A first sentence still longer than 100 characters is cut at a word.
 */
export function shortTitle(text: string): { title: string; description?: string } {
  let inCode = false, end = text.length;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (ch === '`') inCode = !inCode;
    else if (!inCode && (ch === '.' || ch === '!' || ch === '?') && (i + 1 === text.length || /\s/.test(text[i + 1]!)) && !ABBREVIATIONS.test(text.slice(Math.max(0, i - 8), i + 1))) {
      end = i + 1;
      break;
    }
  }
  let title = text.slice(0, end).trim();
  if (title.length > 100) {
    const cut = title.slice(0, 90);
    title = `${cut.slice(0, cut.lastIndexOf(' ') > 40 ? cut.lastIndexOf(' ') : 90).replace(/[\s,;:]+$/, '')}…`;
  }
  return title === text.trim() ? { title } : { title, description: text.trim() };
}

function cleanTitle(s: string): string {
  return s.replace(/^\[[ xX]\]\s*/, '').replace(MARKER_RE, '').replace(/\(est\.?[^)]*\)/gi, '').replace(/\s+/g, ' ')
    .replace(/\s+([.:;,])/g, '$1').replace(/[:\s]+$/, '').trim();
}

export function parseRunbook(text: string, file = 'runbook.md'): ParseResult {
  const name = basename(file);
  const problems: RunbookProblem[] = [];
  const add = (line: number, message: string) => problems.push({ file: name, line, message });

  // Front matter: a leading --- ... --- block (YAML).
  const fm = /^---\r?\n([\s\S]*?)\r?\n---[ \t]*(\r?\n|$)/.exec(text);
  let front: Runbook['front'] | undefined;
  let bodyOffset = 0;
  let body = text;
  if (!fm) {
    add(1, 'no front matter: start the file with a --- YAML block (name, connections: source, target)');
  } else {
    const r = checkFrontMatter(fm[1]!, 1);
    r.problems.forEach((p: Located) => add(p.line, p.message));
    front = r.front;
    bodyOffset = fm[0].split('\n').length - 1;
    body = text.slice(fm[0].length);
  }

  const tokens = md.parse(body, {});
  const bodyLines = body.split('\n');
  const steps: Step[] = [];
  const markers: Marker[] = [];
  const phases: string[] = [];
  const ids = new Map<string, number>();
  let phase = '';
  let rollback = false;
  let heading = '';
  // A ### heading titles the first block under it; the blocks after it take their own paragraph's.
  let headingUsed = false;
  let lastParagraph: { text: string; endLine: number; level: number } | undefined;
  let pendingCheck: { text: string; line: number; used: boolean; extra: string[] } | undefined;
  let listDepth = 0;
  const checkStack: (typeof pendingCheck)[] = [];
  const lineOfTok = (map: [number, number] | null | undefined) => (map ? map[0] + 1 + bodyOffset : bodyOffset + 1);

  const addStep = (s: Omit<Step, 'index' | 'id' | 'hash' | 'phase' | 'rollback'> & { explicitId?: string }) => {
    if (!phase) add(s.line, 'a step before the first ## phase heading: put it under a phase (e.g. ## Pre-checks)');
    let id = s.explicitId ?? slug(s.title);
    if (s.explicitId) {
      // Explicit ids were registered (and duplicates reported) when their block was read.
      if (!/^[A-Za-z0-9][\w.-]*$/.test(id)) add(s.line, `id "${id}": use letters, digits, -, _ and .`);
    } else {
      for (let n = 2; ids.has(id); n++) id = `${slug(s.title)}-${n}`;
    }
    ids.set(id, s.line);
    const { explicitId: _e, ...rest } = s;
    void _e;
    const hash = createHash('sha256').update(JSON.stringify({ k: s.kind, a: s.action, o: s.options, on: s.on, b: s.body })).digest('hex').slice(0, 16);
    steps.push({ ...rest, id, index: steps.length, phase, rollback, hash });
  };

  const scanMarkers = (content: string, line: number) => {
    for (const m of content.matchAll(MARKER_RE)) {
      const kind = m[1];
      if (kind !== 'writes-stopped' && kind !== 'writes-resumed') {
        add(line, `unknown marker "cutover: ${kind}": use writes-stopped or writes-resumed`);
        continue;
      }
      markers.push({ kind, line, beforeStep: steps.length, phase });
    }
  };

  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    switch (t.type) {
      case 'heading_open': {
        const textTok = tokens[i + 1]!;
        const title = textTok.content.trim();
        if (t.tag === 'h2') {
          phase = title;
          rollback = /^rollback\b/i.test(title);
          if (phases.includes(title)) add(lineOfTok(t.map), `duplicate phase "${title}"`);
          phases.push(title);
          heading = '';
        } else if (t.tag !== 'h1') { heading = title; headingUsed = false; }
        lastParagraph = undefined;
        break;
      }
      case 'bullet_list_open': case 'ordered_list_open': listDepth++; break;
      case 'bullet_list_close': case 'ordered_list_close': listDepth--; break;
      case 'list_item_open': checkStack.push(pendingCheck); pendingCheck = undefined; break;
      case 'list_item_close': {
        if (pendingCheck && !pendingCheck.used) {
          const { title, description } = shortTitle(cleanTitle(pendingCheck.text));
          addStep({ kind: 'manual', title, description, line: pendingCheck.line, options: {}, body: [pendingCheck.text.replace(/^\[[ xX]\]\s*/, ''), ...pendingCheck.extra].join('\n').replace(MARKER_RE, '').trim(),
            details: pendingCheck.extra.length ? pendingCheck.extra.join('\n') : undefined, estimateMs: estimateIn(pendingCheck.text) });
        }
        pendingCheck = checkStack.pop();
        break;
      }
      case 'inline': {
        scanMarkers(t.content, lineOfTok(t.map));
        if (tokens[i - 1]?.type === 'paragraph_open') {
          if (listDepth > 0 && /^\[[ xX]\]\s/.test(t.content) && pendingCheck === undefined && tokens[i - 2]?.type === 'list_item_open') {
            pendingCheck = { text: t.content, line: lineOfTok(t.map), used: false, extra: [] };
          }
          lastParagraph = { text: t.content, endLine: t.map ? t.map[1] : -1, level: tokens[i - 1]!.level };
        }
        break;
      }
      case 'html_block': {
        // An unclosed comment runs to the end of the file: everything after it would silently vanish.
        const open = t.content.indexOf('<!--');
        if (open >= 0 && t.content.indexOf('-->', open + 4) < 0 && t.map && t.map[1] >= bodyLines.length - (bodyLines.at(-1) === '' ? 1 : 0)) {
          add(lineOfTok(t.map), 'HTML comment "<!--" is never closed: everything after it is swallowed; close it with -->');
        }
        scanMarkers(t.content, lineOfTok(t.map));
        break;
      }
      case 'fence': {
        const line = lineOfTok(t.map);
        // Markdown closes an unterminated fence at the end of the file (or of its list item): the rest of
        // the runbook would become the block's text and be run. Its last line must be the closing fence.
        const closing = t.map ? (bodyLines[t.map[1] - 1] ?? '').trim() : '';
        const fenceChar = t.markup[0] ?? '`';
        if (!t.map || t.map[1] - t.map[0] < 2 || !new RegExp(`^\\${fenceChar}{${t.markup.length},}$`).test(closing)) {
          add(line, `code fence ${t.markup}${t.info ? t.info.split(/\s/)[0] : ''} is never closed: everything after it becomes its text; close it with ${t.markup}`);
          break;
        }
        const info = parseInfo(t.info);
        if (!EXEC_LANGS.has(info.lang)) {
          // Not executable: part of the surrounding checklist item's text, if any.
          if (pendingCheck) pendingCheck.extra.push('```' + t.info + '\n' + t.content + '```');
          break;
        }
        info.bad.forEach((b) => add(line, b));
        for (const k of Object.keys(info.attrs)) if (!ATTRS.has(k)) add(line, `unknown attribute "${k}" (known: ${[...ATTRS].join(', ')})`);
        if (info.attrs.connections !== undefined && info.lang !== 'sh') add(line, '"connections" is for sh blocks: sql steps open one connection, actions declare their own');
        // A paragraph right above the block (same nesting, at most one blank line between) describes it.
        const para = lastParagraph && t.map && lastParagraph.level === t.level && t.map[0] - lastParagraph.endLine <= 1 ? lastParagraph.text : undefined;
        const precedingPara = para !== undefined ? cleanTitle(para) : undefined;
        // The title: title=..., else the checklist item's or the paragraph's first sentence, else the ###
        // heading above; a heading right above the block (its first) wins over the paragraph's sentence.
        let titleText: string, description: string | undefined;
        if (info.attrs.title !== undefined) {
          titleText = info.attrs.title.trim();
          description = pendingCheck && !pendingCheck.used ? cleanTitle(pendingCheck.text) : precedingPara;
        } else if (pendingCheck && !pendingCheck.used) {
          ({ title: titleText, description } = shortTitle(cleanTitle(pendingCheck.text)));
        } else if (heading && !headingUsed) {
          titleText = heading;
          description = precedingPara;
        } else if (precedingPara) {
          ({ title: titleText, description } = shortTitle(precedingPara));
        } else titleText = heading;
        if (heading) headingUsed = true;
        if (info.attrs.title !== undefined && !titleText) add(line, 'title="" is empty: give the step a short title');
        const estimateMs = estimateIn(pendingCheck?.text ?? para ?? heading ?? '');
        if (pendingCheck) pendingCheck.used = true;
        if (info.attrs.id !== undefined && ids.has(info.attrs.id)) {
          add(line, `duplicate id "${info.attrs.id}" (also at line ${ids.get(info.attrs.id)})`);
        } else if (info.attrs.id !== undefined) ids.set(info.attrs.id, line);
        const common = { line, explicitId: info.attrs.id, parallel: info.attrs.parallel, estimateMs, description };
        if (info.lang === 'cutover') {
          const actionName = info.words[0];
          const action = actionName ? ACTIONS.get(actionName) : undefined;
          if (!actionName || !action) {
            add(line, `${actionName ? `unknown action "${actionName}"` : 'missing action after "cutover"'} (known: ${[...ACTIONS.keys()].join(', ')})`);
            break;
          }
          if (info.attrs.on) add(line, `"on" is for sql blocks; cutover ${actionName} uses both connections`);
          const y = parseYaml(t.content, line);
          y.problems.forEach((p) => add(p.line, p.message));
          if (y.problems.length) break;
          const own = (y.doc.toJS() ?? {}) as unknown;
          if (typeof own !== 'object' || own === null || Array.isArray(own)) { add(line + 1, `options of cutover ${actionName} must be a YAML mapping`); break; }
          const merged = { ...(front?.defaults[actionName] ?? {}), ...(own as Record<string, unknown>) };
          const parsed = action.schema.safeParse(merged);
          if (!parsed.success) {
            for (const issue of parsed.error.issues) {
              const path = issue.path.filter((p): p is string | number => typeof p !== 'symbol');
              const where = path.join('.');
              const msg = issue.code === 'unrecognized_keys'
                ? `cutover ${actionName}: unknown option(s) ${issue.keys.map((k) => `"${k}"`).join(', ')}`
                : `cutover ${actionName}: ${where ? `${where}: ` : ''}${issue.message}`;
              const keyLine = issue.code === 'unrecognized_keys' ? lineOf(y.doc, y.lc, [issue.keys[0]!], line) : lineOf(y.doc, y.lc, path, line);
              add(keyLine, msg);
            }
            break;
          }
          addStep({ ...common, kind: 'action', action: actionName, title: titleText || `cutover ${actionName}`, options: parsed.data as Record<string, unknown>, body: t.content });
        } else if (info.lang === 'sql') {
          const on = info.attrs.on;
          // source, target, or an endpoint the front matter names (checked against it below).
          if (!on || !ENDPOINT_NAME.test(on) || on === 'pooler') add(line, on ? `sql {on=${on}}: on must be source, target or an endpoint named under connections` : 'sql block without {on=source} or {on=target}');
          if (!t.content.trim()) add(line, 'empty sql block');
          addStep({ ...common, kind: 'sql', on: on && ENDPOINT_NAME.test(on) ? on : 'source', title: titleText || `SQL on ${on ?? '?'}`, options: {}, body: t.content });
        } else {
          if (info.attrs.on) add(line, '"on" is for sql blocks: a sh step gets SOURCE_URL, TARGET_URL and NAME_URL for each named endpoint');
          if (!t.content.trim()) add(line, 'empty sh block');
          // What the script opens, for the connection budget: {connections=SOURCE/TARGET}, e.g. 2/1.
          const decl = info.attrs.connections === undefined ? undefined : /^(\d{1,3})\/(\d{1,3})$/.exec(info.attrs.connections);
          if (info.attrs.connections !== undefined && !decl) add(line, `connections=${info.attrs.connections}: write it as SOURCE/TARGET counts, e.g. connections=2/1`);
          addStep({ ...common, kind: 'sh', title: titleText || 'shell', options: decl ? { connections: { source: Number(decl[1]), target: Number(decl[2]) } } : {}, body: t.content });
        }
        break;
      }
      default: break;
    }
  }

  // Parallel groups: adjacent steps only, no manual steps (a prompt cannot share the terminal).
  for (const s of steps) {
    if (!s.parallel) continue;
    if (s.kind === 'manual') add(s.line, `manual step "${s.title}" cannot be in parallel group "${s.parallel}"`);
    const members = steps.filter((x) => x.parallel === s.parallel);
    const contiguous = members.every((m, k) => k === 0 || m.index === members[k - 1]!.index + 1);
    if (!contiguous && members[0] === s) add(s.line, `parallel group "${s.parallel}": its steps must be next to each other`);
  }
  const stopped = markers.filter((m) => m.kind === 'writes-stopped');
  const resumed = markers.filter((m) => m.kind === 'writes-resumed');
  if (stopped.length > 1) add(stopped[1]!.line, 'writes-stopped appears more than once');
  if (resumed.length > 1) add(resumed[1]!.line, 'writes-resumed appears more than once');
  if (resumed[0] && !stopped[0]) add(resumed[0].line, 'writes-resumed without an earlier writes-stopped');
  if (stopped[0] && resumed[0] && resumed[0].line < stopped[0].line) add(resumed[0].line, 'writes-resumed comes before writes-stopped');
  if (stopped[0] && !resumed[0]) add(stopped[0].line, 'writes-stopped without a writes-resumed: mark where writes come back');
  const rb = phases.filter((p) => /^rollback\b/i.test(p));
  if (rb.length > 1) add(1, 'more than one Rollback phase');
  // Steps that failed their own checks are reported as such, not as "no steps".
  if (front && !steps.some((s) => !s.rollback) && !problems.some((p) => p.line > bodyOffset + 1)) add(bodyOffset + 1, 'no steps: add checklist items or fenced blocks under ## phases');
  // Every named endpoint a step uses is declared (for the run and, when there is one, the rehearsal).
  if (front) {
    const declared = new Set(['source', 'target', ...Object.keys(front.connections.named)]);
    for (const s of steps) {
      // (the pooler has its own check below, with what fence: pooler needs)
      for (const n of stepEndpoints(s).filter((x) => x !== 'pooler' && !declared.has(x))) {
        const near = closeMatches(n, declared);
        add(s.line, `${s.kind === 'sql' ? `sql {on=${n}}` : `cutover ${s.action}: on`}: the front matter declares no endpoint "${n}" (source, target, or one named under connections)${near.length ? `; did you mean ${near.map((x) => `"${x}"`).join(' or ')}?` : `: add connections: { ${n}: env:${n.toUpperCase()}_URL }${front.connections.rehearsal ? ' (and under rehearsal)' : ''}`}`);
      }
    }
  }
  for (const s of steps.filter((x) => x.action === 'replicate-cutover' && x.options.fence === 'pooler')) {
    if (front && !front.connections.pooler) add(s.line, 'fence: pooler needs the pooler\'s admin console: connections: { pooler: env:POOLER_URL } in the front matter');
    if (front?.connections.rehearsal && !front.connections.rehearsal.pooler) add(s.line, 'fence: pooler needs connections.rehearsal.pooler too (a pooler in front of the rehearsal source)');
  }

  problems.sort((a, b) => a.line - b.line);
  if (problems.length || !front) return { problems };
  return { runbook: { file, front, steps, markers, phases }, problems };
}

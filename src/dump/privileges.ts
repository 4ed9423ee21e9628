/**
 * Owners and privileges through a role map. Copy and restore create objects with pg_restore --no-owner
 * --no-acl (the target's roles differ), then apply pg_dump's own owner and ACL statements (ALTER ...
 * OWNER TO, GRANT/REVOKE, ALTER DEFAULT PRIVILEGES) rendered from the archive (`pg_restore -f -`) with
 * every role name rewritten through the map. pg_dump already knows every object kind, column grants,
 * revoked PUBLIC defaults and extension initial privileges; we only rename roles, token by token (quoted
 * identifiers, strings and dollar quotes understood), never by text search.
 */
import { CutoverError } from '../errors.js';
import { quoteIdent } from '../pg/sql.js';
import { mapRole, type RoleMap } from '../pg/role-map.js';

/** policy: a row-level security policy, whose TO list names roles (restored by cutover, roles mapped). */
export type PrivilegeKind = 'owner' | 'acl' | 'default-acl' | 'policy';

export interface PrivilegeStatement {
  kind: PrivilegeKind;
  /** What it is about, e.g. "TABLE app.customers" (for messages). */
  object: string;
  /** Source role names the statement mentions (owner, grantees, FOR ROLE), PUBLIC excluded. */
  roles: string[];
  /** The statement as pg_dump wrote it (source role names). */
  sql: string;
  /** Single role tokens (owner, FOR ROLE): [start, end, role]. */
  spans: [number, number, string][];
  /** The grantee list of a GRANT/REVOKE: its span and items (null = PUBLIC). */
  list?: { start: number; end: number; items: (string | null)[] };
  /** CREATE POLICY: its name and table as written (to find it already there on a second run). */
  policy?: { name: string; table: string };
  /**
   * A GRANT/REVOKE pg_dump wrote under SET SESSION AUTHORIZATION: made on the source by this role (source
   * name), not the owner (a role holding the privilege WITH GRANT OPTION granted it onward).
   */
  grantor?: string;
}

interface Token { kind: 'word' | 'ident' | 'punct' | 'string'; text: string; value: string; start: number; end: number }

/** Splits a pg_dump/pg_restore script into statements of tokens (comments dropped). */
export function splitStatements(script: string): { sql: string; tokens: Token[] }[] {
  const out: { sql: string; tokens: Token[] }[] = [];
  let tokens: Token[] = [];
  let stmtStart = -1;
  const s = script;
  let i = 0;
  const push = (t: Token) => { if (stmtStart < 0) stmtStart = t.start; tokens.push(t); };
  while (i < s.length) {
    const ch = s[i]!;
    if (ch === '-' && s[i + 1] === '-') { const e = s.indexOf('\n', i); i = e < 0 ? s.length : e + 1; continue; }
    if (ch === '/' && s[i + 1] === '*') { const e = s.indexOf('*/', i + 2); i = e < 0 ? s.length : e + 2; continue; }
    if (/\s/.test(ch)) { i++; continue; }
    if (ch === ';') {
      if (tokens.length) out.push({ sql: s.slice(stmtStart, i + 1), tokens: tokens.map((t) => ({ ...t, start: t.start - stmtStart, end: t.end - stmtStart })) });
      tokens = []; stmtStart = -1; i++; continue;
    }
    if (ch === '"') {
      let j = i + 1, v = '';
      while (j < s.length) { if (s[j] === '"') { if (s[j + 1] === '"') { v += '"'; j += 2; continue; } break; } v += s[j]; j++; }
      push({ kind: 'ident', text: s.slice(i, j + 1), value: v, start: i, end: j + 1 }); i = j + 1; continue;
    }
    if (ch === "'" || ((ch === 'E' || ch === 'e') && s[i + 1] === "'")) {
      const esc = ch !== "'";
      let j = i + (esc ? 2 : 1);
      while (j < s.length) {
        if (esc && s[j] === '\\') { j += 2; continue; }
        if (s[j] === "'") { if (s[j + 1] === "'") { j += 2; continue; } break; }
        j++;
      }
      push({ kind: 'string', text: s.slice(i, j + 1), value: '', start: i, end: j + 1 }); i = j + 1; continue;
    }
    if (ch === '$') {
      const m = /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/.exec(s.slice(i, i + 64));
      if (m) {
        const e = s.indexOf(m[0], i + m[0].length);
        const end = e < 0 ? s.length : e + m[0].length;
        push({ kind: 'string', text: s.slice(i, end), value: '', start: i, end }); i = end; continue;
      }
    }
    if (/[A-Za-z_\u0080-\uffff]/.test(ch)) {
      let j = i + 1;
      while (j < s.length && /[A-Za-z0-9_$\u0080-\uffff]/.test(s[j]!)) j++;
      const text = s.slice(i, j);
      push({ kind: 'word', text, value: text.toLowerCase(), start: i, end: j }); i = j; continue;
    }
    push({ kind: 'punct', text: ch, value: ch, start: i, end: i + 1 }); i++;
  }
  return out;
}

const isWord = (t: Token | undefined, w: string) => t?.kind === 'word' && t.value === w;
/** 'it''s' -> it's (a standard string literal, as pg_dump writes them). */
const unquoteLiteral = (text: string) => text.slice(1, -1).replace(/''/g, "'");
const roleName = (t: Token) => (t.kind === 'ident' ? t.value : t.value);

/** Grantee list after index `from` (GRANT ... TO a, b / REVOKE ... FROM a, b), up to WITH/GRANTED/CASCADE/RESTRICT. */
function roleList(tokens: Token[], from: number): { start: number; end: number; items: (Token | null)[] } | undefined {
  const items: (Token | null)[] = [];
  let end = -1;
  for (let i = from; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (t.kind === 'word' && ['with', 'granted', 'cascade', 'restrict', 'using'].includes(t.value)) break;
    end = t.end;
    if ((t.kind === 'punct' && t.value === ',') || isWord(t, 'group')) continue;
    if (isWord(t, 'public')) items.push(null);
    else if (t.kind === 'word' || t.kind === 'ident') items.push(t);
  }
  return from < tokens.length && end >= 0 ? { start: tokens[from]!.start, end, items } : undefined;
}

/** Index of the first top-level word `w` at or after `from` (outside parentheses). */
function topLevel(tokens: Token[], w: string, from = 0): number {
  let depth = 0;
  for (let i = from; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (t.kind === 'punct' && t.value === '(') depth++;
    else if (t.kind === 'punct' && t.value === ')') depth--;
    else if (depth === 0 && isWord(t, w)) return i;
  }
  return -1;
}

const textBetween = (sql: string, tokens: Token[], a: number, b: number) => (a < b ? sql.slice(tokens[a]!.start, tokens[b - 1]!.end) : '');

/** Parses one GRANT or REVOKE starting at token `g`: its object text and role tokens. */
function grantParts(sql: string, tokens: Token[], g: number): { object: string; list: NonNullable<ReturnType<typeof roleList>> } | undefined {
  const grant = isWord(tokens[g], 'grant');
  const on = topLevel(tokens, 'on', g);
  const kw = topLevel(tokens, grant ? 'to' : 'from', on < 0 ? g : on);
  const list = kw < 0 ? undefined : roleList(tokens, kw + 1);
  if (on < 0 || !list) return undefined;
  return { object: textBetween(sql, tokens, on + 1, kw), list };
}

/** The owner and privilege statements of a pg_restore script, with their role names located. */
export function privilegeStatements(script: string): { statements: PrivilegeStatement[]; sessionAuthorizations: number } {
  const statements: PrivilegeStatement[] = [];
  let sessionAuthorizations = 0;
  // The role pg_dump switched to for the grants that follow (until RESET SESSION AUTHORIZATION).
  let authorization: string | undefined;
  for (const { sql, tokens } of splitStatements(script)) {
    const n = tokens.length;
    const w0 = tokens[0]!;
    const mk = (kind: PrivilegeKind, object: string, single: Token[], list?: ReturnType<typeof roleList>, policy?: PrivilegeStatement['policy']) => {
      const listed = (list?.items ?? []).map((t) => (t ? roleName(t) : null));
      const names = [...single.map(roleName), ...listed.filter((x): x is string => x !== null)];
      statements.push({
        kind, object, roles: [...new Set(names)], sql, spans: single.map((t) => [t.start, t.end, roleName(t)]),
        list: list ? { start: list.start, end: list.end, items: listed } : undefined, policy,
        grantor: kind === 'acl' ? authorization : undefined,
      });
    };
    if (isWord(w0, 'set') && isWord(tokens[1], 'session') && isWord(tokens[2], 'authorization')) {
      const who = tokens[3];
      authorization = !who || isWord(who, 'default') ? undefined : who.kind === 'string' ? unquoteLiteral(who.text) : roleName(who);
      if (authorization !== undefined) sessionAuthorizations++;
      continue;
    }
    if (isWord(w0, 'reset') && isWord(tokens[1], 'session') && isWord(tokens[2], 'authorization')) { authorization = undefined; continue; }
    if (isWord(w0, 'alter') && isWord(tokens[1], 'default') && isWord(tokens[2], 'privileges')) {
      const forRole = isWord(tokens[3], 'for') && (isWord(tokens[4], 'role') || isWord(tokens[4], 'user')) ? tokens[5] : undefined;
      const g = tokens.findIndex((t) => isWord(t, 'grant') || isWord(t, 'revoke'));
      const p = g < 0 ? undefined : grantParts(sql, tokens, g);
      if (!p) continue;
      const inSchema = topLevel(tokens, 'in');
      mk('default-acl', `default privileges${forRole ? ` of ${roleName(forRole)}` : ''}${inSchema >= 0 && inSchema < g ? ` ${textBetween(sql, tokens, inSchema, g)}` : ''} on ${p.object}`,
        forRole ? [forRole] : [], p.list);
      continue;
    }
    if (isWord(w0, 'alter') && n >= 4 && isWord(tokens[n - 3], 'owner') && isWord(tokens[n - 2], 'to')) {
      mk('owner', textBetween(sql, tokens, 1, n - 3), [tokens[n - 1]!]);
      continue;
    }
    if (isWord(w0, 'create') && isWord(tokens[1], 'policy')) {
      // CREATE POLICY name ON table [AS ...] [FOR ...] [TO roles] [USING (...)] [WITH CHECK (...)]
      const stop = Math.min(n, ...['as', 'for', 'to', 'using', 'with'].map((w) => topLevel(tokens, w, 3)).filter((i) => i > 0));
      const to = topLevel(tokens, 'to', 3), on = topLevel(tokens, 'on', 3);
      mk('policy', `policy ${textBetween(sql, tokens, 2, stop)}`, [], to > 0 ? roleList(tokens, to + 1) : undefined,
        on > 0 ? { name: roleName(tokens[2]!), table: textBetween(sql, tokens, on + 1, stop) } : undefined);
      continue;
    }
    if (isWord(w0, 'comment') && isWord(tokens[1], 'on') && isWord(tokens[2], 'policy')) {
      // Restored with its policy (both left out of pg_restore's list, src/dump/toc.ts).
      mk('policy', `comment on policy ${textBetween(sql, tokens, 3, Math.max(4, topLevel(tokens, 'is', 3)))}`, []);
      continue;
    }
    if (isWord(w0, 'grant') || isWord(w0, 'revoke')) {
      const p = grantParts(sql, tokens, 0);
      if (p) mk('acl', p.object, [], p.list);
    }
  }
  return { statements, sessionAuthorizations };
}

/**
 * A statement with its roles mapped; roles in `drop` are left out: a GRANT/REVOKE keeps its other
 * grantees (or is skipped when none is left); an owner or default-privileges statement for a dropped
 * role is skipped (undefined).
 */
export function rewriteStatement(st: PrivilegeStatement, map: RoleMap, drop: ReadonlySet<string> = new Set()): string | undefined {
  if (st.spans.some(([, , r]) => drop.has(r))) return undefined;
  const edits: [number, number, string][] = st.spans.map(([a, b, r]) => [a, b, quoteIdent(mapRole(map, r))]);
  if (st.list) {
    const kept = st.list.items.filter((r) => r === null || !drop.has(r));
    if (!kept.length) return undefined;
    edits.push([st.list.start, st.list.end, kept.map((r) => (r === null ? 'PUBLIC' : quoteIdent(mapRole(map, r)))).join(', ')]);
  }
  edits.sort((x, y) => x[0] - y[0]);
  let out = '', at = 0;
  for (const [a, b, text] of edits) { out += st.sql.slice(at, a) + text; at = b; }
  return out + st.sql.slice(at);
}

/** Roles (target names) the statements need on the target, with the source objects that need them. */
export function neededRoles(statements: PrivilegeStatement[], map: RoleMap): Map<string, { source: string; uses: string[] }> {
  const out = new Map<string, { source: string; uses: string[] }>();
  for (const st of statements) {
    for (const r of st.roles) {
      const t = mapRole(map, r);
      const e = out.get(t) ?? { source: r, uses: [] };
      e.uses.push(st.kind === 'owner' ? `owns ${st.object}` : st.kind === 'acl' ? `granted on ${st.object}` : st.kind === 'policy' ? `named in ${st.object}` : st.object);
      out.set(t, e);
    }
  }
  return out;
}

export function missingRolesError(missing: { target: string; source: string; uses: string[] }[], where: string): CutoverError {
  const lines = missing.map((m) => `  ${m.source}${m.source !== m.target ? ` (mapped to ${m.target})` : ''}: ${m.uses.slice(0, 6).join('; ')}${m.uses.length > 6 ? `; ... (${m.uses.length} in all)` : ''}`);
  return new CutoverError('E_PREFLIGHT', `${missing.length} role(s) that owners and grants need do not exist on the ${where}:\n${lines.join('\n')}`, {
    hint: 'map them to existing roles (runbook roles: { map: { old: new } }, or --role-map old=new), let cutover create them (roles: { create: true }, --create-roles), ' +
      'or leave their grants out (roles: { drop_unmapped: true }, --drop-unmapped-roles)',
  });
}

/** Loads SQL from `.sql` files that sit beside the code (runnable as-is in psql). */
import { withPrivateSchemas } from './private-schema.js';
import { readFileSync } from 'node:fs';

const cache = new Map<string, string>();

/** `loadSql(import.meta.url, 'sql/server-facts.sql')` */
export function loadSql(base: string, relPath: string): string {
  const url = new URL(relPath, base);
  const key = url.href;
  let text = cache.get(key);
  if (text === undefined) {
    text = withPrivateSchemas(readFileSync(url, 'utf8'));
    cache.set(key, text);
  }
  return text;
}

/** Quotes an identifier, always (valid for any name; quote_ident quotes only where needed). */
export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** The name a quote_ident() spelling stands for ("a""b" -> a"b; unquoted as is). */
export function unquoteIdent(q: string): string {
  return q.startsWith('"') && q.endsWith('"') ? q.slice(1, -1).replace(/""/g, '"') : q;
}

/** A string literal (standard_conforming_strings, on by default since 9.1): for statements without parameters. */
export function quoteLiteral(text: string): string {
  return `'${text.replace(/'/g, "''")}'`;
}

/** Schema-qualified, quoted table name. */
export function qualify(schema: string, name: string): string {
  return `${quoteIdent(schema)}.${quoteIdent(name)}`;
}

/**
 * Writes a command's `--json` document: exactly one per process, on stdout, every string scrubbed of
 * passwords, and checked against its documented shape.
 */
import type { z } from 'zod';
import { scrub } from '../../pg/conninfo.js';

let written = false;
const secrets = new Set<string>();

/** Whether this process wrote its document already (main.ts must not add an error document after it). */
export function documentWritten(): boolean { return written; }

/** A password this process was given (a connection argument): scrubbed from the document wherever it appears. */
export function addSecret(s: string | undefined): void { if (s) secrets.add(s); }

function scrubDeep(v: unknown): unknown {
  if (typeof v === 'string') return scrub(v, secrets);
  if (Array.isArray(v)) return v.map(scrubDeep);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, scrubDeep(x)]));
  return v;
}

/**
 * `doc` is typed by its schema; it is also checked at run time, on its JSON form (Dates as strings,
 * undefined fields gone) as a reader gets it. A mismatch is a bug, but the command's work is done by
 * then (a cutover may have switched): the document is still written, with a warning on stderr, and the
 * exit status stays the command's.
 */
export function emitJson<S extends z.ZodType>(shape: S, doc: z.input<S>, indent = 2): void {
  const plain = scrubDeep(JSON.parse(JSON.stringify(doc)));
  const checked = shape.safeParse(plain);
  if (!checked.success) {
    process.stderr.write(`cutover: bug: this --json document does not match its schema (docs/json.md): ${checked.error.issues.slice(0, 3).map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}\n`);
  }
  written = true;
  // The parsed form has the schema's key order: ok (and code, message, hint) first.
  process.stdout.write(`${JSON.stringify(checked.success ? checked.data : plain, null, indent)}\n`);
}

/** The command's result: its document with `--json`, else the text on stdout. */
export function printResult<S extends z.ZodType>(json: boolean | undefined, shape: S, doc: z.input<S>, text: () => string): void {
  if (json) emitJson(shape, doc);
  else process.stdout.write(`${text()}\n`);
}

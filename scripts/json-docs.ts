/**
 * Writes docs/json.md from the --json schemas (src/json/) and examples (src/cli/json/). Run after changing either:
 *   npx tsx scripts/json-docs.ts
 * test/json-output.test.ts fails while the page is not current.
 */
import { writeFileSync } from 'node:fs';
import { renderJsonDocs } from '../src/cli/json/docs.js';

const file = new URL('../docs/json.md', import.meta.url);
writeFileSync(file, renderJsonDocs());
process.stdout.write(`wrote ${file.pathname}\n`);

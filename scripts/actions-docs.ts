/** Writes the runbook actions table of docs/runbook-format.md from the registry (src/runbook/actions). */
import { readFileSync, writeFileSync } from 'node:fs';
import { withActionsTable } from '../src/runbook/actions/doc-table.js';

const file = new URL('../docs/runbook-format.md', import.meta.url);
writeFileSync(file, withActionsTable(readFileSync(file, 'utf8')));
process.stdout.write(`wrote ${file.pathname}\n`);

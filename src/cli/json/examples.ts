/** Example documents for docs/json.md (typed by their schemas; the tests parse them too). */
import type { ErrorDoc } from './base.js';
import type { JsonCommandName, JsonDocument } from './index.js';

export const ERROR_EXAMPLE: ErrorDoc = { ok: false, code: 'E_AUTH', message: 'placeholder', hint: 'placeholder' };

export const EXAMPLES: { [C in JsonCommandName]: JsonDocument<C>[] } = {
  doctor: [], check: [], render: [], run: [], rehearse: [], copy: [], dump: [], restore: [], budget: [], verify: [], demo: [],
  'replicate start': [], 'replicate apply': [], 'replicate status': [], 'replicate cutover': [], 'replicate rollback': [],
  'replicate finish': [], 'replicate unfence': [], 'replicate teardown': [],
};

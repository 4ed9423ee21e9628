/**
 * Connection arguments: a URL or key=value string, or `env:NAME` to read it from an environment variable.
 * A password given in argv is visible to every local user through `ps`, so we warn about it.
 */
import { CutoverError } from '../errors.js';
import { type ConnParams, envNotSet, parseConnString } from '../pg/conninfo.js';
import { addSecret } from './json/emit.js';

export function resolveConnArg(label: string, value: string | undefined, fallbackEnv: string,
  warn: (m: string) => void = (m) => process.stderr.write(m + '\n')): ConnParams {
  let text = value;
  let fromEnv: string | undefined;
  if (text?.startsWith('env:')) fromEnv = text.slice(4);
  else if (text === undefined && process.env[fallbackEnv]) fromEnv = fallbackEnv;
  if (fromEnv !== undefined) {
    text = process.env[fromEnv];
    if (!text) throw envNotSet(`--${label}`, fromEnv);
  }
  if (!text) {
    throw new CutoverError('E_USAGE', `--${label} is required`, { hint: `pass --${label} URL, --${label} env:VAR, or set ${fallbackEnv}` });
  }
  // A malformed string says where it came from (the option, or the variable it was read from).
  const params = (() => {
    try { return parseConnString(text); } catch (e) {
      if (e instanceof CutoverError) throw new CutoverError(e.code, `--${label}${fromEnv ? ` (from $${fromEnv})` : ''}: ${e.message}`, { hint: e.hint, cause: e });
      throw e;
    }
  })();
  addSecret(params.password);
  if (fromEnv === undefined && params.passwordSource === 'conninfo') {
    warn(`warning: the --${label} password is visible to other local users in the process list; ` +
      `prefer ~/.pgpass, PGPASSWORD or --${label} env:VAR`);
  }
  return params;
}

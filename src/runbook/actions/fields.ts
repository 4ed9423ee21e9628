/**
 * What an action's options schema says about each of its keys, read once from zod's definitions: the
 * value's kind, its choices, its default, whether it is required, its description. The CLI derives its
 * flags from this. zod's internal definition objects are untyped for introspection, so the narrow casts
 * live here and nowhere else.
 */
import type { z } from 'zod';

export type FieldKind = 'boolean' | 'number' | 'string' | 'enum' | 'array' | 'record' | 'jobs';

export interface Field {
  key: string;
  kind: FieldKind;
  /** The key's own schema (with its default and optionality): a CLI value is checked by it. */
  schema: z.ZodType;
  /** An enum's values, or an array of an enum's. */
  choices?: readonly string[];
  /** An array's elements are numbers (else strings). */
  numeric?: boolean;
  default?: unknown;
  required: boolean;
  description?: string;
}

/** The slice of zod's definition this module reads (zod 4: `schema._zod.def`). */
interface Def {
  type: string;
  innerType?: z.ZodType;
  defaultValue?: unknown;
  element?: z.ZodType;
  entries?: Record<string, string | number>;
  options?: z.ZodType[];
  values?: unknown[];
}
const defOf = (s: z.ZodType): Def => (s as unknown as { _zod: { def: Def } })._zod.def;

/** The object schema's keys; an action's schema is always a (strict) object. */
export function shapeOf(schema: z.ZodType): Record<string, z.ZodType> {
  const def = defOf(schema) as Def & { shape?: Record<string, z.ZodType> };
  if (def.type !== 'object' || !def.shape) throw new Error('an action\'s options schema must be a zod object');
  return def.shape;
}

function kindOf(def: Def, s: z.ZodType): Pick<Field, 'kind' | 'choices' | 'numeric'> {
  switch (def.type) {
    case 'boolean': return { kind: 'boolean' };
    case 'number': return { kind: 'number' };
    case 'string': return { kind: 'string' };
    case 'enum': return { kind: 'enum', choices: Object.values(def.entries ?? {}).map(String) };
    case 'record': return { kind: 'record' };
    case 'array': {
      const el = defOf(def.element!);
      return { kind: 'array', choices: el.type === 'enum' ? Object.values(el.entries ?? {}).map(String) : undefined, numeric: el.type === 'number' };
    }
    // A word or a number (`jobs: auto | N`): the CLI passes a number when the text is one.
    case 'union': if (def.options?.some((o) => defOf(o).type === 'number')) return { kind: 'jobs' };
  }
  throw new Error(`an option of kind ${def.type} has no CLI form (${String(s.description ?? '')})`);
}

/** Each key of an action's schema, in the schema's order. */
export function fieldsOf(schema: z.ZodType): Field[] {
  return Object.entries(shapeOf(schema)).map(([key, s]) => {
    let inner: z.ZodType = s, required = true, dflt: unknown, description = s.description;
    for (let def = defOf(inner); def.type === 'default' || def.type === 'optional'; def = defOf(inner)) {
      if (def.type === 'default') dflt = def.defaultValue;
      required = false;
      inner = def.innerType!;
      description ??= inner.description;
    }
    return { key, schema: s, ...kindOf(defOf(inner), inner), default: dflt, required, description };
  });
}

import { z } from 'zod';
import { LvuError } from './lvu-error.js';

/**
 * One schema per configurable unit: options, defaults and descriptions live in the zod schema; `parse` returns the
 * options with defaults filled in, or throws an `INVALID_CONFIG` LvuError naming the offending field.
 */
export interface ConfigSchema<S extends z.ZodType> {
  readonly name: string;
  readonly schema: S;
  parse(input: unknown): z.output<S>;
  defaults(): z.output<S>;
  jsonSchema(): Record<string, unknown>;
}

export function defineSchema<S extends z.ZodType>(name: string, schema: S): ConfigSchema<S> {
  return {
    name,
    schema,
    parse(input: unknown) {
      const r = schema.safeParse(input ?? {});
      if (r.success) return r.data;
      const issue = r.error.issues[0]!;
      const field = issueField(issue);
      throw new LvuError('INVALID_CONFIG', `${name}: ${field}: ${issue.message}`, {
        field,
        details: { issues: r.error.issues.map((i) => ({ field: i.path.join('.'), message: i.message })) },
      });
    },
    defaults() {
      return this.parse({});
    },
    jsonSchema() {
      return z.toJSONSchema(schema, { io: 'input' }) as Record<string, unknown>;
    },
  };
}

export { z };

/** The field an issue is about, `base.path` ('(root)' for the value itself); an unknown key is named itself. */
export function issueField(issue: z.core.$ZodIssue, base = ''): string {
  const path = issue.code === 'unrecognized_keys' ? [...issue.path, issue.keys[0]!] : issue.path;
  return [base, ...path.map(String)].filter(Boolean).join('.') || '(root)';
}

/**
 * The overrides of an options object: every key optional and without its default, so a key left out stays out and
 * the options it is merged over keep theirs (zod's `.partial()` would fill the defaults back in).
 */
export function overridesOf<S extends z.ZodRawShape>(o: z.ZodObject<S>) {
  const shape = Object.fromEntries(
    Object.entries(o.shape).map(([k, v]) => {
      const t = v as z.ZodType;
      return [
        k,
        (t instanceof z.ZodDefault ? (t.unwrap() as z.ZodType) : t).optional().describe(t.description ?? ''),
      ];
    }),
  ) as unknown as { [K in keyof S]: z.ZodOptional<S[K]> };
  return z.strictObject(shape);
}

import { defineSchema, type Registry, z } from '@lvu/core';
import { type RetentionPolicy, retentionPolicies } from './retention-policies.js';

const retentionShape = (policy: z.ZodType<string>) => ({
  policy: policy.default('pyramid'),
  maxFrames: z.int().min(2).max(1_000_000).default(400).describe('kept frames retained per stream'),
  maxBytes: z
    .int()
    .min(1)
    .max(256 * 1024 ** 3)
    .default(2 * 1024 ** 3)
    .describe('bytes of token grids retained per stream'),
  denseMs: z
    .number()
    .positive()
    .default(5 * 60_000)
    .describe('pyramid: frames younger than this keep their spacing; older spacing grows with age'),
});

/**
 * The retention options with `policy` one of `policies` (the registry a program's engines run with: a policy it
 * registers appears here, so in the pipeline schema, the OpenAPI document and `--help`).
 */
export function retentionSchema(policies: Registry<RetentionPolicy> = retentionPolicies) {
  return defineSchema(
    'retention',
    z.object(
      retentionShape(
        z.enum(policies.names() as [string, ...string[]]).describe(
          `what to thin when full: ${policies
            .list()
            .map((p) => `${p.name} = ${p.description}`)
            .join('; ')}`,
        ),
      ),
    ),
  );
}

/** The retention options of the built-in policies (types, and the defaults). */
export const retentionOptionsSchema = retentionSchema();

/** The options a store takes: any policy name (the store checks it against its own registry). */
export const storeRetentionSchema = defineSchema(
  'retention',
  z.object(retentionShape(z.string().describe('a registered retention policy'))),
);
export type RetentionOptions = z.output<typeof storeRetentionSchema.schema>;
export type RetentionInput = z.input<typeof storeRetentionSchema.schema>;

export const queryLimitsSchema = defineSchema(
  'query',
  z.object({
    maxQuestionChars: z.int().min(1).default(4000).describe('longest question accepted, in characters'),
    maxNewTokens: z.int().min(1).max(4096).default(256).describe('longest answer generated'),
    evidenceFrames: z.int().min(0).max(64).default(5).describe('best-scoring frames listed as evidence'),
  }),
);
export type QueryLimits = z.output<typeof queryLimitsSchema.schema>;

const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** A duration as seconds (a number) or text with a unit (`500ms`, `90s`, `30m`, `24h`, `7d`). */
export const durationSchema = z.union([
  z.number().min(0),
  z.string().regex(/^\d+(\.\d+)?(ms|s|m|h|d)$/, 'a duration: seconds, or a number with ms, s, m, h or d'),
]);

/** Milliseconds of a `durationSchema` value. */
export function durationMs(v: number | string): number {
  if (typeof v === 'number') return v * 1000;
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(v)!;
  return Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS];
}

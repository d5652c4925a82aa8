import { defineSchema, z } from '@lvu/core';
import { retentionPolicies } from './retention-policies.js';

export const retentionOptionsSchema = defineSchema(
  'retention',
  z.object({
    policy: z
      .enum(retentionPolicies.names() as [string, ...string[]])
      .default('pyramid')
      .describe(
        `what to thin when full: ${retentionPolicies
          .list()
          .map((p) => `${p.name} = ${p.description}`)
          .join('; ')}`,
      ),
    maxFrames: z.int().min(2).default(400).describe('kept frames retained per stream'),
    maxBytes: z
      .int()
      .min(1)
      .default(2 * 1024 ** 3)
      .describe('bytes of token grids retained per stream'),
    denseMs: z
      .number()
      .positive()
      .default(5 * 60_000)
      .describe('pyramid: frames younger than this keep their spacing; older spacing grows with age'),
  }),
);
export type RetentionOptions = z.output<typeof retentionOptionsSchema.schema>;
export type RetentionInput = z.input<typeof retentionOptionsSchema.schema>;

export const queryLimitsSchema = defineSchema(
  'query',
  z.object({
    maxQuestionChars: z.int().min(1).default(4000).describe('longest question accepted, in characters'),
    maxNewTokens: z.int().min(1).max(4096).default(256).describe('longest answer generated'),
    evidenceFrames: z.int().min(0).max(64).default(5).describe('best-scoring frames listed as evidence'),
  }),
);
export type QueryLimits = z.output<typeof queryLimitsSchema.schema>;

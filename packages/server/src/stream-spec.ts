import { defineSchema, overridesOf, STREAM_ID_PATTERN, z } from '@lvu/core';
import { type EnginePlugins, retentionOptionsSchema, retentionSchema, type StreamSpec } from '@lvu/engine';

const baseShape = {
  id: z.string().regex(STREAM_ID_PATTERN, "1–128 letters, digits, '.', '_' or '-'").describe('stream id'),
  source: z.string().min(1).max(4096),
  retention: overridesOf(retentionOptionsSchema.schema)
    .optional()
    .describe('overrides of the engine retention'),
  continue: z
    .boolean()
    .optional()
    .describe(
      'continue the kept context of a removed or ended stream with this id (seqs and media time go on after it)',
    ),
};

/**
 * A stream as the HTTP API and pipeline YAML declare it (keys = option names): id, source and retention (its policy
 * one of the registered ones), plus the options of every registered source factory (each checks its own when the
 * stream is added).
 */
export function streamSpecSchema(plugins: Pick<EnginePlugins, 'sources' | 'retention'>) {
  const { sources } = plugins;
  const kinds = sources.list().map((f) => `${f.name}: ${f.description}`);
  return defineSchema(
    'stream',
    z.strictObject({
      ...baseShape,
      source: baseShape.source.describe(kinds.length ? kinds.join('; ') : 'a source string'),
      retention: overridesOf(retentionSchema(plugins.retention).schema)
        .optional()
        .describe('overrides of the engine retention'),
      ...overridesOf(z.object(sources.optionShape())).shape,
    }),
  );
}

export type StreamSpecConfig = z.output<z.ZodObject<typeof baseShape>> & Record<string, unknown>;

/** The engine's StreamSpec for a declared stream: everything but id, source and retention is the source's. */
export function toStreamSpec({
  id,
  source,
  retention,
  continue: cont,
  ...sourceOptions
}: StreamSpecConfig): StreamSpec {
  // keys left out (undefined) take the source's defaults
  const given = Object.fromEntries(Object.entries(sourceOptions).filter(([, v]) => v !== undefined));
  return {
    id,
    source,
    sourceOptions: given,
    ...(retention ? { retention } : {}),
    ...(cont ? { continue: true } : {}),
  };
}

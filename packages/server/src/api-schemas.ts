import { questionSchema, streamIdSchema, timeRangeShape, z } from '@lvu/core';
import type { EnginePlugins } from '@lvu/engine';
import { streamSpecSchema } from './stream-spec.js';

/** What the API's schemas depend on: the question limit and the registered sources and retention policies. */
export interface ApiShape {
  maxQuestionChars: number;
  plugins: Pick<EnginePlugins, 'sources' | 'retention'>;
}

/**
 * The HTTP API's request and response schemas, one zod schema each: fastify validates requests with them (through
 * fastify-type-provider-zod), serializes responses through them, and @fastify/swagger publishes them as the
 * OpenAPI document. Ids, questions and time ranges are core's rules (`streamIdSchema`, `questionSchema`,
 * `timeRangeShape`), the ones the engine applies. The named ones are registered in `registry` as components.
 */
export function apiSchemas(shape: ApiShape) {
  const registry = apiRegistry();
  const named = <S extends z.ZodType>(id: string, s: S): S => {
    registry.add(s, { ...z.globalRegistry.get(s), id });
    return s;
  };
  const max = shape.maxQuestionChars;
  /** 1 to 64 stream ids, each once (the engine's rule for questions and searches over several streams). */
  const streamList = (description: string) =>
    z
      .array(streamIdSchema)
      .min(1, { error: 'streams must be a list of 1 to 64 stream ids' })
      .max(64, { error: 'streams must be a list of 1 to 64 stream ids' })
      .refine((s) => new Set(s).size === s.length, { error: 'streams lists a stream twice' })
      .meta({ uniqueItems: true })
      .describe(description);
  // an object whose keys the engine's own types define (an interface, which a record type would not take)
  const object = () => z.looseObject({}) as unknown as z.ZodType<object>;
  // an answer's object: the keys named are documented and checked, others the engine adds pass through (typed as
  // the keys named, so an engine interface is one)
  const open = <T extends z.ZodRawShape>(shape: T) => z.looseObject(shape) as unknown as z.ZodObject<T>;

  const error = named(
    'Error',
    z.strictObject({
      error: z.string().describe('LvuError code'),
      message: z.string(),
      field: z.string().optional().describe('the offending field, header or parameter'),
      hint: z.string().describe('what to do'),
    }),
  );
  const streamStatus = named(
    'StreamStatus',
    open({
      id: z.string(),
      source: z.string(),
      state: z.enum(['starting', 'running', 'ended', 'failed', 'stopped', 'removed']),
      error: open({ code: z.string(), message: z.string() }).nullable(),
      counters: object(),
      store: object(),
      retainedTokens: z.int(),
      budgetTokens: z.int(),
      restored: open({ afterSeq: z.number(), afterPtsMs: z.number(), afterWallMs: z.number() })
        .nullable()
        .describe('the last frame before a continued context'),
      endedAtMs: z.number().nullable(),
    }),
  );
  const question = named(
    'Question',
    z.object({
      question: questionSchema(max).describe('what to ask about the video'),
      ...timeRangeShape('media time of the stream'),
    }),
  );
  const crossQuestion = named(
    'CrossQuestion',
    z.object({
      streams: streamList('the streams to ask about, each once'),
      question: questionSchema(max).describe('what to ask about the video'),
      ...timeRangeShape('wall-clock time, ms since the epoch'),
    }),
  );
  const queryResult = named(
    'QueryResult',
    open({
      answer: z.string().nullable(),
      evidence: object(),
      visualTokens: z.int().optional(),
      textTokens: z.int().optional(),
      totalTokens: z.int(),
      budgetTokens: z.int(),
      timingsMs: object().optional(),
      usage: object()
        .optional()
        .describe(
          "served backends (openai, prompt-embeds): requestBytes, dtype, lvuPromptTokens, the server's " +
            'promptTokens / completionTokens / cachedTokens, firstTokenMs, images {high, low, tokens}',
        ),
    }),
  );
  const searchResult = named(
    'SearchResult',
    open({
      q: z.string(),
      streams: z.array(z.string()),
      clock: z.enum(['media', 'wall']),
      ranges: z.array(
        open({
          streamId: z.string(),
          fromMs: z.number(),
          toMs: z.number(),
          wallFromMs: z.number().optional(),
          wallToMs: z.number().optional(),
          frames: z.int(),
          score: z.number(),
          best: object().describe('seq, ptsMs, wallMs, thumb (32×32 RGB, base64), labels'),
        }),
      ),
      thumbSide: z.int(),
      scanned: object(),
      ms: z.number().optional(),
    }),
  );
  // a query parameter: a number written in decimal (the query string's values are text)
  const msParam = (what: string) =>
    z.coerce.number({ error: `${what} must be a number of milliseconds` }).optional();
  const searchQuery = {
    q: questionSchema(max, 'q').describe('what to look for (text, like a question)'),
    sinceMs: msParam('sinceMs'),
    untilMs: msParam('untilMs'),
    limit: z.coerce
      .number()
      .int({ error: 'limit must be an integer from 1 to 100' })
      .min(1, { error: 'limit must be an integer from 1 to 100' })
      .max(100, { error: 'limit must be an integer from 1 to 100' })
      .default(10),
  };

  return {
    registry,
    error,
    idParams: z.object({ id: streamIdSchema }),
    streamSpec: named('StreamSpec', streamSpecSchema(shape.plugins).schema),
    streamStatus,
    streamList: z.object({ streams: z.array(streamStatus) }),
    question,
    crossQuestion,
    queryResult,
    searchResult,
    searchQuery: z.object(searchQuery),
    crossSearchQuery: z.object({
      streams: z
        .string()
        .min(1, { error: 'streams is required: a comma-separated list of stream ids' })
        .describe('comma-separated stream ids'),
      ...searchQuery,
    }),
    imageSearch: named(
      'ImageSearch',
      z.object({
        streams: streamList('the streams to search, each once'),
        image: z
          .base64({ error: 'image must be a JPEG, base64-encoded' })
          .min(4)
          .describe('the example: a JPEG, base64-encoded (at most 12 MiB of JPEG)'),
        ...timeRangeShape('media time for one stream, wall-clock time (ms since the epoch) for several'),
        limit: z.int().min(1).max(100).default(10).describe('ranges to return'),
      }),
    ),
    removeQuery: z.object({
      purge: z
        .enum(['true', 'false', '1', '0'], { error: 'purge must be true or false' })
        .optional()
        .describe('forget it now, with its saved state and spilled frames'),
    }),
    context: open({ status: streamStatus, thumbSide: z.int(), retained: z.array(z.unknown()) }).describe(
      'timeline: kept and evicted frames, retained frames with 32×32 RGB thumbnails (base64)',
    ),
    healthz: z.object({ ok: z.literal(true) }),
    readyz: z.object({
      ready: z.boolean(),
      streams: z.int().optional().describe('with the token (or none set): the streams'),
      failed: z.array(open({ id: z.string() })).optional(),
      warnings: z
        .array(object())
        .optional()
        .describe('durability: checkpoints failing, spill turned off (per stream)'),
    }),
    recentAnswers: z.object({ answers: z.array(z.unknown()) }),
    document: object(),
    text: z.string(),
    // bytes sent as they are (fastify serializes no Buffer), documented as binary
    binary: z.string().meta({ format: 'binary' }) as unknown as z.ZodType<Uint8Array>,
    nothing: z.undefined().describe('done: no body'),
  };
}

type Meta = { id?: string; description?: string };

/**
 * A registry of this server's named schemas (their component names; two servers in one process may differ: another
 * question limit, other sources) that reads everything else, the descriptions `.describe()` and `.meta()` give, from
 * zod's global registry. Zod offers no fallback between registries, so this reaches into its `_map` as
 * fastify-type-provider-zod itself does.
 */
function apiRegistry(): z.core.$ZodRegistry<Meta> {
  const registry = z.registry<Meta>();
  const global = z.globalRegistry;
  class WithGlobal extends WeakMap<z.core.$ZodType, Meta> {
    override get(k: z.core.$ZodType) {
      return super.get(k) ?? (global._map.get(k) as Meta | undefined);
    }
    override has(k: z.core.$ZodType) {
      return super.has(k) || global._map.has(k);
    }
  }
  registry._map = new WithGlobal();
  return registry;
}

export type ApiSchemas = ReturnType<typeof apiSchemas>;

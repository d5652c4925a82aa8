import type { SourceRegistry } from '@lvu/core';
import { builtinPlugins, type EnginePlugins } from '@lvu/engine';
import { streamSpecSchema } from './stream-spec.js';

const error = { $ref: '#/components/schemas/Error' };
const errorResponse = { description: 'error', content: { 'application/json': { schema: error } } };
/** 429: too many questions or searches at once (admission control); ask again after Retry-After seconds. */
const overloaded = {
  ...errorResponse,
  description: 'too many questions or searches running and waiting: ask again after Retry-After seconds',
  headers: { 'Retry-After': { schema: { type: 'integer', minimum: 1 }, description: 'seconds to wait' } },
};
const json = (schema: Record<string, unknown>, description = 'ok') => ({
  description,
  content: { 'application/json': { schema } },
});
const idParam = [
  {
    name: 'id',
    in: 'path',
    required: true,
    schema: { type: 'string', pattern: '^[A-Za-z0-9._-]{1,128}$' },
    description: 'stream id',
  },
];
const body = (ref: string) => ({
  required: true,
  content: { 'application/json': { schema: { $ref: `#/components/schemas/${ref}` } } },
});

/** What `validateQuestion` accepts, as a JSON Schema pattern (ECMA-262). */
// lone surrogates are refused too, but a pattern cannot name them (UTF-8 cannot carry them; Rust's regex refuses)
const NOT_TEXT = '\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\ufffd';
export const QUESTION_PATTERN = `^[^${NOT_TEXT}]*[^\\s\\ufeff${NOT_TEXT}][^${NOT_TEXT}]*$`;

/** The query parameters of a search: q is text like a question. */
const searchQuery = (maxChars: number) => [
  {
    name: 'q',
    in: 'query',
    required: true,
    schema: { type: 'string', minLength: 1, maxLength: maxChars, pattern: QUESTION_PATTERN },
    description: 'what to look for (text, like a question)',
  },
  { name: 'sinceMs', in: 'query', schema: { type: 'number' } },
  { name: 'untilMs', in: 'query', schema: { type: 'number' } },
  { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 100, default: 10 } },
];

/**
 * The OpenAPI 3.1 document of `lvu serve` (served at /openapi.json), as the server it describes behaves: with a
 * token (`auth`), every route but the public ones needs `Authorization: Bearer TOKEN` and may answer 401; without
 * one (a loopback bind), none does. Every error has the `Error` shape. A stream's options are those of the
 * registered `sources`.
 */
export function openApiDocument(o: {
  auth: boolean;
  maxQuestionChars?: number;
  sources: SourceRegistry;
  /** The registered retention policies (default: the built-in ones). */
  retention?: EnginePlugins['retention'];
}): Record<string, unknown> {
  /** A protected operation: its errors, plus 401 and the bearer requirement when the server has a token. */
  const op = (spec: Record<string, unknown>, ...codes: number[]) => {
    const all = [...new Set([...codes, ...(o.auth ? [401] : [])])].sort();
    return {
      ...spec,
      ...(o.auth ? { security: [{ bearer: [] }] } : {}),
      responses: {
        ...(spec.responses as Record<string, unknown>),
        ...Object.fromEntries(all.map((c) => [String(c), c === 429 ? overloaded : errorResponse])),
      },
    };
  };
  const pub = (spec: Record<string, unknown>) => ({ ...spec, security: [] });
  /** A question operation: its body, the answer as JSON or server-sent events, and its errors. */
  const ask = (operationId: string, summary: string, question: string) =>
    op(
      {
        operationId,
        summary,
        requestBody: body(question),
        responses: {
          200: {
            description: 'the answer',
            content: {
              'application/json': { schema: { $ref: '#/components/schemas/QueryResult' } },
              'text/event-stream': { schema: { type: 'string' } },
            },
          },
        },
      },
      400,
      404,
      409,
      413,
      415,
      429,
    );
  return {
    openapi: '3.1.0',
    info: {
      title: 'lvu',
      version: '0.1.0',
      description:
        'Rolling LongVU contexts of live video streams and questions about them. Binds 127.0.0.1 by default; ' +
        'a server with a token (server.token / LVU_TOKEN, required off loopback) needs `Authorization: Bearer ' +
        'TOKEN` on every route but /, /healthz, /readyz and /openapi.json.',
    },
    components: {
      ...(o.auth ? { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } } : {}),
      schemas: {
        Error: {
          type: 'object',
          required: ['error', 'message', 'hint'],
          additionalProperties: false,
          properties: {
            error: { type: 'string', description: 'LvuError code' },
            message: { type: 'string' },
            field: { type: 'string', description: 'the offending field, header or parameter' },
            hint: { type: 'string', description: 'what to do' },
          },
        },
        StreamSpec: streamSpecSchema({
          sources: o.sources,
          retention: o.retention ?? builtinPlugins().retention,
        }).jsonSchema(),
        Question: {
          type: 'object',
          required: ['question'],
          properties: {
            question: {
              type: 'string',
              minLength: 1,
              maxLength: o.maxQuestionChars ?? 4000,
              // text: something besides white space, no control characters, U+FFFD or lone surrogates
              pattern: QUESTION_PATTERN,
            },
            sinceMs: { type: ['number', 'null'], description: 'media time of the stream, inclusive' },
            untilMs: { type: ['number', 'null'] },
          },
        },
        QueryResult: {
          type: 'object',
          required: ['answer', 'evidence', 'totalTokens', 'budgetTokens'],
          properties: {
            answer: { type: ['string', 'null'] },
            evidence: { type: 'object' },
            visualTokens: { type: 'integer' },
            textTokens: { type: 'integer' },
            totalTokens: { type: 'integer' },
            budgetTokens: { type: 'integer' },
            timingsMs: { type: 'object' },
            usage: {
              type: 'object',
              description:
                "served backends (openai, prompt-embeds): requestBytes, dtype, lvuPromptTokens, the server's " +
                'promptTokens / completionTokens / cachedTokens, firstTokenMs, images {high, low, tokens}',
            },
          },
        },
        StreamStatus: {
          type: 'object',
          required: ['id', 'source', 'state', 'counters', 'store'],
          properties: {
            id: { type: 'string' },
            source: { type: 'string' },
            state: { enum: ['starting', 'running', 'ended', 'failed', 'stopped', 'removed'] },
            error: { type: ['object', 'null'] },
            counters: { type: 'object' },
            store: { type: 'object' },
            retainedTokens: { type: 'integer' },
            budgetTokens: { type: 'integer' },
            restored: { type: ['object', 'null'], description: 'the last frame before a continued context' },
            endedAtMs: { type: ['number', 'null'] },
          },
        },
        CrossQuestion: {
          type: 'object',
          required: ['streams', 'question'],
          properties: {
            streams: {
              type: 'array',
              minItems: 1,
              maxItems: 64,
              uniqueItems: true,
              items: { type: 'string', pattern: '^[A-Za-z0-9._-]{1,128}$' },
            },
            question: {
              type: 'string',
              minLength: 1,
              maxLength: o.maxQuestionChars ?? 4000,
              pattern: QUESTION_PATTERN,
            },
            sinceMs: {
              type: ['number', 'null'],
              description: 'wall-clock time, ms since the epoch, inclusive',
            },
            untilMs: { type: ['number', 'null'] },
          },
        },
        SearchResult: {
          type: 'object',
          required: ['q', 'streams', 'clock', 'ranges', 'thumbSide', 'scanned'],
          properties: {
            q: { type: 'string' },
            streams: { type: 'array', items: { type: 'string' } },
            clock: { enum: ['media', 'wall'] },
            ranges: {
              type: 'array',
              items: {
                type: 'object',
                required: ['streamId', 'fromMs', 'toMs', 'frames', 'score', 'best'],
                properties: {
                  streamId: { type: 'string' },
                  fromMs: { type: 'number' },
                  toMs: { type: 'number' },
                  wallFromMs: { type: 'number' },
                  wallToMs: { type: 'number' },
                  frames: { type: 'integer' },
                  score: { type: 'number' },
                  best: {
                    type: 'object',
                    description: 'seq, ptsMs, wallMs, thumb (32×32 RGB, base64), labels',
                  },
                },
              },
            },
            thumbSide: { type: 'integer' },
            scanned: { type: 'object' },
            ms: { type: 'number' },
          },
        },
      },
    },
    paths: {
      '/': {
        get: pub({
          summary: 'the timeline page (HTML; a token is given to it as /#token=TOKEN)',
          responses: {
            200: { description: 'HTML', content: { 'text/html': { schema: { type: 'string' } } } },
          },
        }),
      },
      '/healthz': {
        get: pub({
          summary: 'liveness',
          responses: { 200: json({ type: 'object', required: ['ok'], properties: { ok: { const: true } } }) },
        }),
      },
      '/readyz': {
        get: pub({
          summary:
            'readiness of the server (503 while it shuts down); with the token (or on a server without one) also the ' +
            'streams, failed streams (which never make it unready) and durability warnings',
          responses: {
            200: json({
              type: 'object',
              required: ['ready'],
              properties: {
                ready: { type: 'boolean' },
                streams: { type: 'integer', description: 'with the token (or none set): the streams' },
                failed: { type: 'array', items: { type: 'object' } },
                warnings: {
                  type: 'array',
                  description: 'durability: checkpoints failing, spill turned off (per stream)',
                  items: { type: 'object' },
                },
              },
            }),
            503: json({ type: 'object' }, 'shutting down'),
          },
        }),
      },
      '/openapi.json': {
        get: pub({ summary: 'this document', responses: { 200: json({ type: 'object' }) } }),
      },
      '/metrics': {
        get: op({
          summary: 'Prometheus metrics',
          responses: {
            200: {
              description: 'text format 0.0.4',
              content: { 'text/plain': { schema: { type: 'string' } } },
            },
          },
        }),
      },
      '/v1/streams': {
        get: op({
          operationId: 'listStreams',
          summary: 'list streams',
          responses: { 200: json({ type: 'object' }) },
        }),
        post: op(
          {
            operationId: 'addStream',
            summary: 'add a stream',
            requestBody: body('StreamSpec'),
            responses: {
              201: {
                ...json({ $ref: '#/components/schemas/StreamStatus' }, 'the stream status'),
                links: Object.fromEntries(
                  ['getStream', 'removeStream', 'getContext', 'getSnapshot', 'askStream', 'searchStream'].map(
                    (id) => [id, { operationId: id, parameters: { id: '$response.body#/id' } }],
                  ),
                ),
              },
            },
          },
          400,
          403,
          409,
          413,
          415,
        ),
      },
      '/v1/streams/{id}': {
        parameters: idParam,
        get: op(
          {
            operationId: 'getStream',
            summary: 'stream status',
            responses: { 200: json({ $ref: '#/components/schemas/StreamStatus' }) },
          },
          404,
        ),
        delete: op(
          {
            operationId: 'removeStream',
            summary:
              'stop a stream; its context stays queryable for engine.keepEndedFor (state removed), unless purge=true',
            parameters: [
              {
                name: 'purge',
                in: 'query',
                schema: { type: 'string', enum: ['true', 'false', '1', '0'] },
                description: 'forget it now, with its saved state and spilled frames',
              },
            ],
            responses: { 204: { description: 'removed' } },
          },
          400,
          404,
        ),
      },
      '/v1/streams/{id}/search': {
        parameters: idParam,
        get: op(
          {
            operationId: 'searchStream',
            summary:
              "search the stream's retained and spilled frames: time ranges (media time) that score high, best first",
            parameters: searchQuery(o.maxQuestionChars ?? 4000),
            responses: { 200: json({ $ref: '#/components/schemas/SearchResult' }) },
          },
          400,
          404,
          429,
        ),
      },
      '/v1/search': {
        get: op(
          {
            operationId: 'search',
            summary: 'search several streams (sinceMs/untilMs on the wall clock)',
            parameters: [
              {
                name: 'streams',
                in: 'query',
                required: true,
                schema: { type: 'string', minLength: 1 },
                description: 'comma-separated stream ids',
              },
              ...searchQuery(o.maxQuestionChars ?? 4000),
            ],
            responses: { 200: json({ $ref: '#/components/schemas/SearchResult' }) },
          },
          400,
          404,
          429,
        ),
      },
      '/v1/query': {
        post: ask(
          'askStreams',
          'one question over several streams under one budget: frames interleaved by wall-clock time, evidence ' +
            'with streamId; `Accept: text/event-stream` streams the answer',
          'CrossQuestion',
        ),
      },
      '/v1/streams/{id}/context': {
        parameters: idParam,
        get: op(
          {
            operationId: 'getContext',
            summary: 'timeline: kept and evicted frames, retained frames with 32×32 RGB thumbnails (base64)',
            responses: { 200: json({ type: 'object' }) },
          },
          404,
        ),
      },
      '/v1/streams/{id}/snapshot': {
        parameters: idParam,
        get: op(
          {
            operationId: 'getSnapshot',
            summary: 'the context as a snapshot (Arrow IPC stream; restores every value)',
            responses: {
              200: {
                description: 'Arrow IPC',
                content: {
                  'application/vnd.apache.arrow.stream': { schema: { type: 'string', format: 'binary' } },
                },
              },
            },
          },
          404,
        ),
      },
      '/v1/streams/{id}/query': {
        parameters: idParam,
        post: ask(
          'askStream',
          'ask a question about the retained context; with `Accept: text/event-stream` the answer streams ' +
            '(events `token`, then `result` or `error`)',
          'Question',
        ),
      },
      '/v1/answers/recent': {
        get: op({
          operationId: 'recentAnswers',
          summary: 'the latest standing answers and alerts (JSON, newest last)',
          responses: {
            200: json({ type: 'object', required: ['answers'], properties: { answers: { type: 'array' } } }),
          },
        }),
      },
      '/v1/answers': {
        get: op(
          {
            summary: 'standing answers as server-sent events (`answer`)',
            responses: {
              200: { description: 'SSE', content: { 'text/event-stream': { schema: { type: 'string' } } } },
            },
          },
          404,
        ),
      },
    },
  };
}

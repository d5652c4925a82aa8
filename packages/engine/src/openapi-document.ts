import { streamSpecSchema } from './stream-spec.js';

const error = { $ref: '#/components/schemas/Error' };
const errors = (...codes: number[]) =>
  Object.fromEntries(
    codes.map((c) => [
      String(c),
      { description: 'error', content: { 'application/json': { schema: error } } },
    ]),
  );
const json = (schema: Record<string, unknown>, description = 'ok') => ({
  description,
  content: { 'application/json': { schema } },
});
const idParam = [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }];

/** The OpenAPI 3.1 document of `lvu serve` (served at /openapi.json). */
export function openApiDocument(): Record<string, unknown> {
  return {
    openapi: '3.1.0',
    info: {
      title: 'lvu',
      version: '0.1.0',
      description:
        'Rolling LongVU contexts of live video streams and questions about them. Binds 127.0.0.1 by default; ' +
        'elsewhere every route but /healthz and /readyz needs `Authorization: Bearer TOKEN`.',
    },
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
      schemas: {
        Error: {
          type: 'object',
          required: ['error', 'message'],
          properties: {
            error: { type: 'string', description: 'LvuError code' },
            message: { type: 'string' },
            field: { type: 'string' },
            hint: { type: 'string' },
          },
        },
        StreamSpec: streamSpecSchema.jsonSchema(),
        Question: {
          type: 'object',
          required: ['question'],
          properties: {
            question: { type: 'string', minLength: 1, maxLength: 4000 },
            sinceMs: { type: 'number', description: 'media time of the stream, inclusive' },
            untilMs: { type: 'number' },
          },
        },
        QueryResult: {
          type: 'object',
          properties: {
            answer: { type: ['string', 'null'] },
            evidence: { type: 'object' },
            visualTokens: { type: 'integer' },
            textTokens: { type: 'integer' },
            totalTokens: { type: 'integer' },
            budgetTokens: { type: 'integer' },
            timingsMs: { type: 'object' },
          },
        },
      },
    },
    security: [{ bearer: [] }],
    paths: {
      '/healthz': {
        get: { summary: 'liveness', security: [], responses: { 200: json({ type: 'object' }) } },
      },
      '/readyz': {
        get: {
          summary: 'readiness: 503 while a stream has failed',
          security: [],
          responses: { 200: json({}) },
        },
      },
      '/metrics': {
        get: { summary: 'Prometheus metrics', responses: { 200: { description: 'text format 0.0.4' } } },
      },
      '/v1/streams': {
        get: { summary: 'list streams', responses: { 200: json({ type: 'object' }) } },
        post: {
          summary: 'add a stream',
          requestBody: {
            content: { 'application/json': { schema: { $ref: '#/components/schemas/StreamSpec' } } },
          },
          responses: { 201: json({ type: 'object' }, 'the stream status'), ...errors(400, 401, 409) },
        },
      },
      '/v1/streams/{id}': {
        parameters: idParam,
        get: { summary: 'stream status', responses: { 200: json({ type: 'object' }), ...errors(404) } },
        delete: {
          summary: 'remove a stream',
          responses: { 204: { description: 'removed' }, ...errors(404) },
        },
      },
      '/v1/streams/{id}/context': {
        parameters: idParam,
        get: {
          summary: 'timeline: kept and evicted frames, retained frames with 32×32 RGB thumbnails (base64)',
          responses: { 200: json({ type: 'object' }), ...errors(404) },
        },
      },
      '/v1/streams/{id}/query': {
        parameters: idParam,
        post: {
          summary:
            'ask a question about the retained context; with `Accept: text/event-stream` the answer streams ' +
            '(events `token`, then `result` or `error`)',
          requestBody: {
            content: { 'application/json': { schema: { $ref: '#/components/schemas/Question' } } },
          },
          responses: {
            200: json({ $ref: '#/components/schemas/QueryResult' }),
            ...errors(400, 401, 404, 413),
          },
        },
      },
      '/v1/answers': {
        get: {
          summary: 'standing answers as server-sent events (`answer`)',
          responses: { 200: { description: 'SSE' } },
        },
      },
    },
  };
}

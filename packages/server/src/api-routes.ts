import type { ApiSchemas } from './api-schemas.js';

/**
 * The HTTP API's routes, described once: method, path, schemas (fastify validates requests and serializes responses
 * with them, and @fastify/swagger writes /openapi.json from them), the error statuses each answers, and whether it
 * is public (readable without the token). `createHttpServer` gives each its handler; `openApiDocument` registers
 * them without handlers to write the document alone.
 */
export function apiRoutes(s: ApiSchemas) {
  const e = s.error;
  /** The error statuses of an operation, each with the Error body. */
  const errors = (...codes: number[]) =>
    Object.fromEntries(codes.map((c) => [c, e])) as Record<number, typeof e>;
  const answer = {
    description: 'the answer',
    content: {
      'application/json': { schema: s.queryResult },
      'text/event-stream': { schema: s.text },
    },
  };
  return {
    timelinePage: {
      method: 'GET',
      url: '/',
      public: true,
      schema: {
        summary: 'the timeline page (HTML; a token is given to it as /#token=TOKEN)',
        response: { 200: { description: 'HTML', content: { 'text/html': { schema: s.text } } } },
      },
    },
    healthz: {
      method: 'GET',
      url: '/healthz',
      public: true,
      schema: { summary: 'liveness', response: { 200: s.healthz } },
    },
    readyz: {
      method: 'GET',
      url: '/readyz',
      public: true,
      schema: {
        summary:
          'readiness of the server (503 while it shuts down); with the token (or on a server without one) also the ' +
          'streams, failed streams (which never make it unready) and durability warnings',
        response: { 200: s.readyz, 503: s.readyz },
      },
    },
    openapi: {
      method: 'GET',
      url: '/openapi.json',
      public: true,
      schema: { summary: 'this document', response: { 200: s.document } },
    },
    metrics: {
      method: 'GET',
      url: '/metrics',
      schema: {
        summary: 'Prometheus metrics',
        response: {
          200: { description: 'text format 0.0.4', content: { 'text/plain': { schema: s.text } } },
        },
      },
    },
    listStreams: {
      method: 'GET',
      url: '/v1/streams',
      schema: { operationId: 'listStreams', summary: 'list streams', response: { 200: s.streamList } },
    },
    addStream: {
      method: 'POST',
      url: '/v1/streams',
      // a stream is configuration: what is wrong with one is INVALID_CONFIG, as in the pipeline YAML
      invalid: 'INVALID_CONFIG',
      links: ['getStream', 'removeStream', 'getContext', 'getSnapshot', 'askStream', 'searchStream'],
      schema: {
        operationId: 'addStream',
        summary: 'add a stream',
        body: s.streamSpec,
        response: { 201: s.streamStatus, ...errors(400, 403, 409, 413, 415) },
      },
    },
    getStream: {
      method: 'GET',
      url: '/v1/streams/:id',
      schema: {
        operationId: 'getStream',
        summary: 'stream status',
        params: s.idParams,
        response: { 200: s.streamStatus, ...errors(400, 404) },
      },
    },
    removeStream: {
      method: 'DELETE',
      url: '/v1/streams/:id',
      schema: {
        operationId: 'removeStream',
        summary:
          'stop a stream; its context stays queryable for engine.keepEndedFor (state removed), unless purge=true',
        params: s.idParams,
        querystring: s.removeQuery,
        response: { 204: s.nothing, ...errors(400, 404) },
      },
    },
    searchStream: {
      method: 'GET',
      url: '/v1/streams/:id/search',
      schema: {
        operationId: 'searchStream',
        summary:
          "search the stream's retained and spilled frames: time ranges (media time) that score high, best first",
        params: s.idParams,
        querystring: s.searchQuery,
        response: { 200: s.searchResult, ...errors(400, 404, 429) },
      },
    },
    search: {
      method: 'GET',
      url: '/v1/search',
      schema: {
        operationId: 'search',
        summary: 'search several streams (sinceMs/untilMs on the wall clock)',
        querystring: s.crossSearchQuery,
        response: { 200: s.searchResult, ...errors(400, 404, 429) },
      },
    },
    searchImage: {
      method: 'POST',
      url: '/v1/search',
      // a JPEG takes more than a question's 64 KiB
      bodyLimit: 16 * 1024 * 1024,
      schema: {
        operationId: 'searchImage',
        summary:
          "search by example image: the streams' retained and spilled frames ranked by feature similarity to a JPEG " +
          '(encoded as a frame is), as time ranges, best first',
        body: s.imageSearch,
        response: { 200: s.searchResult, ...errors(400, 404, 413, 415, 429) },
      },
    },
    askStreams: {
      method: 'POST',
      url: '/v1/query',
      schema: {
        operationId: 'askStreams',
        summary:
          'one question over several streams under one budget: frames interleaved by wall-clock time, evidence ' +
          'with streamId; `Accept: text/event-stream` streams the answer',
        body: s.crossQuestion,
        response: { 200: answer, ...errors(400, 404, 409, 413, 415, 429) },
      },
    },
    getContext: {
      method: 'GET',
      url: '/v1/streams/:id/context',
      schema: {
        operationId: 'getContext',
        summary: 'timeline: kept and evicted frames, retained frames with 32×32 RGB thumbnails (base64)',
        params: s.idParams,
        response: { 200: s.context, ...errors(400, 404) },
      },
    },
    getSnapshot: {
      method: 'GET',
      url: '/v1/streams/:id/snapshot',
      schema: {
        operationId: 'getSnapshot',
        summary: 'the context as a snapshot (Arrow IPC stream; restores every value)',
        params: s.idParams,
        response: {
          200: {
            description: 'Arrow IPC',
            content: { 'application/vnd.apache.arrow.stream': { schema: s.binary } },
          },
          ...errors(400, 404),
        },
      },
    },
    askStream: {
      method: 'POST',
      url: '/v1/streams/:id/query',
      schema: {
        operationId: 'askStream',
        summary:
          'ask a question about the retained context; with `Accept: text/event-stream` the answer streams ' +
          '(events `token`, then `result` or `error`)',
        params: s.idParams,
        body: s.question,
        response: { 200: answer, ...errors(400, 404, 409, 413, 415, 429) },
      },
    },
    recentAnswers: {
      method: 'GET',
      url: '/v1/answers/recent',
      schema: {
        operationId: 'recentAnswers',
        summary: 'the latest standing answers and alerts (JSON, newest last)',
        response: { 200: s.recentAnswers },
      },
    },
    answers: {
      method: 'GET',
      url: '/v1/answers',
      schema: {
        operationId: 'answers',
        summary: 'standing answers as server-sent events (`answer`)',
        response: {
          200: { description: 'SSE', content: { 'text/event-stream': { schema: s.text } } },
          ...errors(404),
        },
      },
    },
  } as const;
}

export type ApiRoutes = ReturnType<typeof apiRoutes>;
export type OperationId = keyof ApiRoutes;

/** What an API route is, whatever its schemas. */
export interface ApiRoute {
  method: 'GET' | 'POST' | 'DELETE';
  url: string;
  public?: boolean;
  invalid?: 'INVALID_CONFIG';
  links?: readonly string[];
  /** Largest body this route takes, when more than the server's default. */
  bodyLimit?: number;
  schema: { operationId?: string; response: Record<number, unknown> } & Record<string, unknown>;
}

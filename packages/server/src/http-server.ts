import { timingSafeEqual } from 'node:crypto';
import { Admission, LvuError, type LvuErrorCode, type MetricFamily } from '@lvu/core';
import type { Engine, QueryResult, QuestionInput, StandingQuestions, StreamStatus } from '@lvu/engine';
import { jpegToRgb } from '@lvu/operators';
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { query, range, sse } from './answer-stream.js';
import { allowedMethods, asLvuError, errorBody, methodNotAllowed, pathOf, statusOf } from './api-errors.js';
import type { OperationId } from './api-routes.js';
import { prepareApi, routeList, routeOptions } from './openapi-document.js';
import { PrometheusMetrics } from './prometheus-metrics.js';
import {
  bearerOf,
  defaultAllowedHosts,
  hostName,
  LOOPBACK,
  PAGE_CSP,
  SECURITY_HEADERS,
} from './request-guard.js';
import { type StreamSpecConfig, toStreamSpec } from './stream-spec.js';
import { TIMELINE_PAGE } from './timeline-page.js';

export interface HttpServerOptions {
  host?: string;
  port?: number;
  /** Required when `host` is not a loopback address. */
  token?: string;
  /** Largest request body in bytes (default 64 KiB). */
  bodyLimit?: number;
  standing?: StandingQuestions;
  /**
   * Names clients may reach the server by (`Host`, and `Origin` for browsers: a page elsewhere, or one reached by
   * DNS rebinding, is refused). Default: the loopback names on a loopback host; the host itself on another
   * address; any when binding 0.0.0.0 or `::` (set it there).
   */
  allowedHosts?: string[];
  /** Questions answered at once (default 2) and searches run at once (default 2). */
  maxConcurrentQueries?: number;
  maxConcurrentSearches?: number;
  /** Questions, and apart searches, waiting for a slot; past it 429 with Retry-After (default 16). */
  maxQueued?: number;
  /** Answers a question about a stream this engine does not run (a Kafka worker: the owner's checkpoint). */
  fallbackQuery?: (id: string, input: QuestionInput) => Promise<unknown>;
  /**
   * What the application knows of a stream beyond the engine, shown with its status (the Kafka worker: `kafka`,
   * its message counters), and the metric families it adds to /metrics.
   */
  streamDetails?: (id: string) => Record<string, unknown> | undefined;
  metrics?: () => MetricFamily[];
}

/**
 * The HTTP API of `lvu serve`: streams (list, add, remove, status), questions (JSON, or server-sent events with the
 * answer streamed), the context timeline, standing answers (SSE), Prometheus metrics, health, the OpenAPI document
 * and the timeline page. Binds 127.0.0.1 by default; any other address needs a bearer token.
 */
export async function createHttpServer(engine: Engine, o: HttpServerOptions = {}): Promise<FastifyInstance> {
  const host = o.host ?? '127.0.0.1';
  if (o.token !== undefined && o.token.trim() === '') {
    throw new LvuError('INVALID_CONFIG', 'the bearer token is empty or white space', {
      field: 'server.token',
      hint: 'set server.token (or LVU_TOKEN) to a long random secret, e.g. `openssl rand -hex 32`, or unset it',
    });
  }
  if (!LOOPBACK.has(host) && !o.token) {
    throw new LvuError('INVALID_CONFIG', `binding ${host} needs a bearer token (server.token / LVU_TOKEN)`, {
      field: 'server.token',
    });
  }
  const app = Fastify({
    bodyLimit: o.bodyLimit ?? 64 * 1024,
    logger: false,
    routerOptions: { ignoreTrailingSlash: true, querystringParser },
    // a body with a `__proto__` or `constructor.prototype` key loses that key instead of failing as "not JSON"
    onProtoPoisoning: 'remove',
    onConstructorPoisoning: 'remove',
  });
  const token = o.token ? Buffer.from(o.token.trim()) : null;
  // the routes, their validation and /openapi.json from one description (api-routes.ts, api-schemas.ts)
  const api = await prepareApi(
    app,
    { maxQuestionChars: engine.limits.maxQuestionChars, plugins: engine.plugins },
    token !== null,
  );
  const routes = routeList(api);
  const methods = allowedMethods(routes);
  const publicRoutes = new Set(routes.filter((r) => r.public).map((r) => r.url));
  const invalidCode = new Map<string, LvuErrorCode>(
    routes.map((r) => [`${r.method} ${r.url}`, r.invalid ?? 'INVALID_ARGUMENT']),
  );
  const metrics = new PrometheusMetrics(engine);
  let closing = false;
  app.addHook('onClose', async () => {
    closing = true;
    metrics.close();
  });
  const allowedHosts = new Set(
    (o.allowedHosts ?? defaultAllowedHosts(host)).map((h) => h.toLowerCase().replace(/^\[|\]$/g, '')),
  );
  const queries = new Admission('questions', o.maxConcurrentQueries ?? 2, o.maxQueued ?? 16);
  const searches = new Admission('searches', o.maxConcurrentSearches ?? 2, o.maxQueued ?? 16);
  metrics.admission = [queries, searches];
  if (o.metrics) metrics.extra = o.metrics;
  const status = (s: StreamStatus) => ({ ...s, ...o.streamDetails?.(s.id) });
  const authorized = (req: FastifyRequest) => {
    if (!token) return true;
    const given = Buffer.from(bearerOf(req.headers.authorization));
    return given.length === token.length && timingSafeEqual(given, token);
  };

  app.addHook('onRequest', async (req, reply) => {
    void reply.headers(SECURITY_HEADERS);
    // reached by a name the server does not answer to (DNS rebinding), or called by a page of another origin
    const name = hostName(req.headers.host ?? '');
    if (allowedHosts.size > 0 && (name === null || !allowedHosts.has(name))) {
      throw new LvuError(
        'FORBIDDEN',
        `this server does not answer to the host name ${String(req.headers.host).slice(0, 80)}`,
        {
          field: 'host',
          hint: `reach it as ${[...allowedHosts].join(', ')}, or add the name to server.allowedHosts`,
        },
      );
    }
    const origin = req.headers.origin;
    if (origin !== undefined) {
      const o2 = hostName(origin, true);
      const same = o2 !== null && o2 === name;
      if (!same && (o2 === null || allowedHosts.size === 0 || !allowedHosts.has(o2))) {
        throw new LvuError('FORBIDDEN', `requests from pages of ${origin.slice(0, 80)} are refused`, {
          field: 'origin',
          hint: "open the timeline page from this server itself, or add the page's host to server.allowedHosts",
        });
      }
    }
    // a method a known path does not take: 405 before anything reads the body
    const path = pathOf(req.url);
    const allowed = methods.find(([re]) => re.test(path))?.[1];
    if (allowed && !allowed.includes(req.method)) return methodNotAllowed(req.method, path, allowed, reply);
    // the matched route, not the raw URL: `/healthz?x=1` and `/readyz/` are the public routes too
    if (!token || publicRoutes.has(req.routeOptions.url ?? '')) return;
    if (!authorized(req)) {
      throw new LvuError('AUTH_REQUIRED', 'missing or wrong bearer token', {
        field: 'authorization',
        hint: "send the server's token as `Authorization: Bearer TOKEN` (server.token / LVU_TOKEN where it runs); the timeline page takes it as /#token=TOKEN",
      });
    }
  });
  app.setErrorHandler((err, req, reply) => {
    const e = asLvuError(err, invalidCode.get(`${req.method} ${req.routeOptions.url}`));
    const retry = (e.details as { retryAfterSeconds?: number } | undefined)?.retryAfterSeconds;
    if (retry !== undefined) void reply.header('retry-after', String(retry));
    void reply.code(statusOf(e)).send(errorBody(e));
  });
  app.setNotFoundHandler((req, reply) => {
    const path = pathOf(req.url);
    const e = new LvuError('NOT_FOUND', `no route ${req.method} ${path}`, {
      field: 'path',
      hint: 'the routes are listed in /openapi.json',
    });
    void reply.code(404).send(errorBody(e));
  });

  const zod = app.withTypeProvider<ZodTypeProvider>();
  const route = <K extends OperationId>(id: K) => routeOptions(api, id);
  zod.route({ ...route('healthz'), handler: async () => ({ ok: true as const }) });
  // readiness is the server's: it serves questions until it shuts down; a failed stream fails alone and is
  // reported here and per stream (GET /v1/streams/{id}: state, error), never taking the others out of rotation
  // without the token (when one is set) it says only whether the server is ready: streams' sources and errors are
  // stream data; durability warnings (a checkpoint or spill failing) come with the details
  zod.route({
    ...route('readyz'),
    handler: async (req, reply) => {
      const code = closing ? 503 : 200;
      if (!authorized(req)) return reply.code(code).send({ ready: !closing });
      const streams = engine.listStreams();
      const failed = streams.filter((s) => s.state === 'failed').map((s) => ({ id: s.id, error: s.error }));
      return reply
        .code(code)
        .send({ ready: !closing, streams: streams.length, failed, warnings: engine.warnings() });
    },
  });
  zod.route({
    ...route('metrics'),
    handler: async (_req, reply) => reply.type('text/plain; version=0.0.4').send(metrics.render()),
  });
  zod.route({ ...route('openapi'), handler: async () => app.swagger() });
  zod.route({
    ...route('timelinePage'),
    handler: async (_req, reply) =>
      reply.type('text/html; charset=utf-8').header('content-security-policy', PAGE_CSP).send(TIMELINE_PAGE),
  });

  zod.route({
    ...route('listStreams'),
    handler: async () => ({ streams: engine.listStreams().map(status) }),
  });
  zod.route({
    ...route('addStream'),
    handler: async (req, reply) => {
      const spec = toStreamSpec(req.body as StreamSpecConfig);
      return reply.code(201).send(status(engine.addStream({ ...spec, untrusted: true })));
    },
  });
  zod.route({ ...route('getStream'), handler: async (req) => status(engine.status(req.params.id)) });
  zod.route({
    ...route('removeStream'),
    handler: async (req, reply) => {
      const purge = req.query.purge === 'true' || req.query.purge === '1';
      await engine.removeStream(req.params.id, { purge });
      // its standing questions stop with it (the context stays queryable)
      o.standing?.removeStream(req.params.id);
      return reply.code(204).send();
    },
  });
  zod.route({
    ...route('searchStream'),
    handler: async (req) => searches.run(() => engine.search([req.params.id], req.query)),
  });
  zod.route({
    ...route('search'),
    handler: async (req) => {
      const { streams, ...q } = req.query;
      return searches.run(() => engine.search(streams.split(',').filter(Boolean), q));
    },
  });
  zod.route({
    ...route('searchImage'),
    handler: async (req) => {
      const { streams, image, sinceMs, untilMs, limit } = req.body;
      for (const id of streams) engine.status(id); // unknown streams are a 404 before the image is decoded
      const decoded = jpegToRgb(Buffer.from(image, 'base64'));
      const range = { sinceMs: sinceMs ?? undefined, untilMs: untilMs ?? undefined, limit };
      return searches.run(() => engine.searchImage(streams, { image: decoded, ...range }));
    },
  });
  zod.route({
    ...route('askStreams'),
    handler: (req, reply) => {
      const { streams } = req.body;
      for (const id of streams) engine.status(id); // unknown streams are a 404 before anything runs
      return query(req, reply, range(req.body), (input) =>
        queries.run(() => engine.queryStreams(streams, input), input.signal),
      );
    },
  });
  zod.route({ ...route('recentAnswers'), handler: async () => ({ answers: o.standing?.recent ?? [] }) });
  zod.route({
    ...route('getContext'),
    handler: async (req) => {
      const c = engine.context(req.params.id);
      return {
        ...c,
        retained: c.retained.map((f) => ({ ...f, thumb: Buffer.from(f.thumb).toString('base64') })),
      };
    },
  });
  zod.route({
    ...route('getSnapshot'),
    handler: async (req, reply) =>
      reply.type('application/vnd.apache.arrow.stream').send(Buffer.from(engine.snapshot(req.params.id))),
  });
  zod.route({
    ...route('askStream'),
    handler: (req, reply) => {
      const id = req.params.id;
      const fallback = o.fallbackQuery;
      const ask = async (input: QuestionInput) => {
        try {
          return await queries.run(() => engine.query(id, input), input.signal);
        } catch (err) {
          // a stream another worker runs: the answer from its checkpoint, whole (as JSON, or as the one `result`
          // event of a streamed answer); a stream no checkpoint holds either is still a 404
          if (fallback && err instanceof LvuError && err.code === 'STREAM_NOT_FOUND') {
            const { onText: _whole, ...asked } = input;
            return fallback(id, asked) as Promise<QueryResult>;
          }
          throw err;
        }
      };
      // nothing is streamed before the first token, so a missing stream is a 404 either way
      return query(req, reply, range(req.body), ask);
    },
  });
  zod.route({
    ...route('answers'),
    handler: (req, reply) => {
      if (!o.standing)
        throw new LvuError('NOT_FOUND', 'no standing questions are configured', { field: 'standing' });
      sse(req, reply);
      const sub = o.standing.answers$.subscribe((a) => {
        reply.raw.write(`event: answer\ndata: ${JSON.stringify(a)}\n\n`);
      });
      req.raw.on('close', () => sub.unsubscribe());
    },
  });
  await app.ready();
  return app;
}

/** The query string's parameters; one given empty (`?sinceMs=`) is not given. */
function querystringParser(s: string): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of new URLSearchParams(s)) {
    if (v === '') continue;
    const had = out[k];
    out[k] = had === undefined ? v : [...(Array.isArray(had) ? had : [had]), v];
  }
  return out;
}

import { timingSafeEqual } from 'node:crypto';
import { Admission, issueField, LvuError, type LvuErrorCode, type MetricFamily } from '@lvu/core';
import type { Engine, QueryResult, QuestionInput, StandingQuestions, StreamStatus } from '@lvu/engine';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { ApiRoute, OperationId } from './api-routes.js';
import { prepareApi, routeList, routeOptions } from './openapi-document.js';
import { PrometheusMetrics } from './prometheus-metrics.js';
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

const STATUS: Partial<Record<LvuErrorCode, number>> = {
  INVALID_ARGUMENT: 400,
  INVALID_CONFIG: 400,
  UNSUPPORTED_MEDIA: 400,
  SHAPE_MISMATCH: 400,
  NON_FINITE_INPUT: 400,
  MALFORMED_MESSAGE: 400,
  AUTH_REQUIRED: 401,
  FORBIDDEN: 403,
  OVERLOADED: 429,
  NOT_FOUND: 404,
  STREAM_NOT_FOUND: 404,
  CONTEXT_EMPTY: 409,
  STREAM_EXISTS: 409,
  CONTEXT_OVERFLOW: 413,
  CANCELLED: 499,
  SOURCE_UNREACHABLE: 502,
  TRANSPORT_UNAVAILABLE: 503,
};

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

/** The names a server on `host` answers to by default (empty: any). */
function defaultAllowedHosts(host: string): string[] {
  if (LOOPBACK.has(host)) return ['localhost', '127.0.0.1', '::1'];
  if (host === '0.0.0.0' || host === '::') return [];
  return [host];
}

/** The host name of a `Host` header or an `Origin` (`http://name:port`), lower case, without brackets or port. */
export function hostName(value: string, origin = false): string | null {
  let v = value.trim().toLowerCase();
  if (origin) {
    const m = /^[a-z][a-z0-9+.-]*:\/\/([^/]*)$/.exec(v.replace(/\/$/, ''));
    if (!m) return null;
    v = m[1]!;
  }
  const m6 = /^\[([0-9a-f:.]+)\](?::\d+)?$/.exec(v);
  if (m6) return m6[1]!;
  const m = /^([a-z0-9._-]+)(?::\d+)?$/.exec(v);
  return m ? m[1]! : null;
}

/** Headers every answer carries: no sniffing, no framing, no referrer; the page may load and call only itself. */
const SECURITY_HEADERS = {
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cross-origin-resource-policy': 'same-origin',
};
const PAGE_CSP =
  "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data: blob:; " +
  "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/** Every error the API answers has this one shape (the OpenAPI `Error` schema). */
function errorBody(err: LvuError) {
  return {
    error: err.code,
    message: err.message,
    ...(err.field === undefined ? {} : { field: err.field }),
    hint: err.hint,
  };
}

const METHOD_ORDER = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'];

/** Each path of the API as a pattern, with the methods it takes (GET takes HEAD too): 405 with `Allow` for others. */
function allowedMethods(routes: Iterable<ApiRoute>): [RegExp, string[]][] {
  const byUrl = new Map<string, Set<string>>();
  for (const r of routes) {
    const m = byUrl.get(r.url) ?? new Set<string>();
    m.add(r.method);
    if (r.method === 'GET') m.add('HEAD');
    byUrl.set(r.url, m);
  }
  return [...byUrl].map(([url, methods]) => [
    new RegExp(`^${url.replace(/\./g, '\\.').replace(/:[^/]+/g, '[^/]+')}$`),
    METHOD_ORDER.filter((m) => methods.has(m)),
  ]);
}

/** A request's path without its query or trailing slashes (`/readyz/?x` → `/readyz`). */
function pathOf(url: string): string {
  return url.split('?')[0]!.replace(/(.)\/+$/, '$1');
}

/** The bearer token a request carries (`Authorization: Bearer T`, scheme case-insensitive per RFC 7235). */
function bearerOf(header: string | undefined): string {
  const m = /^bearer[ \t]+(.*)$/i.exec((header ?? '').trim());
  return m ? m[1]!.trim() : '';
}

/**
 * Fastify's own errors as LvuErrors: a request its route's schema refuses (`invalid`: the code it answers, with the
 * field the first issue names), bad JSON, a body too large, a wrong content type.
 */
function asLvuError(err: unknown, invalid: LvuErrorCode = 'INVALID_ARGUMENT'): LvuError {
  if (err instanceof LvuError) return err;
  const e = err as {
    statusCode?: number;
    code?: string;
    message?: string;
    validation?: { instancePath: string; message?: string; keyword: string; params: { keys?: string[] } }[];
    validationContext?: string;
  };
  if (e.validation?.length) {
    const v = e.validation[0]!;
    const path = v.instancePath.split('/').filter(Boolean);
    // the issue's field (an unknown key named itself); the part of the request when it is about all of it
    const named = issueField({ code: v.keyword, path, keys: v.params.keys ?? [] } as never);
    const field = named !== '(root)' ? named : e.validationContext === 'querystring' ? 'query' : 'body';
    const message = v.message ?? 'invalid';
    return new LvuError(invalid, message.startsWith(field) ? message : `${field}: ${message}`, {
      field,
      details: { issues: e.validation.map((i) => ({ field: i.instancePath, message: i.message })) },
    });
  }
  if (e.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
    return new LvuError('INVALID_ARGUMENT', 'request body too large', {
      field: 'body',
      details: { status: 413 },
    });
  }
  if (e.statusCode && e.statusCode >= 400 && e.statusCode < 500) {
    return new LvuError('INVALID_ARGUMENT', e.message ?? 'bad request', {
      field: 'body',
      details: { status: e.statusCode },
    });
  }
  return new LvuError('INTERNAL', e.message ?? String(err), { cause: err });
}

function statusOf(err: LvuError): number {
  const s = (err.details as { status?: number } | undefined)?.status;
  return s ?? STATUS[err.code] ?? 500;
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
          // a stream another worker runs: the answer from its checkpoint (JSON only)
          if (fallback && !input.onText && err instanceof LvuError && err.code === 'STREAM_NOT_FOUND')
            return fallback(id, input) as Promise<QueryResult>;
          throw err;
        }
      };
      // validate before the stream starts, so a missing stream is still a 404
      if ((req.headers.accept ?? '').includes('text/event-stream')) engine.status(id);
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

/** A question's text and range as the engine takes them (null: not given). */
function range(b: { question: string; sinceMs?: number | null; untilMs?: number | null }): QuestionInput {
  return { question: b.question, sinceMs: b.sinceMs ?? undefined, untilMs: b.untilMs ?? undefined };
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

function methodNotAllowed(
  method: string,
  path: string,
  allowed: string[],
  reply: FastifyReply,
): FastifyReply {
  const e = new LvuError('INVALID_ARGUMENT', `${method} is not allowed on ${path}`, {
    field: 'method',
    hint: `use ${allowed.join(', ')} (see /openapi.json)`,
  });
  return reply.code(405).header('allow', allowed.join(', ')).send(errorBody(e));
}

function sse(req: FastifyRequest, reply: FastifyReply): void {
  reply.hijack();
  reply.raw.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    connection: 'keep-alive',
  });
  reply.raw.write(': lvu\n\n');
  const ping = setInterval(() => reply.raw.write(': ping\n\n'), 15_000);
  ping.unref();
  const stop = () => clearInterval(ping);
  req.raw.on('close', stop);
  reply.raw.on('close', stop);
  reply.raw.on('finish', stop);
}

/**
 * A question (one stream or several): `{question, sinceMs?, untilMs?}` answered as JSON, or with
 * `Accept: text/event-stream` as server-sent events (`token` pieces, then `result` or `error`).
 */
async function query(
  req: FastifyRequest,
  reply: FastifyReply,
  input: QuestionInput,
  ask: (input: QuestionInput) => Promise<QueryResult>,
): Promise<QueryResult | undefined> {
  const streaming = (req.headers.accept ?? '').includes('text/event-stream');
  if (!streaming) return ask(input);
  const abort = new AbortController();
  req.raw.on('close', () => abort.abort());
  let started = false;
  const start = () => {
    if (!started) sse(req, reply);
    started = true;
  };
  try {
    const r = await ask({
      ...input,
      signal: abort.signal,
      onText: (text) => {
        start();
        reply.raw.write(`event: token\ndata: ${JSON.stringify({ text })}\n\n`);
      },
    });
    start();
    reply.raw.write(`event: result\ndata: ${JSON.stringify(r)}\n\n`);
  } catch (err) {
    if (!started) throw err;
    const e = asLvuError(err);
    reply.raw.write(`event: error\ndata: ${JSON.stringify(errorBody(e))}\n\n`);
  }
  reply.raw.end();
  return undefined;
}

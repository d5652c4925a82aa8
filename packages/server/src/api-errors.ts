import { issueField, LvuError, type LvuErrorCode } from '@lvu/core';
import type { FastifyReply } from 'fastify';
import type { ApiRoute } from './api-routes.js';

/**
 * The API's errors: every one has the one shape of the `Error` schema, with the status its code maps to; fastify's
 * own (a request a route's schema refuses, bad JSON, a body too large) become LvuErrors first; a method a known path
 * does not take is 405 with `Allow`, from the route table.
 */

export const STATUS: Partial<Record<LvuErrorCode, number>> = {
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

/** Every error the API answers has this one shape (the OpenAPI `Error` schema). */
export function errorBody(err: LvuError) {
  return {
    error: err.code,
    message: err.message,
    ...(err.field === undefined ? {} : { field: err.field }),
    hint: err.hint,
  };
}

export const METHOD_ORDER = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'];

/** Each path of the API as a pattern, with the methods it takes (GET takes HEAD too): 405 with `Allow` for others. */
export function allowedMethods(routes: Iterable<ApiRoute>): [RegExp, string[]][] {
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
export function pathOf(url: string): string {
  return url.split('?')[0]!.replace(/(.)\/+$/, '$1');
}

/**
 * Fastify's own errors as LvuErrors: a request its route's schema refuses (`invalid`: the code it answers, with the
 * field the first issue names), bad JSON, a body too large, a wrong content type.
 */
export function asLvuError(err: unknown, invalid: LvuErrorCode = 'INVALID_ARGUMENT'): LvuError {
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

export function statusOf(err: LvuError): number {
  const s = (err.details as { status?: number } | undefined)?.status;
  return s ?? STATUS[err.code] ?? 500;
}

export function methodNotAllowed(
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

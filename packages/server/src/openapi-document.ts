import fastifySwagger from '@fastify/swagger';
import { DEFAULT_MAX_QUESTION_CHARS, LvuError, type SourceRegistry } from '@lvu/core';
import { builtinPlugins, type EnginePlugins } from '@lvu/engine';
import Fastify, { type FastifyInstance } from 'fastify';
import {
  createJsonSchemaTransform,
  createJsonSchemaTransformObject,
  serializerCompiler,
  validatorCompiler,
} from 'fastify-type-provider-zod';
import { type ApiRoute, type ApiRoutes, apiRoutes, type OperationId } from './api-routes.js';
import { type ApiSchemas, type ApiShape, apiSchemas } from './api-schemas.js';

const DESCRIPTION =
  'Rolling LongVU contexts of live video streams and questions about them. Binds 127.0.0.1 by default; ' +
  'a server with a token (server.token / LVU_TOKEN, required off loopback) needs `Authorization: Bearer ' +
  'TOKEN` on every route but /, /healthz, /readyz and /openapi.json.';

const ERROR_DESCRIPTIONS: Record<string, string> = {
  '401': 'missing or wrong bearer token',
  '429': 'too many questions or searches running and waiting: ask again after Retry-After seconds',
};

const OK_DESCRIPTIONS: Record<string, string> = { '201': 'created', '503': 'shutting down' };

/** The API as one server describes it: its schemas, its routes, and whether it has a token. */
export interface MountedApi {
  schemas: ApiSchemas;
  routes: ApiRoutes;
  auth: boolean;
}

/**
 * Sets up `app` for the API: zod validation and serialization, and @fastify/swagger writing the OpenAPI 3.1
 * document from the routes' schemas as `route()` registers them. Call before registering any route.
 */
export async function prepareApi(app: FastifyInstance, shape: ApiShape, auth: boolean): Promise<MountedApi> {
  const schemas = apiSchemas(shape);
  const routes = apiRoutes(schemas);
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  const generated = createJsonSchemaTransformObject({ schemaRegistry: schemas.registry });
  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.1.0',
      info: { title: 'lvu', version: '0.1.0', description: DESCRIPTION },
      ...(auth ? { components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } } } : {}),
    },
    transform: createJsonSchemaTransform({ schemaRegistry: schemas.registry, skipList: [] }),
    transformObject: (d) => decorate(generated(d) as Doc, routes),
  });
  return { schemas, routes, auth };
}

/**
 * A route's options for fastify: its schema with, on a server with a token, the bearer requirement and the 401 on
 * every route but the public ones (which say `security: []`).
 */
export function routeOptions<K extends OperationId>(
  api: MountedApi,
  id: K,
): { method: ApiRoutes[K]['method']; url: string; bodyLimit?: number; schema: ApiRoutes[K]['schema'] } {
  const r = api.routes[id] as ApiRoute;
  const guarded = api.auth && !r.public;
  return {
    method: r.method,
    url: r.url,
    ...(r.bodyLimit ? { bodyLimit: r.bodyLimit } : {}),
    schema: {
      ...r.schema,
      ...(r.public ? { security: [] } : guarded ? { security: [{ bearer: [] }] } : {}),
      response: { ...r.schema.response, ...(guarded ? { 401: api.schemas.error } : {}) },
    } as ApiRoutes[K]['schema'],
  };
}

/** The routes as plain descriptions, whatever their schemas. */
export function routeList(api: MountedApi): ApiRoute[] {
  return Object.values(api.routes) as ApiRoute[];
}

// biome-ignore lint/suspicious/noExplicitAny: an OpenAPI document is untyped JSON here
type Doc = Record<string, any>;

/**
 * What a route's schema cannot say in fastify's terms, added to the generated document: the error responses'
 * descriptions and 429's Retry-After header, and the links from a created stream to the operations on it (which
 * Schemathesis' stateful phase follows).
 */
function decorate(doc: Doc, routes: ApiRoutes): Doc {
  for (const ops of Object.values<Doc>(doc.paths ?? {})) {
    for (const op of Object.values<Doc>(ops)) {
      for (const [code, res] of Object.entries<Doc>(op.responses ?? {})) {
        if (res.description === 'Default Response') res.description = OK_DESCRIPTIONS[code] ?? 'ok';
        const ref = res.content?.['application/json']?.schema?.$ref;
        if (ref !== '#/components/schemas/Error') continue;
        res.description = ERROR_DESCRIPTIONS[code] ?? 'error';
        if (code === '429')
          res.headers = {
            'Retry-After': { schema: { type: 'integer', minimum: 1 }, description: 'seconds to wait' },
          };
      }
      const route = (Object.values(routes) as ApiRoute[]).find(
        (r) => r.schema.operationId === op.operationId,
      );
      const created = op.responses?.['201'];
      if (route?.links && created)
        created.links = Object.fromEntries(
          route.links.map((id) => [id, { operationId: id, parameters: { id: '$response.body#/id' } }]),
        );
    }
  }
  return tidyComponents(doc);
}

/**
 * The components the document refers to, under their own names: fastify-type-provider-zod writes every named schema
 * twice (as read, `NameInput`, and as written, `Name`); those no route uses go, and a schema only read keeps its
 * name without the suffix.
 */
function tidyComponents(doc: Doc): Doc {
  const schemas: Doc = doc.components?.schemas ?? {};
  const refs = (v: unknown, out: Set<string>) => {
    if (Array.isArray(v)) for (const x of v) refs(x, out);
    else if (v && typeof v === 'object')
      for (const [k, x] of Object.entries(v)) {
        if (k === '$ref' && typeof x === 'string') out.add(x.replace('#/components/schemas/', ''));
        else refs(x, out);
      }
  };
  const used = new Set<string>();
  refs(doc.paths, used);
  for (let n = -1; n !== used.size; ) {
    n = used.size;
    for (const name of [...used]) refs(schemas[name], used);
  }
  const rename = new Map<string, string>();
  for (const name of used) {
    const bare = name.replace(/Input$/, '');
    if (bare !== name && !used.has(bare)) rename.set(name, bare);
  }
  const kept = Object.fromEntries([...used].sort().map((name) => [rename.get(name) ?? name, schemas[name]]));
  const relink = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(relink);
    if (!v || typeof v !== 'object') return v;
    return Object.fromEntries(
      Object.entries(v).map(([k, x]) => {
        if (k !== '$ref' || typeof x !== 'string') return [k, relink(x)];
        const name = x.replace('#/components/schemas/', '');
        return [k, `#/components/schemas/${rename.get(name) ?? name}`];
      }),
    );
  };
  return relink({ ...doc, components: { ...doc.components, schemas: kept } }) as Doc;
}

/**
 * The OpenAPI 3.1 document of `lvu serve` (served at /openapi.json), written by @fastify/swagger from the routes'
 * schemas: the same routes, on a server that is never started. With a token (`auth`) every route but the public
 * ones needs `Authorization: Bearer TOKEN` and may answer 401. A stream's options are those of the registered
 * `sources`; its retention policy one of `retention`.
 */
export async function openApiDocument(o: {
  auth: boolean;
  maxQuestionChars?: number;
  sources: SourceRegistry;
  /** The registered retention policies (default: the built-in ones). */
  retention?: EnginePlugins['retention'];
}): Promise<Doc> {
  const app = Fastify({ logger: false });
  try {
    const api = await prepareApi(
      app,
      {
        maxQuestionChars: o.maxQuestionChars ?? DEFAULT_MAX_QUESTION_CHARS,
        plugins: { sources: o.sources, retention: o.retention ?? builtinPlugins().retention },
      },
      o.auth,
    );
    for (const id of Object.keys(api.routes) as OperationId[])
      app.route({
        ...routeOptions(api, id),
        handler: async () => {
          throw new LvuError('INTERNAL', 'this server only writes the API document');
        },
      });
    await app.ready();
    return app.swagger() as Doc;
  } finally {
    await app.close();
  }
}

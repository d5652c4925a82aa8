import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { defineSchema, LvuError, z } from '@lvu/core';
import {
  type EngineConfig,
  type EnginePlugins,
  engineConfigSchema,
  type StandingQuestion,
  standingQuestionSchema,
} from '@lvu/engine';
import { parse } from 'yaml';
import { type StreamSpecConfig, streamSpecSchema } from './stream-spec.js';

/**
 * The pipeline YAML of `lvu serve`: server, engine (the engine's own schema: backends and their options from the
 * plug-ins), streams (their options from the registered sources) and standing questions.
 */
export function pipelineConfigSchema(plugins: EnginePlugins) {
  return defineSchema(
    'pipeline',
    z.strictObject({
      server: z
        .strictObject({
          host: z.string().default('127.0.0.1'),
          port: z.int().min(0).max(65535).default(8080),
          token: z.string().nullish().describe('bearer token; required unless host is loopback'),
          bodyLimit: z
            .int()
            .min(1024)
            .default(64 * 1024),
          allowedHosts: z
            .array(z.string().min(1))
            .optional()
            .describe(
              'names clients may reach the server by (the Host header, and Origin for browsers); default: the loopback ' +
                'names on a loopback host, the host itself otherwise, any when binding 0.0.0.0 or ::',
            ),
          maxConcurrentQueries: z
            .int()
            .min(1)
            .max(64)
            .default(2)
            .describe('questions answered at once; more wait in a queue'),
          maxConcurrentSearches: z.int().min(1).max(64).default(2).describe('searches run at once'),
          maxQueued: z
            .int()
            .min(0)
            .max(1024)
            .default(16)
            .describe('questions (and, apart, searches) waiting; past it: 429 with Retry-After'),
        })
        .default({
          host: '127.0.0.1',
          port: 8080,
          bodyLimit: 64 * 1024,
          maxConcurrentQueries: 2,
          maxConcurrentSearches: 2,
          maxQueued: 16,
        }),
      engine: engineConfigSchema(plugins).schema.prefault({}),
      streams: z.array(streamSpecSchema(plugins).schema).default([]),
      standing: z.array(standingQuestionSchema.schema).default([]),
    }),
  );
}
export type PipelineConfig = {
  server: {
    host: string;
    port: number;
    token?: string | null;
    bodyLimit: number;
    allowedHosts?: string[];
    maxConcurrentQueries: number;
    maxConcurrentSearches: number;
    maxQueued: number;
  };
  engine: EngineConfig & { models?: string | null; spill?: { dir: string }; stateDir?: string };
  streams: StreamSpecConfig[];
  standing: StandingQuestion[];
};

/** `${env:NAME}` and `${env:NAME:-default}` in the YAML text, from `env`; an unset variable without default is an error. */
export function substituteEnv(text: string, env: Record<string, string | undefined>): string {
  return text.replace(
    /\$\{env:([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g,
    (_m, name: string, def?: string) => {
      const v = env[name];
      if (v !== undefined && v !== '') return v;
      if (def !== undefined) return def;
      throw new LvuError('INVALID_CONFIG', `environment variable ${name} is not set and has no default`, {
        field: `env:${name}`,
        hint: `set ${name} or write \${env:${name}:-default}`,
      });
    },
  );
}

/** Reads, substitutes and validates a pipeline YAML; paths in it are relative to the file. */
export function loadPipelineConfig(
  path: string,
  plugins: EnginePlugins,
  env: Record<string, string | undefined> = process.env,
): PipelineConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new LvuError('NOT_FOUND', `cannot read pipeline ${path}: ${(err as Error).message}`, {
      field: 'config',
      cause: err,
    });
  }
  let raw: unknown;
  try {
    raw = parse(substituteEnv(text, env));
  } catch (err) {
    if (err instanceof LvuError) throw err;
    throw new LvuError('INVALID_CONFIG', `${path} is not valid YAML: ${(err as Error).message}`, {
      field: 'config',
      cause: err,
    });
  }
  const c = pipelineConfigSchema(plugins).parse(raw ?? {}) as PipelineConfig;
  const base = dirname(resolve(path));
  const local = (p: string) => (isAbsolute(p) || /^[a-z][a-z0-9+.-]*:/i.test(p) ? p : resolve(base, p));
  // `starter`, `builtin` and `auto` name model sets, not paths next to the file
  if (c.engine.models && !['starter', 'builtin', 'auto'].includes(c.engine.models))
    c.engine.models = local(c.engine.models);
  if (c.engine.spill) c.engine.spill.dir = local(c.engine.spill.dir);
  if (c.engine.stateDir) c.engine.stateDir = local(c.engine.stateDir);
  const policy = c.engine.sourcePolicy as { fileDirs?: string[] } | undefined;
  if (policy?.fileDirs) policy.fileDirs = policy.fileDirs.map(local);
  for (const s of c.streams) s.source = local(s.source);
  const ids = new Set<string>();
  for (const [i, s] of c.streams.entries()) {
    if (ids.has(s.id)) {
      throw new LvuError('INVALID_CONFIG', `pipeline: streams.${i}.id: ${s.id} is declared twice`, {
        field: `streams.${i}.id`,
      });
    }
    ids.add(s.id);
  }
  for (const [i, q] of c.standing.entries()) {
    if (!ids.has(q.stream)) {
      throw new LvuError('INVALID_CONFIG', `pipeline: standing.${i}.stream: no stream ${q.stream}`, {
        field: `standing.${i}.stream`,
      });
    }
  }
  return c;
}

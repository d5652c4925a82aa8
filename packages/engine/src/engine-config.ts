import { LONGVU_PRESETS, longVuOptionsSchema } from '@lvu/compress';
import { defineSchema, overridesOf, type Registry, SourceRegistry, sourcePolicySchema, z } from '@lvu/core';
import {
  durationSchema,
  queryLimitsSchema,
  retentionOptionsSchema,
  retentionSchema,
} from './engine-options.js';
import { type BackendFactory, llmBackends } from './llm-backends.js';
import type { ModelKit } from './model-kit.js';
import { modelKits } from './model-kits.js';
import { type RetentionPolicy, retentionPolicies } from './retention-policies.js';

/**
 * What a program plugs into its engines: source factories (URL scheme → frames), model kits (a model directory →
 * encoders), LLM backends and retention policies. The engine registers no source: the program above it does (the `lvu` command
 * registers FFmpeg's).
 */
export interface EnginePlugins {
  sources: SourceRegistry;
  models: Registry<ModelKit>;
  backends: Registry<BackendFactory>;
  /** Retention policies (`retention.policy`): one a program registers appears in the schema and is used. */
  retention: Registry<RetentionPolicy>;
}

/** The engine's own model kits and backends, and no source. */
export function builtinPlugins(): EnginePlugins {
  return {
    sources: new SourceRegistry(),
    models: modelKits.clone(),
    backends: llmBackends.clone(),
    retention: retentionPolicies.clone(),
  };
}

const presets = Object.keys(LONGVU_PRESETS) as [
  keyof typeof LONGVU_PRESETS,
  ...(keyof typeof LONGVU_PRESETS)[],
];

/** The engine's options less the per-backend ones (their schemas come from the backend registry). */
const baseShape = {
  models: z
    .string()
    .nullish()
    .describe(
      'model directory, starter (the fetched starter set), builtin, or auto (default: starter when fetched)',
    ),
  backend: z
    .string()
    .default('auto')
    .describe('auto: what the models run best (onnx with an LLM, evidence with the starter set, else none)'),
  longvu: overridesOf(longVuOptionsSchema.schema)
    .extend({ preset: z.enum(presets).optional().describe('a named set of LongVU constants') })
    .default({})
    .describe('LongVU options; contextTokens is the token budget of every question'),
  retention: overridesOf(retentionOptionsSchema.schema)
    .default({})
    .describe('default retention of every stream'),
  query: overridesOf(queryLimitsSchema.schema).default({}),
  generation: z
    .strictObject({
      temperature: z.number().min(0).optional(),
      topP: z.number().optional(),
      seed: z.int().optional(),
      reusePrefix: z
        .boolean()
        .optional()
        .describe(
          'backend onnx: reuse the KV cache of the prompt rows a question shares with the previous one (default true; ' +
            'holds one more copy of the KV cache)',
        ),
    })
    .default({}),
  spill: z
    .strictObject({
      dir: z.string().describe('segments go to DIR/STREAM'),
      segmentFrames: z.int().min(1).optional(),
      maxDiskBytes: z.int().min(1).optional(),
    })
    .optional()
    .describe('append every kept frame to Arrow IPC segments (time-range questions read them)'),
  sourcePolicy: sourcePolicySchema,
  stateDir: z
    .string()
    .optional()
    .describe(
      "durable memory: every stream's context is checkpointed to DIR/streams (and standing-question state to " +
        'DIR/standing.json); a restart with the same stateDir serves the same frames and continues each live stream',
    ),
  checkpointSeconds: z
    .number()
    .positive()
    .default(10)
    .describe(
      'with stateDir: how often contexts that changed are saved (a SIGKILL loses at most this; see checkpointOpenWindows)',
    ),
  checkpointOpenWindows: z
    .boolean()
    .default(true)
    .describe(
      'with stateDir: a live DINO window open longer than checkpointSeconds is closed early so that the checkpoint ' +
        'covers every frame taken (a SIGKILL loses at most checkpointSeconds); false keeps LongVU windows whole ' +
        '(a SIGKILL then loses up to checkpointSeconds plus one window). Recordings keep whole windows either way: ' +
        'after a crash they are read again from the last frame a checkpoint covers',
    ),
  keepEndedFor: durationSchema
    .default('24h')
    .describe(
      'how long a removed or ended stream stays queryable (seconds, or 90s/30m/24h/7d; 0: forgotten at once); ' +
        'DELETE …?purge=true forgets it now',
    ),
  precision: z
    .enum(['float32', 'int8', 'float16'])
    .optional()
    .describe(
      "which variant of the vision networks to load (tools/export/variants.py; default: the manifest's)",
    ),
  intraOpNumThreads: z
    .int()
    .min(1)
    .max(64)
    .optional()
    .describe("onnxruntime threads (default: the pool's choice)"),
  executionProviders: z
    .array(z.enum(['cpu', 'cuda', 'tensorrt', 'webgpu', 'openvino', 'dml', 'coreml']))
    .min(1)
    .optional()
    .describe(
      'onnxruntime-node execution providers, in order (default [cpu]); one this build does not have is refused at ' +
        'start with the ones it has',
    ),
  kserve: z
    .strictObject({
      url: z.url().describe('KServe v2 REST endpoint, e.g. http://triton:8000 (Triton, KServe, MLServer)'),
      modelPrefix: z
        .string()
        .optional()
        .describe('served model name = prefix + role (dino, siglip, sva, projector, text-embed)'),
      timeoutMs: z.int().min(100).optional().describe('one request (default 30000)'),
      retryForMs: z
        .int()
        .min(0)
        .optional()
        .describe(
          'how long a request is retried while the server is down or restarting (default 120000); frames wait in ' +
            "the streams' bounded queues meanwhile",
        ),
      headers: z.record(z.string(), z.string()).optional(),
    })
    .optional()
    .describe(
      "run the model directory's encoders (DINO gate, SigLIP, SVA, projector, text) on an inference server instead " +
        'of this process: the kserve model kit',
    ),
  maxBatch: z.int().min(1).max(256).optional().describe('largest model batch across streams (8)'),
  maxWaitMs: z.number().min(0).max(1000).optional().describe('longest wait to fill a batch (5 ms)'),
};

const baseSchema = z.strictObject(baseShape);

/**
 * The engine's configuration, one schema for the TypeScript type, the pipeline YAML's `engine:` section and the
 * OpenAPI document: backend names and each backend's options (under its name) come from `plugins`.
 */
export function engineConfigSchema(
  plugins: Pick<EnginePlugins, 'backends' | 'retention'> = builtinPlugins(),
) {
  const names = ['auto', ...plugins.backends.names()] as [string, ...string[]];
  const backendOptions = Object.fromEntries(
    plugins.backends
      .list()
      .filter((b) => b.options)
      .map((b) => [b.name, b.options!.schema.optional().describe(`options of backend ${b.name}`)]),
  );
  return defineSchema(
    'engine',
    baseSchema.extend({
      backend: z
        .enum(names)
        .default('auto')
        .describe(
          `auto (what the models run best), or: ${plugins.backends
            .list()
            .map((b) => `${b.name} = ${b.description}`)
            .join('; ')}`,
        ),
      retention: overridesOf(retentionSchema(plugins.retention).schema)
        .default({})
        .describe('default retention of every stream'),
      ...backendOptions,
    }),
  );
}

/** The engine's options as a program passes them (the schema's input), and the plug-ins it runs with. */
export type EngineConfig = z.input<typeof baseSchema> & {
  plugins?: EnginePlugins;
  /**
   * Each backend's options under its name (`openai: {url, model}`, `prompt-embeds: {…}`): typed by the backend
   * (`OpenAiInput`, `PromptEmbedsInput`, …) and checked by its schema in `Engine.create`; no backend is named here.
   */
  [backendOptions: string]: unknown;
};

import { existsSync, readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { defineSchema, LvuError, z } from '@lvu/core';

export const MODEL_ROLES = ['dino', 'siglip', 'sva', 'projector', 'text-embed', 'llm'] as const;
export type ModelRole = (typeof MODEL_ROLES)[number];

const tensorSpec = z.object({
  name: z.string().min(1),
  shape: z.array(z.union([z.int(), z.string()])),
  dtype: z.enum(['float32', 'float16', 'int64', 'int32']),
});

const modelSpec = z.object({
  file: z.string().min(1),
  inputs: z.array(tensorSpec).min(1),
  outputs: z.array(tensorSpec).min(1),
  preprocess: z
    .object({
      size: z.int().positive(),
      mean: z.tuple([z.number(), z.number(), z.number()]),
      std: z.tuple([z.number().positive(), z.number().positive(), z.number().positive()]),
      pad: z.enum(['square', 'stretch', 'crop']).default('square'),
    })
    .optional(),
  params: z.int().min(0).optional(),
  flopsPerFrame: z.number().min(0).optional(),
  maxAbsErrVsTorch: z.number().optional(),
  /** Cheaper files of the same network (tools/export/variants.py), with their largest error against float32. */
  variants: z
    .partialRecord(
      z.enum(['int8', 'float16']),
      z.object({
        file: z.string().min(1),
        maxAbsErrVsFloat32: z.number().optional(),
        reduceRange: z.boolean().optional().describe('int8: 7-bit weights (chosen when closer to float32)'),
      }),
    )
    .optional(),
});

export const PRECISIONS = ['float32', 'int8', 'float16'] as const;
export type Precision = (typeof PRECISIONS)[number];

/** A model directory's manifest.json: per role the ONNX file, its tensors and preprocessing, and LongVU constants. */
export const modelManifestSchema = defineSchema(
  'manifest',
  z.object({
    format: z.literal('lvu-models/1'),
    preset: z.string().optional(),
    weights: z.enum(['random', 'pretrained', 'mixed']).default('pretrained'),
    /** Which variant of each network to load where it has one (float32: the exported files). */
    precision: z.enum(PRECISIONS).default('float32'),
    pretrained: z.record(z.string(), z.string()).optional(),
    longvu: z.object({
      highGridSide: z.int().positive(),
      lowGridSide: z.int().positive(),
      svaDim: z.int().positive(),
      llmDim: z.int().positive(),
      vocabSize: z.int().positive().optional(),
      newline: z.string().min(1),
      dinoThreshold: z.number().optional(),
      stcThreshold: z.number().optional(),
    }),
    models: z.partialRecord(z.enum(MODEL_ROLES), modelSpec),
    llm: z
      .object({
        layers: z.int().positive(),
        kvHeads: z.int().positive(),
        headDim: z.int().positive(),
        vocabSize: z.int().positive(),
        contextTokens: z.int().positive(),
        tokenizer: z.string().min(1),
        tokenizerConfig: z.string().min(1).optional(),
        chatTemplate: z.enum(['qwen2']).default('qwen2'),
        system: z.string().default('You are a helpful assistant.'),
        stopTokens: z.array(z.string()).default(['<|im_end|>', '<|endoftext|>']),
        /** The same LLM as a Hugging Face directory (`--hf-llm`), for servers that read prompt embeddings. */
        huggingFace: z
          .object({ dir: z.string().min(1), dtype: z.string(), files: z.array(z.string()) })
          .optional(),
      })
      .optional(),
  }),
);

export type ModelManifest = z.output<typeof modelManifestSchema.schema>;
export type ModelSpec = z.output<typeof modelSpec>;
export type TensorSpec = z.output<typeof tensorSpec>;

export interface LoadedManifest {
  dir: string;
  manifest: ModelManifest;
  /** The image-newline embedding (llmDim). */
  newline: Float32Array;
  /** Absolute path of each role's ONNX file (the chosen variant's). */
  paths: Partial<Record<ModelRole, string>>;
  /** The precision each role is loaded at. */
  precisions: Partial<Record<ModelRole, Precision>>;
}

/** Where `lvu models fetch starter` puts the starter set: the user's cache directory. */
export function starterDir(): string {
  return join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'lvu', 'models', 'starter');
}

/** A model directory, or the name `starter` for the fetched starter set. */
export function resolveModelsDir(dir: string): string {
  return dir === 'starter' ? starterDir() : resolve(dir);
}

/**
 * Reads and validates DIR/manifest.json and checks that every file it names exists. `precision` (default: the
 * manifest's) picks each network's variant where it has one; the others stay float32.
 */
export function loadManifest(dir: string, o: { precision?: Precision } = {}): LoadedManifest {
  const root = resolveModelsDir(dir);
  const file = join(root, 'manifest.json');
  if (!existsSync(file)) {
    throw new LvuError('NOT_FOUND', `no manifest.json in ${root}`, {
      field: 'modelDir',
      hint: 'export models with tools/export/export.py, or point to a directory that has manifest.json',
    });
  }
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (cause) {
    throw new LvuError('MODEL_INVALID', `${file} is not JSON`, { field: 'manifest', cause });
  }
  if ((raw as { format?: unknown })?.format === 'lvu-starter/1') {
    throw new LvuError(
      'MODEL_INVALID',
      `${root} is the starter set (lvu-starter/1), not a LongVU model directory`,
      {
        field: 'modelDir',
        hint: 'the engine opens it itself (--models starter); lvu models inspect/check take LongVU model directories',
      },
    );
  }
  const manifest = modelManifestSchema.parse(raw);
  const paths: LoadedManifest['paths'] = {};
  const precisions: LoadedManifest['precisions'] = {};
  const want = o.precision ?? manifest.precision;
  for (const [role, spec] of Object.entries(manifest.models) as [ModelRole, ModelSpec][]) {
    const variant = want === 'float32' ? undefined : spec.variants?.[want];
    const file = variant?.file ?? spec.file;
    const p = join(root, file);
    if (!existsSync(p)) {
      throw new LvuError('MODEL_INVALID', `model ${role}: ${file} is missing in ${root}`, {
        field: `models.${role}.${variant ? `variants.${want}.file` : 'file'}`,
        hint: variant ? `write it again (tools/export/variants.py) or load precision float32` : undefined,
      });
    }
    paths[role] = p;
    precisions[role] = variant ? want : 'float32';
  }
  if (manifest.models.llm && !manifest.llm) {
    throw new LvuError(
      'MODEL_INVALID',
      'the manifest has an llm model but no llm section (layers, tokenizer…)',
      {
        field: 'llm',
      },
    );
  }
  for (const f of [manifest.llm?.tokenizer, manifest.llm?.tokenizerConfig]) {
    if (f && !existsSync(join(root, f))) {
      throw new LvuError('MODEL_INVALID', `${f} is missing in ${root}`, { field: 'llm.tokenizer' });
    }
  }
  const nlPath = join(root, manifest.longvu.newline);
  if (!existsSync(nlPath) || statSync(nlPath).size !== manifest.longvu.llmDim * 4) {
    throw new LvuError(
      'MODEL_INVALID',
      `${manifest.longvu.newline} must hold ${manifest.longvu.llmDim} float32 values (the image-newline vector)`,
      { field: 'longvu.newline' },
    );
  }
  const buf = readFileSync(nlPath);
  const newline = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
  return { dir: root, manifest, newline, paths, precisions };
}

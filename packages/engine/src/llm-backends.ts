import { type ConfigSchema, LvuError, Registry, type z } from '@lvu/core';
import { LongVuModels, StarterModels } from '@lvu/models';
import { type LlmBackend, NoneBackend, OnnxBackend } from './llm-backend.js';
import type { OpenedModels } from './model-kit.js';
import { OpenAiBackend, openAiOptionsSchema, openAiSides } from './openai-backend.js';
import { PromptEmbedsBackend, promptEmbedsOptionsSchema } from './prompt-embeds-backend.js';
import { EvidenceBackend } from './starter-encoder.js';

export interface BackendContext {
  models: OpenedModels;
  /** This backend's options (engine config key = its name), parsed by `options`. */
  options: unknown;
  maxNewTokens: number;
  generation: { temperature?: number; topP?: number; seed?: number; reusePrefix?: boolean };
}

/**
 * Where answers come from. A backend with `options` takes them under its own name in the engine config and the
 * pipeline YAML (`engine.openai`); `images` says which JPEG sides it needs kept per frame.
 */
export interface BackendFactory {
  readonly name: string;
  readonly description: string;
  readonly options?: ConfigSchema<z.ZodType>;
  /** JPEG sides kept per retained frame for image-input backends. */
  images?(options: unknown): { side: number; thumbSide: number };
  create(ctx: BackendContext): LlmBackend;
}

const none: BackendFactory = {
  name: 'none',
  description: 'no LLM: evidence (frames, timestamps, scores) and a null answer',
  create: () => new NoneBackend(),
};

const onnx: BackendFactory = {
  name: 'onnx',
  description: "in-process generation with the model directory's LLM (prefill from inputs_embeds, KV cache)",
  create(ctx) {
    const m = ctx.models.handle;
    if (!(m instanceof LongVuModels) || !(m.m.manifest.llm && m.m.manifest.models.llm)) {
      throw new LvuError(
        'INVALID_CONFIG',
        ctx.models.kit === 'longvu'
          ? 'backend onnx: this model directory has no LLM: use backend none or export one (--llm)'
          : ctx.models.kit === 'starter'
            ? 'the starter set has no LLM: use backend auto, none or openai'
            : 'backend onnx needs a model directory (models)',
        { field: 'backend' },
      );
    }
    return new OnnxBackend(m, { maxNewTokens: ctx.maxNewTokens, ...ctx.generation });
  },
};

const openai: BackendFactory = {
  name: 'openai',
  description:
    "any OpenAI-compatible chat server with image input (vLLM, llama.cpp, Ollama): LongVU's frames within the budget",
  options: openAiOptionsSchema,
  images(o) {
    return openAiSides(openAiOptionsSchema.parse(o));
  },
  create(ctx) {
    if (ctx.options === undefined) {
      throw new LvuError('INVALID_CONFIG', 'backend openai needs openai.url and openai.model', {
        field: 'openai',
      });
    }
    return new OpenAiBackend(ctx.options as z.input<typeof openAiOptionsSchema.schema>);
  },
};

const promptEmbeds: BackendFactory = {
  name: 'prompt-embeds',
  description:
    "LongVU's inputs_embeds as prompt embeddings to vLLM, NIM or Dynamo (--enable-prompt-embeds) on /v1/completions",
  options: promptEmbedsOptionsSchema,
  create(ctx) {
    if (ctx.options === undefined) {
      throw new LvuError(
        'INVALID_CONFIG',
        'backend prompt-embeds needs prompt-embeds.url and prompt-embeds.model',
        {
          field: 'prompt-embeds',
        },
      );
    }
    const m = ctx.models.handle;
    if (!(m instanceof LongVuModels) || !m.tokenizer) {
      throw new LvuError(
        'INVALID_CONFIG',
        "backend prompt-embeds needs a LongVU model directory with the LLM's tokenizer and embedding table " +
          '(text-embed): the served LLM reads the text lvu embeds with them',
        {
          field: 'backend',
          hint: 'lvu models export-llm --random tiny --out DIR (or --from-longvu CKPT) writes both, and DIR/hf for the server',
        },
      );
    }
    return new PromptEmbedsBackend(ctx.options as z.input<typeof promptEmbedsOptionsSchema.schema>, {
      maxNewTokens: ctx.maxNewTokens,
      temperature: ctx.generation.temperature,
      seed: ctx.generation.seed,
    });
  },
};

const evidence: BackendFactory = {
  name: 'evidence',
  description: "the starter set's deterministic answer: time ranges and the classes recognised (not an LLM)",
  create(ctx) {
    if (!(ctx.models.handle instanceof StarterModels)) {
      throw new LvuError('INVALID_CONFIG', 'backend evidence needs the starter set (models: starter)', {
        field: 'backend',
      });
    }
    return new EvidenceBackend(ctx.models.handle);
  },
};

/** The LLM backends: a new one is a new file exporting a BackendFactory and one entry here. */
export const llmBackends = new Registry<BackendFactory>('LLM backend', [
  none,
  onnx,
  openai,
  promptEmbeds,
  evidence,
]);

import { defineSchema, z } from '@lvu/core';
import type { AnswerOptions, AnswerRequest, BackendUsage, LlmBackend } from './llm-backend.js';
import { type ServerTarget, streamCompletion } from './served-llm.js';
import { torchSaveTensor, type WireDtype } from './torch-tensor-file.js';

export const promptEmbedsOptionsSchema = defineSchema(
  'prompt-embeds',
  z.strictObject({
    url: z
      .url()
      .describe(
        'base URL of a server that takes prompt embeddings on /v1/completions: vLLM, NVIDIA NIM or Dynamo started ' +
          'with --enable-prompt-embeds, e.g. http://127.0.0.1:8000/v1',
      ),
    model: z.string().min(1).describe('the served model name (vllm serve DIR --served-model-name NAME)'),
    apiKey: z.string().optional().describe('sent as a bearer token'),
    dtype: z
      .enum(['bfloat16', 'float16', 'float32'])
      .default('bfloat16')
      .describe(
        "the tensor's dtype on the wire: bfloat16 (LongVU's Qwen2 weights; half of float32's bytes), float16, or " +
          'float32 (exact, twice the bytes); the server casts to its own dtype',
      ),
    maxTokens: z.int().min(1).optional().describe('tokens to generate (default: query.maxNewTokens)'),
    temperature: z.number().min(0).optional().describe('default: generation.temperature, else 0 (greedy)'),
    seed: z.int().optional(),
    timeoutMs: z.int().min(100).default(300_000).describe('the whole answer, from request to last token'),
  }),
);
export type PromptEmbedsOptions = z.output<typeof promptEmbedsOptionsSchema.schema>;
export type PromptEmbedsInput = z.input<typeof promptEmbedsOptionsSchema.schema>;

/**
 * Answers through an LLM on a server that reads prompt embeddings (vLLM, NIM, Dynamo: `--enable-prompt-embeds`):
 * the `inputs_embeds` the read path composed — LongVU's chat template, the text embedded with the LLM's own
 * embedding table, the compressed visual tokens at the image position, never over the budget — go as the
 * `prompt_embeds` of a `/v1/completions` request (the `torch.save` bytes of a seq × hidden tensor, base64), exactly
 * what the in-process `onnx` backend feeds its decoder. The server applies no template to them; it stops at the
 * eos ids of the exported directory's generation_config.json.
 */
export class PromptEmbedsBackend implements LlmBackend {
  readonly name = 'prompt-embeds';
  readonly options: PromptEmbedsOptions;
  readonly #gen: { maxTokens: number; temperature: number; seed?: number | undefined };

  constructor(
    o: PromptEmbedsInput,
    defaults: { maxNewTokens: number; temperature?: number | undefined; seed?: number | undefined } = {
      maxNewTokens: 256,
    },
  ) {
    this.options = promptEmbedsOptionsSchema.parse(o);
    this.#gen = {
      maxTokens: this.options.maxTokens ?? defaults.maxNewTokens,
      temperature: this.options.temperature ?? defaults.temperature ?? 0,
      seed: this.options.seed ?? defaults.seed,
    };
  }

  /** The `/v1/completions` request body for one question (exposed for tests and logs). */
  request(req: AnswerRequest, stream = true): string {
    const o = this.options;
    const values = req.inputsEmbeds.subarray(0, req.tokens * req.dim);
    const file = torchSaveTensor(values, req.tokens, req.dim, o.dtype as WireDtype);
    return JSON.stringify({
      model: o.model,
      prompt_embeds: Buffer.from(file.buffer, file.byteOffset, file.byteLength).toString('base64'),
      max_tokens: this.#gen.maxTokens,
      temperature: this.#gen.temperature,
      ...(this.#gen.seed === undefined ? {} : { seed: this.#gen.seed }),
      stream,
      ...(stream ? { stream_options: { include_usage: true } } : {}),
    });
  }

  async answer(req: AnswerRequest, a: AnswerOptions): Promise<string> {
    const o = this.options;
    const t: ServerTarget = { url: o.url, apiKey: o.apiKey, timeoutMs: o.timeoutMs, field: 'prompt-embeds' };
    // serialised before the first await: req.inputsEmbeds may be a scratch buffer the next question reuses
    const body = this.request(req);
    const usage: BackendUsage = {
      dtype: o.dtype,
      lvuPromptTokens: req.tokens,
    };
    let answer = '';
    for await (const piece of streamCompletion(t, '/completions', body, a, usage)) {
      answer += piece;
      a.onText?.(piece);
    }
    return answer;
  }
}

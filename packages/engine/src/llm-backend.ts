import type { LongVuModels } from '@lvu/models';
import type { EvidenceFrame } from './answer-question.js';
import type { RetainedFrame } from './context-store.js';
import type { ObjectEvidence } from './object-evidence.js';

export interface AnswerRequest {
  /** tokens × dim: the visual + text sequence of the question, within the budget. */
  inputsEmbeds: Float32Array;
  tokens: number;
  dim: number;
  /** The token budget of the question (longvu.contextTokens): a served model's prompt must stay within it too. */
  budgetTokens: number;
  frames: readonly RetainedFrame[];
  highRes: readonly EvidenceFrame[];
  /** The frames with the best query scores, best first. */
  topScored: readonly EvidenceFrame[];
  /** The query score of every frame of `frames` (same order). */
  scores: ArrayLike<number>;
  question: string;
  /**
   * A question over several streams: their ids. `frames` then interleaves them by wall-clock time and each frame's
   * `streamId` labels it (a backend that shows frames says which stream each is from).
   */
  streams?: string[];
  /** The objects the question names, as the detector counted them (only with a detector, when it names some). */
  objects?: ObjectEvidence[];
}

export interface AnswerOptions {
  signal?: AbortSignal;
  onText?: (text: string) => void;
  /** A served backend reports what the request cost (`QueryResult.usage`). */
  onUsage?: (usage: BackendUsage) => void;
}

/** What one answer cost on a model server, as far as the backend and the server say. */
export interface BackendUsage {
  /** Bytes of the request body sent. */
  requestBytes?: number;
  /** The wire dtype of prompt embeddings (prompt-embeds). */
  dtype?: string;
  /** Prompt tokens lvu counted (its inputs_embeds rows, or text + image tokens by the model family's table). */
  lvuPromptTokens?: number;
  /** The server's own counts (its `usage`), when it sends them. */
  promptTokens?: number | undefined;
  completionTokens?: number | undefined;
  /** Prompt tokens the server took from its prefix cache, when it says (`prompt_tokens_details.cached_tokens`). */
  cachedTokens?: number;
  /** ms from sending the request to the first piece of the answer. */
  firstTokenMs?: number;
  /** Images sent (openai): at the model's high resolution, and at low resolution. */
  images?: { high: number; low: number; tokens: number };
}

/** Where answers come from: `none` (evidence only), `onnx` (in-process generation). */
export interface LlmBackend {
  readonly name: string;
  answer(req: AnswerRequest, o: AnswerOptions): Promise<string | null>;
}

/** No LLM: questions return their evidence (frames, timestamps, scores) and a null answer. */
export class NoneBackend implements LlmBackend {
  readonly name = 'none';
  async answer(): Promise<null> {
    return null;
  }
}

/** Generation with the model directory's LLM (prefill from inputs_embeds, KV cache, greedy or seeded sampling). */
export class OnnxBackend implements LlmBackend {
  readonly name = 'onnx';
  readonly #models: LongVuModels;
  readonly #o: {
    maxNewTokens: number;
    temperature?: number;
    topP?: number;
    seed?: number;
    reusePrefix?: boolean;
  };

  constructor(
    models: LongVuModels,
    o: { maxNewTokens: number; temperature?: number; topP?: number; seed?: number; reusePrefix?: boolean },
  ) {
    this.#models = models;
    this.#o = o;
  }

  async answer(req: AnswerRequest, o: AnswerOptions): Promise<string> {
    const tok = this.#models.tokenizer!;
    const ids: number[] = [];
    let said = '';
    const { reusePrefix, ...gen } = this.#o;
    for await (const t of this.#models.generate(req.inputsEmbeds, {
      ...gen,
      signal: o.signal,
      ...(reusePrefix === false ? { prefix: null } : {}),
    })) {
      ids.push(t.id);
      const text = tok.decode(ids);
      if (text.length > said.length && !text.endsWith('\ufffd')) {
        o.onText?.(text.slice(said.length));
        said = text;
      }
    }
    const text = tok.decode(ids);
    if (text.length > said.length) o.onText?.(text.slice(said.length));
    return text;
  }
}

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { LvuError } from '@lvu/core';
import type { LoadedManifest } from './model-manifest.js';

/** The token ids of a question around the image placeholder, as LongVU builds them (docs/longvu.md §0, §b). */
export interface ChatPrompt {
  /** Text before `<image>`: system prompt and the user turn's opening. */
  pre: number[];
  /** Text after `<image>`: "\n{question}<|im_end|>\n<|im_start|>assistant\n" — the query side of the scores. */
  post: number[];
}

/**
 * The LLM's tokenizer (tokenizer.json, loaded offline with @huggingface/tokenizers) and the Qwen2 chat template
 * LongVU uses: `<|im_start|>system\n{system}<|im_end|>\n<|im_start|>user\n<image>\n{question}<|im_end|>\n
 * <|im_start|>assistant\n`.
 */
export class ChatTokenizer {
  readonly tokenizer: Tokenizer;
  readonly system: string;
  readonly stopIds: number[];
  readonly vocabSize: number;

  constructor(m: LoadedManifest) {
    const llm = m.manifest.llm;
    if (!llm) throw new LvuError('MODEL_INVALID', 'the manifest has no llm section', { field: 'llm' });
    const read = (f: string) => JSON.parse(readFileSync(join(m.dir, f), 'utf8'));
    try {
      this.tokenizer = new Tokenizer(
        read(llm.tokenizer),
        llm.tokenizerConfig ? read(llm.tokenizerConfig) : {},
      );
    } catch (cause) {
      throw new LvuError('MODEL_INVALID', `${llm.tokenizer} cannot be loaded: ${(cause as Error).message}`, {
        field: 'llm.tokenizer',
        cause,
      });
    }
    this.system = llm.system;
    const json = read(llm.tokenizer) as {
      model?: { vocab?: Record<string, number> };
      added_tokens?: { id: number }[];
    };
    const ids = [...Object.values(json.model?.vocab ?? {}), ...(json.added_tokens ?? []).map((t) => t.id)];
    this.vocabSize = ids.length ? Math.max(...ids) + 1 : 0;
    if (this.vocabSize > llm.vocabSize) {
      throw new LvuError(
        'MODEL_INVALID',
        `the tokenizer has ids up to ${this.vocabSize - 1}, the LLM's vocabulary is ${llm.vocabSize}: they do not belong together`,
        { field: 'llm.tokenizer' },
      );
    }
    this.stopIds = llm.stopTokens
      .map((t) => this.tokenizer.token_to_id(t))
      .filter((x): x is number => x !== undefined);
  }

  encode(text: string): number[] {
    return this.tokenizer.encode(text, { add_special_tokens: false }).ids;
  }

  decode(ids: number[]): string {
    return this.tokenizer.decode(ids, { skip_special_tokens: true });
  }

  /** The prompt of one question, split at the image placeholder. */
  prompt(question: string, system = this.system): ChatPrompt {
    return {
      pre: this.encode(`<|im_start|>system\n${system}<|im_end|>\n<|im_start|>user\n`),
      post: this.encode(`\n${question}<|im_end|>\n<|im_start|>assistant\n`),
    };
  }
}

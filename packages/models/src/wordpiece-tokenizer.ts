import { readFileSync } from 'node:fs';
import { LvuError } from '@lvu/core';

/**
 * A BERT WordPiece tokenizer read from a Hugging Face `tokenizer.json` (BertNormalizer, BertPreTokenizer, WordPiece,
 * the [CLS] … [SEP] template): what sentence embedders such as all-MiniLM-L6-v2 take. Gives the ids the `tokenizers`
 * library gives (checked against it in the tests), without a native dependency.
 */
export class WordPieceTokenizer {
  readonly #vocab: Map<string, number>;
  readonly #unk: number;
  readonly #prefix: string;
  readonly #maxChars: number;
  readonly #lowercase: boolean;
  readonly #stripAccents: boolean;
  readonly cls: number;
  readonly sep: number;
  readonly maxLength: number;

  constructor(json: unknown) {
    const t = json as {
      normalizer?: { type?: string; lowercase?: boolean; strip_accents?: boolean | null };
      model?: {
        type?: string;
        vocab?: Record<string, number>;
        unk_token?: string;
        continuing_subword_prefix?: string;
        max_input_chars_per_word?: number;
      };
      truncation?: { max_length?: number } | null;
    };
    if (t.model?.type !== 'WordPiece' || !t.model.vocab) {
      throw new LvuError('MODEL_INVALID', `tokenizer model is ${t.model?.type ?? 'missing'}, not WordPiece`, {
        field: 'tokenizer.model',
      });
    }
    this.#vocab = new Map(Object.entries(t.model.vocab));
    const id = (tok: string) => {
      const v = this.#vocab.get(tok);
      if (v === undefined)
        throw new LvuError('MODEL_INVALID', `tokenizer vocabulary has no ${tok}`, {
          field: 'tokenizer.vocab',
        });
      return v;
    };
    this.#unk = id(t.model.unk_token ?? '[UNK]');
    this.cls = id('[CLS]');
    this.sep = id('[SEP]');
    this.#prefix = t.model.continuing_subword_prefix ?? '##';
    this.#maxChars = t.model.max_input_chars_per_word ?? 100;
    this.#lowercase = t.normalizer?.lowercase ?? true;
    // BertNormalizer: strip_accents null follows lowercase
    this.#stripAccents = t.normalizer?.strip_accents ?? this.#lowercase;
    this.maxLength = t.truncation?.max_length ?? 512;
  }

  static fromFile(path: string): WordPieceTokenizer {
    let json: unknown;
    try {
      json = JSON.parse(readFileSync(path, 'utf8'));
    } catch (cause) {
      throw new LvuError('MODEL_INVALID', `${path} is not a readable tokenizer.json`, {
        field: 'tokenizer',
        cause,
      });
    }
    return new WordPieceTokenizer(json);
  }

  /** BertNormalizer: drop control characters, whitespace to spaces, spaces around CJK, accents off, lower case. */
  normalize(text: string): string {
    let s = '';
    for (const ch of text) {
      const c = ch.codePointAt(0)!;
      if (c === 0 || c === 0xfffd || (/\p{Cc}|\p{Cf}/u.test(ch) && !/[\t\n\r]/.test(ch))) continue;
      if (/\s/u.test(ch)) s += ' ';
      else if (isCjk(c)) s += ` ${ch} `;
      else s += ch;
    }
    if (this.#stripAccents) s = s.normalize('NFD').replace(/\p{Mn}/gu, '');
    return this.#lowercase ? s.toLowerCase() : s;
  }

  /** Words and punctuation marks, each punctuation character a word of its own (BertPreTokenizer). */
  words(normalized: string): string[] {
    const out: string[] = [];
    for (const w of normalized.split(/\s+/u)) {
      let cur = '';
      for (const ch of w) {
        if (isPunctuation(ch)) {
          if (cur) out.push(cur);
          out.push(ch);
          cur = '';
        } else cur += ch;
      }
      if (cur) out.push(cur);
    }
    return out;
  }

  /** Greedy longest-match-first pieces of one word; [UNK] when a part has no piece or the word is too long. */
  pieces(word: string): number[] {
    const chars = [...word];
    if (chars.length > this.#maxChars) return [this.#unk];
    const ids: number[] = [];
    let start = 0;
    while (start < chars.length) {
      let end = chars.length;
      let found: number | undefined;
      while (start < end) {
        const sub = (start > 0 ? this.#prefix : '') + chars.slice(start, end).join('');
        found = this.#vocab.get(sub);
        if (found !== undefined) break;
        end--;
      }
      if (found === undefined) return [this.#unk];
      ids.push(found);
      start = end;
    }
    return ids;
  }

  /** Token ids of `text` with [CLS] and [SEP], truncated to the tokenizer's maximum length. */
  encode(text: string): number[] {
    const ids = this.words(this.normalize(text)).flatMap((w) => this.pieces(w));
    return [this.cls, ...ids.slice(0, this.maxLength - 2), this.sep];
  }
}

function isCjk(c: number): boolean {
  return (
    (c >= 0x4e00 && c <= 0x9fff) ||
    (c >= 0x3400 && c <= 0x4dbf) ||
    (c >= 0x20000 && c <= 0x2a6df) ||
    (c >= 0x2a700 && c <= 0x2b73f) ||
    (c >= 0x2b740 && c <= 0x2b81f) ||
    (c >= 0x2b820 && c <= 0x2ceaf) ||
    (c >= 0xf900 && c <= 0xfaff) ||
    (c >= 0x2f800 && c <= 0x2fa1f)
  );
}

/** BERT's punctuation: the ASCII symbol ranges, and every Unicode punctuation category. */
function isPunctuation(ch: string): boolean {
  const c = ch.codePointAt(0)!;
  if ((c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) || (c >= 123 && c <= 126))
    return true;
  return /\p{P}/u.test(ch);
}

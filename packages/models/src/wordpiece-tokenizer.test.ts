import { describe, expect, it } from 'vitest';
import { WordPieceTokenizer } from './wordpiece-tokenizer.js';

/** A small WordPiece tokenizer.json (what the real one's sections look like). */
const tiny = {
  normalizer: {
    type: 'BertNormalizer',
    clean_text: true,
    handle_chinese_chars: true,
    strip_accents: null,
    lowercase: true,
  },
  pre_tokenizer: { type: 'BertPreTokenizer' },
  model: {
    type: 'WordPiece',
    unk_token: '[UNK]',
    continuing_subword_prefix: '##',
    max_input_chars_per_word: 100,
    vocab: Object.fromEntries(
      [
        '[PAD]',
        '[UNK]',
        '[CLS]',
        '[SEP]',
        'when',
        'is',
        'the',
        'bird',
        '##s',
        'on',
        'screen',
        '?',
        'cafe',
        '中',
        'play',
        '##ing',
      ].map((t, i) => [t, i]),
    ),
  },
  truncation: { max_length: 128 },
};

describe('WordPieceTokenizer', () => {
  it('normalises, splits punctuation and CJK, and takes the longest pieces', () => {
    const t = new WordPieceTokenizer(tiny);
    expect(t.encode('When is the BIRDS on-screen?')).toEqual([2, 4, 5, 6, 7, 8, 9, 1, 10, 11, 3]);
    expect(t.encode('Café\u0000 中 playing xyz')).toEqual([2, 12, 13, 14, 15, 1, 3]);
    expect(t.encode('')).toEqual([2, 3]);
  });

  it('a tokenizer.json that is not WordPiece is MODEL_INVALID', () => {
    expect(() => new WordPieceTokenizer({ model: { type: 'BPE', vocab: {} } })).toThrow(
      expect.objectContaining({ code: 'MODEL_INVALID' }),
    );
  });
});

import { longVuOptions, type UnpadMode } from '@lvu/compress';
import { seededRandom } from '@lvu/core';
import type { TextEncoder } from '@lvu/operators';
import { describe, expect, it } from 'vitest';
import { answerQuestion, validateQuestion } from './answer-question.js';
import type { RetainedFrame } from './context-store.js';
import type { AnswerRequest, LlmBackend } from './llm-backend.js';

class RandomText implements TextEncoder {
  readonly description = 'random';
  constructor(
    readonly dim: number,
    readonly rnd: () => number,
  ) {}
  prompt(q: string) {
    const words = q.split(/\s+/).length;
    return {
      pre: Array.from({ length: 20 }, (_, i) => i),
      post: Array.from({ length: words + 5 }, (_, i) => i),
    };
  }
  async embed(ids: readonly number[]) {
    return Float32Array.from({ length: ids.length * this.dim }, () => this.rnd() - 0.5);
  }
}

class Capture implements LlmBackend {
  readonly name = 'capture';
  last: AnswerRequest | null = null;
  async answer(req: AnswerRequest) {
    this.last = req;
    return 'ok';
  }
}

describe('answerQuestion', () => {
  it('never exceeds the budget: 300 random streams, questions, grids and budgets', async () => {
    const rnd = seededRandom(42);
    const int = (a: number, b: number) => a + Math.floor(rnd() * (b - a + 1));
    const modes = new Set<string>();
    for (let c = 0; c < 300; c++) {
      const dim = int(4, 24);
      const high = int(3, 12);
      const low = int(2, high);
      const budget = int(64, 16_384);
      const unpad = (['official', 'geometric', 'none'] as UnpadMode[])[int(0, 2)]!;
      const o = longVuOptions({
        contextTokens: budget,
        highGridSide: high,
        lowGridSide: low,
        unpad,
        newlineToken: rnd() < 0.8,
      });
      const frameHW: [number, number] = [int(120, 1080), int(120, 1920)];
      const n = int(1, 450);
      const frames: RetainedFrame[] = Array.from({ length: n }, (_, i) => ({
        streamId: 's',
        seq: i * 3,
        ptsMs: i * 1000,
        wallMs: i,
        frameH: frameHW[0],
        frameW: frameHW[1],
        hi: Float32Array.from({ length: high * high * dim }, () => rnd() - 0.5),
        lo: Float32Array.from({ length: low * low * dim }, () => rnd() - 0.5),
        thumb: new Uint8Array(0),
        ordinal: i,
      }));
      const question = 'word '.repeat(int(1, 60));
      const backend = new Capture();
      const vision = { dim, newline: Float32Array.from({ length: dim }, () => 0.1), description: 'random' };
      let r: Awaited<ReturnType<typeof answerQuestion>>;
      try {
        r = await answerQuestion({
          streamId: 's',
          frames,
          vision,
          text: new RandomText(dim, rnd),
          backend,
          longvu: o,
          input: { question },
        });
      } catch (err) {
        // only a prompt that cannot fit at all is refused
        expect((err as { code: string }).code).toBe('CONTEXT_OVERFLOW');
        expect(20 + 1 + question.split(/\s+/).length + 5 + o.reserveTokens).toBeGreaterThan(budget);
        continue;
      }
      modes.add(r.mode);
      expect(r.totalTokens).toBeLessThanOrEqual(budget);
      expect(r.totalTokens).toBe(r.visualTokens + r.textTokens);
      expect(backend.last!.inputsEmbeds.length).toBe(r.totalTokens * dim);
      expect(backend.last!.inputsEmbeds.every(Number.isFinite)).toBe(true);
      expect(r.evidence.topScored.length).toBe(Math.min(5, n));
      for (const h of r.evidence.highRes) expect(h.seq % 3).toBe(0);
    }
    expect([...modes].sort()).toEqual(['high', 'high_overflow', 'mix']);
  });

  it('refuses empty, oversized, binary and undecodable questions', () => {
    for (const q of [
      '',
      '   \n',
      'x'.repeat(4001),
      'a\u0000b',
      'bad \ufffd bytes',
      'lone \ud800 surrogate',
      42,
    ]) {
      expect(() => validateQuestion(q, 4000)).toThrow(
        expect.objectContaining({ code: 'INVALID_ARGUMENT', field: 'question' }),
      );
    }
    expect(validateQuestion('When did the red car leave?\n', 4000)).toBe('When did the red car leave?\n');
  });
});

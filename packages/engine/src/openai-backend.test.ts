import { rgbToJpeg } from '@lvu/operators';
import { describe, expect, it } from 'vitest';
import type { RetainedFrame } from './context-store.js';
import { IMAGE_FAMILIES, imageTokens, jpegSize, smartResize } from './image-token-cost.js';
import type { AnswerRequest } from './llm-backend.js';
import { OpenAiBackend, openAiSides } from './openai-backend.js';

const jpeg = (side: number) => rgbToJpeg(new Uint8Array(side * side * 3).fill(90), side);
const HI = jpeg(336);
const LO = jpeg(224);

function frames(n: number, everyMs = 1000): RetainedFrame[] {
  return Array.from({ length: n }, (_, i) => ({
    streamId: 'cam',
    seq: i,
    ordinal: i,
    ptsMs: i * everyMs,
    wallMs: 1e12 + i * everyMs,
    frameH: 360,
    frameW: 640,
    hi: new Float32Array(0),
    lo: new Float32Array(0),
    thumb: new Uint8Array(0),
    jpeg: HI,
    jpegSmall: LO,
  }));
}

function request(fs: RetainedFrame[], high: number[], budgetTokens: number): AnswerRequest {
  const ev = (i: number) => ({ streamId: 'cam', seq: i, ptsMs: i * 1000, wallMs: 0, score: 100 - i });
  return {
    inputsEmbeds: new Float32Array(0),
    tokens: 0,
    dim: 0,
    budgetTokens,
    frames: fs,
    highRes: high.map(ev),
    topScored: [],
    scores: [],
    question: 'When does the car leave?',
  };
}

describe('image tokens per model family', () => {
  it("Qwen2-VL's smart_resize: multiples of 28 within the pixel bounds; LongVU's 12×12 and 8×8 grids at 336 and 224", () => {
    const q = IMAGE_FAMILIES['qwen2-vl'];
    expect(smartResize(336, 196, 28, q.minPixels, q.maxPixels)).toEqual([336, 196]);
    expect(smartResize(640, 360, 28, q.minPixels, q.maxPixels)).toEqual([644, 364]);
    expect(smartResize(20, 20, 28, q.minPixels, q.maxPixels)).toEqual([56, 56]);
    expect(imageTokens(q, 336, 336)).toBe(144 + 2);
    expect(imageTokens(q, 224, 224)).toBe(64 + 2);
    expect(imageTokens(q, 336, 196)).toBe(12 * 7 + 2);
    const big = smartResize(8000, 8000, 28, q.minPixels, q.maxPixels);
    expect(big[0] * big[1]).toBeLessThanOrEqual(q.maxPixels);
    expect(openAiSides({ family: 'qwen2-vl' } as never)).toEqual({ side: 336, thumbSide: 224 });
    expect(openAiSides({ family: 'qwen3-vl' } as never)).toEqual({ side: 384, thumbSide: 256 });
  });

  it('SigLIP tiles (729 per 384² tile, an overview over one tile), Gemma 3 (256 whatever the size)', () => {
    expect(imageTokens(IMAGE_FAMILIES['llava-onevision'], 384, 384)).toBe(729 + 1);
    expect(imageTokens(IMAGE_FAMILIES['llava-onevision'], 768, 384)).toBe(3 * 729 + 1);
    expect(imageTokens(IMAGE_FAMILIES.gemma3, 100, 100)).toBe(258);
    expect(imageTokens(IMAGE_FAMILIES.gemma3, 2000, 900)).toBe(258);
  });

  it('reads the size of a JPEG from its frame header', () => {
    expect(jpegSize(HI)).toEqual([336, 336]);
    expect(jpegSize(LO)).toEqual([224, 224]);
    expect(jpegSize(new Uint8Array([0xff, 0xd8, 0, 0, 0, 0, 0, 0, 0, 0, 0]))).toBeNull();
  });
});

describe('the openai backend sends LongVU’s read path within the budget', () => {
  const backend = new OpenAiBackend({ url: 'http://127.0.0.1:9/v1', model: 'm' });

  it('a small context goes whole: the N_h frames at high resolution, the rest low, in time order', () => {
    const fs = frames(10);
    const p = backend.plan(request(fs, [7, 2], 8192));
    expect(p.images.map((i) => i.frame.seq)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(p.images.filter((i) => i.high).map((i) => i.frame.seq)).toEqual([2, 7]);
    expect(p.imageTokens).toBe(2 * 146 + 8 * 66);
    expect(p.tokens).toBeLessThanOrEqual(8192);
    expect(p.dropped).toBe(0);
  });

  it('a long context is thinned by time buckets to fit; every budget is kept; high frames by score when they alone overflow', () => {
    const fs = frames(600);
    for (const budget of [700, 2000, 8192, 32768]) {
      const p = backend.plan(request(fs, [5, 100, 300, 599], budget));
      expect(p.tokens, String(budget)).toBeLessThanOrEqual(budget);
      expect(p.images.length).toBeGreaterThan(0);
      const seqs = p.images.map((i) => i.frame.seq);
      expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
      expect(p.dropped).toBe(600 - p.images.length);
    }
    // 700 tokens: room for four high-resolution frames? no — the best-scoring ones go first
    const tight = backend.plan(request(fs, [5, 100, 300, 599], 520));
    expect(tight.images.filter((i) => i.high).map((i) => i.frame.seq)).toEqual([5, 100]);
  });

  it('prefix-stable: a new frame leaves the frames chosen for earlier minutes as they were', () => {
    const fs = frames(400);
    const a = backend.plan(request(fs.slice(0, 390), [], 8192));
    const b = backend.plan(request(fs.slice(0, 391), [], 8192));
    const sa = a.images.map((i) => i.frame.seq);
    const sb = b.images.map((i) => i.frame.seq);
    expect(sb.slice(0, sa.length)).toEqual(sa);
    const body = backend.request(request(fs.slice(0, 5), [], 8192)) as {
      messages: { content: { type: string; text?: string }[] }[];
    };
    const content = body.messages[1]!.content;
    expect(content[0]!.text).toBe('Frames of the video in time order, each after its [time]:');
    expect(content.at(-1)!.text).toBe('When does the car leave?');
  });
});

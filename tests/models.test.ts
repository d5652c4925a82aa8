import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { svaKeyMask } from '@lvu/compress';
import type { LvuEvent } from '@lvu/core';
import { LongVuModels, loadManifest, PrefixCache, SessionPool } from '@lvu/models';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from './support/paths.js';

const TINY = resolve(repoRoot, 'tests/fixtures/models/tiny');
const image = (size: number, seed: number) =>
  Uint8Array.from({ length: size * size * 3 }, (_, i) => (i * 31 + seed * 97) & 0xff);

describe('tiny real-architecture models through the manifest (what users load)', () => {
  let models: LongVuModels;
  const events: LvuEvent[] = [];
  beforeAll(async () => {
    models = await LongVuModels.open(TINY, { intraOpNumThreads: 2 });
    models.pool.events.on((e) => events.push(e));
  });
  afterAll(async () => {
    await models.close();
  });

  it('runs every role with the shapes LongVU needs', async () => {
    const lv = models.longvu;
    expect(lv).toMatchObject({ highGridSide: 4, lowGridSide: 2, svaDim: 32, llmDim: 64 });
    const M = (2 * lv.highGridSide) ** 2;
    const d = await models.encodeDino(image(models.imageSize('dino'), 1));
    const s = await models.encodeSiglip(image(models.imageSize('siglip'), 1));
    expect(d.length).toBe(M * 32);
    expect(s.length).toBe(M * 32);
    const q = await models.fuse(d, s);
    expect(q.length).toBe(lv.highGridSide ** 2 * lv.svaDim);
    const e = await models.project(q, lv.highGridSide ** 2);
    expect(e.length).toBe(lv.highGridSide ** 2 * lv.llmDim);
    const t = await models.embedText([1, 2, 3, 500]);
    expect(t.length).toBe(4 * lv.llmDim);
    expect(models.m.newline.length).toBe(lv.llmDim);
  });

  it('hands out tensors that own their buffer, also from a micro-batch, and a transferred projector input moves', async () => {
    const owns = (a: Float32Array) => a.byteOffset === 0 && a.byteLength === a.buffer.byteLength;
    // concurrent calls are batched together: each frame's tokens must not be a view of the batch output
    const batch = await Promise.all(
      [1, 2, 3].map((i) => models.encodeDino(image(models.imageSize('dino'), i))),
    );
    const sig = await Promise.all(
      [1, 2, 3].map((i) => models.encodeSiglip(image(models.imageSize('siglip'), i))),
    );
    expect(batch.every(owns)).toBe(true);
    const fused = await Promise.all(batch.map((d, i) => models.fuse(d, sig[i]!)));
    expect(fused.every(owns)).toBe(true);
    const rows = models.longvu.highGridSide ** 2;
    const copy = fused[0]!.slice();
    const moved = await models.project(fused[0]!, rows, { transfer: true });
    expect(fused[0]!.byteLength).toBe(0); // detached: it went to the inference thread, not a copy
    expect(Array.from(moved)).toEqual(Array.from(await models.project(copy, rows)));
    // a view of a larger buffer goes as its own values (and the caller keeps its buffer)
    const big = new Float32Array(copy.length * 3);
    big.set(copy, copy.length);
    const view = big.subarray(copy.length, 2 * copy.length);
    expect(Array.from(await models.project(view, rows))).toEqual(Array.from(moved));
    expect(big.byteLength).toBe(copy.length * 3 * 4);
  });

  it('SVA: the key mask of a padded 4:3 frame changes the fused queries; a wrong-size mask is refused', async () => {
    const side = 2 * models.longvu.highGridSide;
    const d = await models.encodeDino(image(models.imageSize('dino'), 2));
    const s = await models.encodeSiglip(image(models.imageSize('siglip'), 2));
    const open = await models.fuse(d, s);
    expect(Array.from(await models.fuse(d, s, svaKeyMask(side, [384, 384], 'official')))).toEqual(
      Array.from(open),
    );
    const masked = await models.fuse(d, s, svaKeyMask(side, [480, 640], 'official'));
    expect(masked.length).toBe(open.length);
    expect(masked.some((v, i) => Math.abs(v - open[i]!) > 1e-4)).toBe(true);
    await expect(models.fuse(d, s, new Float32Array(3))).rejects.toMatchObject({ code: 'SHAPE_MISMATCH' });
  });

  it('is deterministic: the same frame gives the same tokens', async () => {
    const a = await models.encodeDino(image(112, 5));
    const b = await models.encodeDino(image(112, 5));
    expect(
      Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(
        Buffer.from(b.buffer, b.byteOffset, b.byteLength),
      ),
    ).toBe(true);
    const c = await models.encodeDino(image(112, 6));
    expect(Array.from(c.subarray(0, 8))).not.toEqual(Array.from(a.subarray(0, 8)));
  });

  it('micro-batches concurrent frames into one run with the same results as one at a time', async () => {
    const single: Float32Array[] = [];
    for (let i = 0; i < 8; i++) single.push(await models.encodeSiglip(image(128, 10 + i)));
    events.length = 0;
    const batched = await Promise.all(
      Array.from({ length: 8 }, (_, i) => models.encodeSiglip(image(128, 10 + i))),
    );
    const runs = events.filter((e) => e.type === 'model.inferred' && e.model === 'siglip');
    expect(runs).toHaveLength(1);
    expect(runs[0]).toMatchObject({ batch: 8 });
    batched.forEach((b, i) => {
      for (let k = 0; k < b.length; k += 97) expect(b[k]).toBeCloseTo(single[i]![k]!, 4);
    });
  });

  it('bad inputs are coded errors and the models keep serving', async () => {
    await expect(models.encodeDino(image(64, 1))).rejects.toMatchObject({
      code: 'SHAPE_MISMATCH',
      field: 'dino.image',
    });
    await expect(models.embedText([1, 99_999])).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      field: 'input_ids',
    });
    const nan = new Float32Array(16 * 32).fill(Number.NaN);
    await expect(models.project(nan, 16)).rejects.toMatchObject({
      code: 'INFERENCE_FAILED',
      field: 'models.projector.outputs.embeds',
    });
    expect((await models.encodeDino(image(112, 1))).length).toBe(64 * 32);
  });
});

describe('tokenizer and generation with the tiny Qwen2 decoder', () => {
  let models: LongVuModels;
  let prompt: Float32Array;
  beforeAll(async () => {
    models = await LongVuModels.open(TINY);
    const p = models.tokenizer!.prompt('What happened in the video?');
    prompt = await models.embedText([...p.pre, ...p.post]);
  });
  afterAll(async () => {
    await models.close();
  });
  const run = async (o: Parameters<LongVuModels['generate']>[1], embeds = prompt) => {
    const ids: number[] = [];
    for await (const t of models.generate(embeds, o)) ids.push(t.id);
    return ids;
  };

  it('tokenizes offline with the Qwen2 chat template; special tokens are single ids', () => {
    const t = models.tokenizer!;
    expect(t.encode('<|im_end|>')).toEqual([2]);
    expect(t.decode(t.encode('the truck arrived'))).toBe('the truck arrived');
    const p = t.prompt('Is anyone in the room?');
    expect(t.tokenizer.decode(p.pre, { skip_special_tokens: false })).toBe(
      '<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n',
    );
    expect(t.tokenizer.decode(p.post, { skip_special_tokens: false })).toBe(
      '\nIs anyone in the room?<|im_end|>\n<|im_start|>assistant\n',
    );
    expect(t.stopIds).toEqual([2, 0]);
  });

  it('greedy decoding is deterministic, and the KV cache gives the same tokens as full recomputation', async () => {
    const a = await run({ maxNewTokens: 6, stopTokens: [] });
    expect(a).toEqual(await run({ maxNewTokens: 6, stopTokens: [] }));
    expect(a).toHaveLength(6);
    // recompute: each step runs the whole sequence without a cache
    const H = models.longvu.llmDim;
    let seq = prompt.slice();
    const ref: number[] = [];
    const { layers, kvHeads, headDim, vocabSize } = models.m.manifest.llm!;
    for (let step = 0; step < 3; step++) {
      const n = seq.length / H;
      const feeds: Record<string, import('@lvu/models').WireTensor> = {
        inputs_embeds: { type: 'float32', dims: [1, n, H], data: seq.slice() },
        attention_mask: { type: 'int64', dims: [1, n], data: new BigInt64Array(n).fill(1n) },
        position_ids: {
          type: 'int64',
          dims: [1, n],
          data: BigInt64Array.from({ length: n }, (_, i) => BigInt(i)),
        },
      };
      for (let i = 0; i < layers; i++) {
        for (const k of ['key', 'value']) {
          feeds[`past.${i}.${k}`] = {
            type: 'float32',
            dims: [1, kvHeads, 0, headDim],
            data: new Float32Array(0),
          };
        }
      }
      const r = await models.pool.run('llm', feeds);
      const logits = (r.outputs.logits!.data as Float32Array).subarray((n - 1) * vocabSize, n * vocabSize);
      let best = 0;
      for (let i = 1; i < logits.length; i++) if (logits[i]! > logits[best]!) best = i;
      ref.push(best);
      const e = await models.embedText([best]);
      const next = new Float32Array(seq.length + H);
      next.set(seq);
      next.set(e, seq.length);
      seq = next;
    }
    expect(a.slice(0, 3)).toEqual(ref);
  });

  it('a prompt that starts like the previous one reuses its KV cache and gives the tokens a full prefill gives', async () => {
    const H = models.longvu.llmDim;
    // a long "context" (random visual rows) before the question's rows, as LongVU lays a prompt out
    const ctx = Float32Array.from({ length: 400 * H }, (_, i) => Math.sin(i * 0.37) * 0.5);
    const withQuestion = (q: Float32Array) => {
      const p = new Float32Array(ctx.length + q.length);
      p.set(ctx);
      p.set(q, ctx.length);
      return p;
    };
    const q1 = withQuestion(prompt);
    const q2 = withQuestion(
      (await models.embedText(models.tokenizer!.encode('And who left first?'))).slice(),
    );
    const o = { maxNewTokens: 5, stopTokens: [] };
    const full1 = await run({ ...o, prefix: null }, q1);
    const full2 = await run({ ...o, prefix: null }, q2);
    const cache = new PrefixCache();
    expect(await run({ ...o, prefix: cache }, q1)).toEqual(full1);
    expect(cache.hits).toBe(0);
    expect(await run({ ...o, prefix: cache }, q1)).toEqual(full1); // a standing question: all but the last row
    expect(cache.reusedRows).toBe(q1.length / H - 1);
    expect(await run({ ...o, prefix: cache }, q2)).toEqual(full2); // a follow-up: the context's rows
    expect(cache.hits).toBe(2);
    expect(cache.reusedRows).toBe(q1.length / H - 1 + 400);
    expect(cache.kvBytes).toBeGreaterThan(0);
  });

  it('sampling is reproducible with a seed', async () => {
    const o = { maxNewTokens: 8, temperature: 0.9, topP: 0.9, seed: 42, stopTokens: [] };
    expect(await run(o)).toEqual(await run(o));
  });

  it('stops at a stop token (not emitted) and at maxNewTokens', async () => {
    const greedy = await run({ maxNewTokens: 6, stopTokens: [] });
    const stopAt = greedy.findIndex((id, i) => greedy.indexOf(id) === i && i >= 2);
    expect(await run({ maxNewTokens: 6, stopTokens: [greedy[stopAt]!] })).toEqual(greedy.slice(0, stopAt));
    expect(await run({ maxNewTokens: 2, stopTokens: [] })).toEqual(greedy.slice(0, 2));
  });

  it('streams tokens and can be cancelled', async () => {
    const ac = new AbortController();
    const got: number[] = [];
    await expect(
      (async () => {
        for await (const t of models.generate(prompt, {
          maxNewTokens: 20,
          stopTokens: [],
          signal: ac.signal,
        })) {
          got.push(t.id);
          if (got.length === 2) ac.abort();
        }
      })(),
    ).rejects.toMatchObject({ code: 'CANCELLED' });
    expect(got).toHaveLength(2);
  });

  it('a sequence longer than the context is CONTEXT_OVERFLOW before any work', async () => {
    const ctx = models.m.manifest.llm!.contextTokens;
    const big = new Float32Array((ctx - 10) * models.longvu.llmDim);
    await expect(run({ maxNewTokens: 16 }, big)).rejects.toMatchObject({
      code: 'CONTEXT_OVERFLOW',
      field: 'inputs_embeds',
    });
    await expect(run({}, new Float32Array(5))).rejects.toMatchObject({ code: 'SHAPE_MISMATCH' });
  });
});

describe('broken model directories', () => {
  const copy = () => {
    const d = mkdtempSync(join(tmpdir(), 'lvu-models-'));
    cpSync(TINY, d, { recursive: true });
    return d;
  };
  // biome-ignore lint/suspicious/noExplicitAny: tests edit arbitrary manifest fields
  const editManifest = (dir: string, f: (m: Record<string, any>) => void) => {
    const p = join(dir, 'manifest.json');
    const m = JSON.parse(readFileSync(p, 'utf8'));
    f(m);
    writeFileSync(p, JSON.stringify(m));
  };

  it('no manifest is NOT_FOUND; a missing ONNX file names the role', async () => {
    expect(() => loadManifest(tmpdir())).toThrow(
      expect.objectContaining({ code: 'NOT_FOUND', field: 'modelDir' }),
    );
    const d = copy();
    editManifest(d, (m) => {
      m.models.sva.file = 'gone.onnx';
    });
    expect(() => loadManifest(d)).toThrow(
      expect.objectContaining({ code: 'MODEL_INVALID', field: 'models.sva.file' }),
    );
  });

  it('a manifest that disagrees with the graph names the tensor', async () => {
    const d = copy();
    editManifest(d, (m) => {
      m.models.dino.outputs[0].name = 'features';
    });
    await expect(LongVuModels.open(d)).rejects.toMatchObject({
      code: 'MODEL_INVALID',
      field: 'models.dino.outputs.features',
    });
    const d2 = copy();
    editManifest(d2, (m) => {
      m.models.projector.outputs[0].shape = ['rows', 65];
    });
    await expect(LongVuModels.open(d2)).rejects.toMatchObject({
      field: 'models.projector.outputs.embeds.shape',
    });
    const d3 = copy();
    editManifest(d3, (m) => {
      m.models['text-embed'].inputs[0].dtype = 'float32';
    });
    await expect(LongVuModels.open(d3)).rejects.toMatchObject({
      field: 'models.text-embed.inputs.input_ids.dtype',
    });
  });

  it('a model file given the wrong role is refused', async () => {
    const d = copy();
    editManifest(d, (m) => {
      m.models.sva.file = 'dino.onnx';
    });
    await expect(LongVuModels.open(d)).rejects.toMatchObject({
      code: 'MODEL_INVALID',
      message: expect.stringContaining('sva'),
    });
  });

  it('a corrupt ONNX file and a wrong newline vector are MODEL_INVALID', async () => {
    const d = copy();
    writeFileSync(join(d, 'siglip.onnx'), Buffer.alloc(1000, 7));
    await expect(LongVuModels.open(d)).rejects.toMatchObject({
      code: 'MODEL_INVALID',
      field: 'models.siglip.file',
    });
    const d2 = copy();
    writeFileSync(join(d2, 'newline.f32'), Buffer.alloc(12));
    expect(() => loadManifest(d2)).toThrow(expect.objectContaining({ field: 'longvu.newline' }));
  });

  it('a broken model does not take down another pool', async () => {
    const good = await LongVuModels.open(TINY, { roles: ['dino'] });
    const bad = copy();
    writeFileSync(join(bad, 'dino.onnx'), Buffer.alloc(10, 1));
    await expect(LongVuModels.open(bad, { roles: ['dino'] })).rejects.toMatchObject({
      code: 'MODEL_INVALID',
    });
    expect((await good.encodeDino(image(112, 3))).length).toBe(64 * 32);
    await good.close();
  });

  it('a tokenizer that does not match the LLM vocabulary is refused', async () => {
    const d = copy();
    editManifest(d, (m) => {
      m.llm.vocabSize = 100;
    });
    await expect(LongVuModels.open(d)).rejects.toMatchObject({
      code: 'MODEL_INVALID',
      field: 'llm.tokenizer',
    });
  });

  it('an unloaded role is a clear error', async () => {
    const pool = new SessionPool();
    await expect(pool.run('llm', {})).rejects.toMatchObject({ code: 'MODEL_INVALID', field: 'models.llm' });
    await pool.close();
  });
});

describe('cheaper variants (tools/export/variants.py)', () => {
  it('writes int8 and float16 files the manifest records, the loader picks them, and their error is stated', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lvu-variants-'));
    cpSync(TINY, dir, { recursive: true });
    const py = execFileSync(
      resolve(repoRoot, 'tools/python-env.sh'),
      [resolve(repoRoot, 'tools/requirements-export.txt')],
      {
        encoding: 'utf8',
      },
    ).trim();
    execFileSync(py, [resolve(repoRoot, 'tools/export/variants.py'), dir, '--roles', 'dino,siglip'], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    const m = loadManifest(dir);
    expect(m.manifest.precision).toBe('float32');
    expect(m.manifest.models.dino!.variants).toMatchObject({
      int8: { file: 'dino.int8.onnx', maxAbsErrVsFloat32: expect.any(Number) },
      float16: { file: 'dino.float16.onnx' },
    });
    expect(loadManifest(dir, { precision: 'int8' }).precisions).toMatchObject({
      dino: 'int8',
      siglip: 'int8',
      sva: 'float32',
    });
    const f32 = await LongVuModels.open(dir, { roles: ['dino'] });
    const q8 = await LongVuModels.open(dir, { roles: ['dino'], precision: 'int8' });
    try {
      const img = image(f32.imageSize('dino'), 9);
      const a = await f32.encodeDino(img);
      const b = await q8.encodeDino(img);
      expect(b.length).toBe(a.length);
      const err = a.reduce((e, v, i) => Math.max(e, Math.abs(v - b[i]!)), 0);
      expect(err).toBeGreaterThan(0); // a different network…
      expect(err).toBeLessThan(1); // …that computes nearly the same thing
    } finally {
      await f32.close();
      await q8.close();
    }
    // a variant the manifest names but the directory lacks is a clear error
    execFileSync('rm', [join(dir, 'dino.int8.onnx')]);
    expect(() => loadManifest(dir, { precision: 'int8' })).toThrow(
      expect.objectContaining({ code: 'MODEL_INVALID', field: 'models.dino.variants.int8.file' }),
    );
  }, 180_000);
});

describe('lvu models', () => {
  const lvu = (...a: string[]) =>
    spawnSync(process.execPath, [resolve(repoRoot, 'packages/cli/bin/lvu.js'), ...a], { encoding: 'utf8' });

  it('check loads and runs every model of the tiny export', () => {
    const r = lvu('models', 'check', TINY, '--json');
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.ok).toBe(true);
    expect(out.models.map((m: { role: string }) => m.role)).toEqual([
      'dino',
      'siglip',
      'sva',
      'projector',
      'text-embed',
      'llm',
    ]);
  });

  it('inspect lists roles, tensors, parameters and FLOPs', () => {
    const out = JSON.parse(
      execFileSync(
        process.execPath,
        [resolve(repoRoot, 'packages/cli/bin/lvu.js'), 'models', 'inspect', TINY, '--json'],
        { encoding: 'utf8' },
      ),
    );
    expect(out.models.find((m: { role: string }) => m.role === 'dino')).toMatchObject({
      params: 46592,
      inputs: ['pixel_values float32[batch, 3, 112, 112]'],
    });
    expect(out.models.every((m: { gflopsPerFrame: number }) => m.gflopsPerFrame >= 0)).toBe(true);
  });

  it('a directory without models is a coded error', () => {
    const r = lvu('models', 'check', tmpdir());
    expect(r.status).toBe(2);
    expect(JSON.parse(r.stderr.trim())).toMatchObject({ error: 'NOT_FOUND' });
  });
});

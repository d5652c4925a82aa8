import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fromHalf, toHalf } from '@lvu/arrow';
import { createEngine, defaultPlugins } from '@lvu/cli';
import {
  type AnswerRequest,
  type BackendFactory,
  OnnxBackend,
  PromptEmbedsBackend,
  toBfloat16,
  type WireDtype,
} from '@lvu/engine';
import type { LongVuModels } from '@lvu/models';
import { beforeAll, describe, expect, it } from 'vitest';
import { makeSceneVideo } from './support/media.js';
import { repoRoot } from './support/paths.js';
import { exportPython } from './support/served-models.js';

/**
 * The prompt-embeds backend (vLLM, NIM, Dynamo) proven with the libraries vLLM itself loads prompt embeddings and
 * models with, on this CPU: PyTorch (`torch.load(weights_only=True)`, exactly vLLM's `load_prompt_embeds`) and
 * Hugging Face transformers (the directory `lvu models export-llm` writes, greedy decoding). vLLM itself needs a GPU
 * and is not run here.
 */
const lvu = resolve(repoRoot, 'packages/cli/bin/lvu.js');
let python = '';
let dir = '';
let exported: { dir: string; hf: string; dtype: string; files: string[]; onnxLlm: boolean; llmDim: number };

beforeAll(() => {
  python = exportPython();
  dir = mkdtempSync(join(tmpdir(), 'lvu-export-llm-'));
  const out = execFileSync(
    process.execPath,
    [lvu, 'models', 'export-llm', '--random', 'tiny', '--out', join(dir, 'm'), '--json'],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
  );
  exported = JSON.parse(out.trim().split('\n').at(-1)!);
}, 600_000);

const fromBfloat16 = (bits: Uint16Array) => {
  const u = new Uint32Array(bits.length);
  for (let i = 0; i < bits.length; i++) u[i] = bits[i]! << 16;
  return new Float32Array(u.buffer);
};
const atWirePrecision = (v: Float32Array, d: WireDtype) =>
  d === 'float32' ? v.slice() : d === 'float16' ? fromHalf(toHalf(v)) : fromBfloat16(toBfloat16(v));

describe('prompt-embeds backend: what vLLM reads is what lvu composed', () => {
  it('export-llm writes a Hugging Face directory and lvu model set from the same weights', () => {
    expect(exported).toMatchObject({ hf: join(dir, 'm', 'hf'), dtype: 'float32', onnxLlm: true, llmDim: 64 });
    expect(exported.files).toEqual(
      expect.arrayContaining([
        'config.json',
        'generation_config.json',
        'model.safetensors',
        'tokenizer.json',
      ]),
    );
    const cfg = JSON.parse(readFileSync(join(exported.hf, 'config.json'), 'utf8'));
    expect(cfg).toMatchObject({ architectures: ['Qwen2ForCausalLM'], model_type: 'qwen2', hidden_size: 64 });
  });

  it('the request body decodes with torch.load(weights_only=True) to lvu’s inputs_embeds; transformers greedy-decodes the tokens lvu’s onnx backend does', async () => {
    const cases: { body: string; embeds: string; ids: number[]; text: string; dtype: WireDtype }[] = [];
    let onnxAnswer = '';
    const plugins = defaultPlugins();
    const tap: BackendFactory = {
      name: 'tap',
      description:
        'builds the prompt-embeds request of each dtype and generates in process from the same embeddings',
      create(ctx) {
        const m = ctx.models.handle as LongVuModels;
        return {
          name: 'tap',
          async answer(req: AnswerRequest) {
            const values = req.inputsEmbeds.slice(0, req.tokens * req.dim);
            for (const dtype of ['float32', 'bfloat16', 'float16'] as const) {
              const pe = new PromptEmbedsBackend({
                url: 'http://127.0.0.1:9/v1',
                model: 'longvu',
                dtype,
                maxTokens: 12,
              });
              const body = join(dir, `body-${dtype}.json`);
              writeFileSync(body, pe.request(req, false));
              const embeds = join(dir, `embeds-${dtype}.f32`);
              writeFileSync(embeds, values);
              const ids: number[] = [];
              for await (const g of m.generate(atWirePrecision(values, dtype), {
                maxNewTokens: 12,
                prefix: null,
              }))
                ids.push(g.id);
              cases.push({ body, embeds, ids, text: m.tokenizer!.decode(ids), dtype });
            }
            onnxAnswer = await new OnnxBackend(m, { maxNewTokens: 12, reusePrefix: false }).answer(req, {});
            return onnxAnswer;
          },
        };
      },
    };
    plugins.backends.register(tap);
    const engine = await createEngine({ plugins, models: join(dir, 'm'), backend: 'tap' });
    try {
      engine.addStream({ id: 'cam', source: makeSceneVideo(40) });
      await engine.whenDone('cam');
      const r = await engine.query('cam', { question: 'When does the scene turn red?' });
      expect(r.totalTokens).toBeGreaterThan(20);
      expect(r.totalTokens).toBeLessThanOrEqual(r.budgetTokens);
    } finally {
      await engine.close();
    }
    const spec = join(dir, 'cases.json');
    writeFileSync(spec, JSON.stringify({ hf: exported.hf, cases }));
    const out = execFileSync(python, [resolve(repoRoot, 'tools/export/check_prompt_embeds.py'), spec], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const res = JSON.parse(out.trim().split('\n').at(-1)!) as {
      cases: {
        dtype: string;
        shape: number[];
        bytes: number;
        sameBits: boolean;
        maxAbsErrVsFloat32: number;
        hfIds: number[];
        lvuIds: number[];
        sameIds: boolean;
        hfText: string;
      }[];
    };
    const tokens = cases.length ? readFileSync(cases[0]!.embeds).length / 4 / 64 : 0;
    for (const [i, c] of res.cases.entries()) {
      const dtype = cases[i]!.dtype;
      expect(c.dtype, dtype).toBe(dtype);
      expect(c.shape).toEqual([tokens, 64]);
      // the wire dtype's rounding of lvu's float32 values, bit for bit (float32: exact)
      expect(c.sameBits, dtype).toBe(true);
      if (dtype === 'float32') expect(c.maxAbsErrVsFloat32).toBe(0);
      else expect(c.maxAbsErrVsFloat32).toBeGreaterThan(0);
      expect(c.bytes).toBeGreaterThan(tokens * 64 * (dtype === 'float32' ? 4 : 2));
      expect(c.bytes).toBeLessThan(tokens * 64 * (dtype === 'float32' ? 4 : 2) + 1024);
      // transformers' greedy decode from what torch.load read = lvu's onnx decoder from the same values
      expect(c.hfIds.length).toBeGreaterThan(0);
      expect(c.hfIds, dtype).toEqual(c.lvuIds);
    }
    expect(res.cases.map((c) => c.dtype)).toEqual(['float32', 'bfloat16', 'float16']);
    // and the onnx backend's streamed answer is the text transformers decodes
    expect(res.cases[0]!.hfText).toBe(onnxAnswer);
  }, 300_000);
});

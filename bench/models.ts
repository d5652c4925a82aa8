/**
 * `npm run bench -- models --json`: inference through lvu's worker-thread session pool (onnxruntime-node) on the
 * `small` preset (DINOv2-small/14@224, SigLIP-base/16@224, random weights from tools/export), batch 1/4/8:
 * ms per frame, GFLOP/s and the fraction of this machine's peak (one large MatMul in onnxruntime-node, same run);
 * against Python onnxruntime on the same files and PyTorch eager on the exporter's modules; the main thread's
 * event-loop delay while inference runs; and the tiny LLM's prefill and decode rates.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { LongVuModels, loadManifest, PrefixCache, SessionPool } from '@lvu/models';
import { ensureSmallModels, ensureSmallVariants, exportPython } from './fixtures.js';
import type { BenchOptions, BenchRow } from './run.js';
import { median } from './stats.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const THREADS = 2;

export async function run(opts: BenchOptions): Promise<BenchRow[]> {
  // LVU_BENCH_CASES=llm: only the LLM cases (no export, no encoders)
  if (process.env.LVU_BENCH_CASES === 'llm') return llmCases(opts.runs);
  if (process.env.LVU_BENCH_CASES === 'precision') return precisionCases(opts.runs);
  const python = exportPython();
  const small = ensureSmallModels(python);
  const N = opts.quick ? 1024 : 2048;
  const mmPath = join(root, `.cache/models/matmul-${N}.onnx`);
  mkdirSync(dirname(mmPath), { recursive: true });
  if (!existsSync(mmPath)) execFileSync(python, [join(root, 'bench/make_matmul.py'), String(N), mmPath]);
  const batches = [1, 4, 8];
  const runs = opts.runs;

  // peak: one MatMul through the same worker-thread pool
  const pool = new SessionPool({ intraOpNumThreads: THREADS });
  const mmManifest = {
    dir: dirname(mmPath),
    newline: new Float32Array(1),
    paths: { projector: mmPath },
    precisions: { projector: 'float32' as const },
    manifest: {
      format: 'lvu-models/1' as const,
      weights: 'random' as const,
      precision: 'float32' as const,
      longvu: { highGridSide: 1, lowGridSide: 1, svaDim: 1, llmDim: 1, newline: '' },
      models: {
        projector: {
          file: mmPath,
          inputs: [
            { name: 'a', shape: [N, N], dtype: 'float32' as const },
            { name: 'b', shape: [N, N], dtype: 'float32' as const },
          ],
          outputs: [{ name: 'c', shape: [N, N], dtype: 'float32' as const }],
        },
      },
    },
  };
  await pool.load(mmManifest, 'projector');
  const x = Float32Array.from({ length: N * N }, (_, i) => (i % 13) / 13);
  const mmTimes: number[] = [];
  for (let i = 0; i <= runs; i++) {
    const r = await pool.run('projector', {
      a: { type: 'float32', dims: [N, N], data: x },
      b: { type: 'float32', dims: [N, N], data: x },
    });
    if (i > 0) mmTimes.push(r.ms);
  }
  await pool.close();
  const peak = (2 * N ** 3) / (median(mmTimes) / 1000) / 1e9;

  const ref = JSON.parse(
    execFileSync(
      python,
      [
        join(root, 'bench/models_ref.py'),
        small,
        '--threads',
        String(THREADS),
        '--runs',
        String(runs),
        '--batches',
        batches.join(','),
        '--matmul',
        mmPath,
      ],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], maxBuffer: 16 << 20 },
    ),
  );
  const models = await LongVuModels.open(small, { roles: ['dino', 'siglip'], intraOpNumThreads: THREADS });
  const m = loadManifest(small).manifest;
  const rows: BenchRow[] = [
    {
      bench: 'models',
      case: `peak: one ${N}×${N} MatMul in onnxruntime-node (${THREADS} threads)`,
      gflops: Number(peak.toFixed(1)),
      pythonOrtGflops: Number(ref.matmulGflops.toFixed(1)),
    },
  ];
  const h = monitorEventLoopDelay({ resolution: 5 });
  for (const role of ['dino', 'siglip'] as const) {
    const size = m.models[role]!.preprocess!.size;
    const flops = m.models[role]!.flopsPerFrame!;
    for (const b of batches) {
      const px = Float32Array.from({ length: b * 3 * size * size }, (_, i) => ((i * 7) % 255) / 255 - 0.5);
      const times: number[] = [];
      h.enable();
      for (let i = 0; i <= runs; i++) {
        const t = performance.now();
        await models.pool.run(role, {
          pixel_values: { type: 'float32', dims: [b, 3, size, size], data: px },
        });
        if (i > 0) times.push(performance.now() - t);
      }
      h.disable();
      const msPerFrame = median(times) / b;
      const gflops = flops / (msPerFrame / 1000) / 1e9;
      const ortMs = ref.ort[`${role}/${b}`] as number;
      const torchMs = ref.torch[`${role}/${b}`] as number;
      rows.push({
        bench: 'models',
        case: `${role} (${m.models[role]!.params!.toLocaleString('en')} params, ${size}px), batch ${b}`,
        baseline: `Python onnxruntime ${ref.versions.onnxruntime} (same file) and PyTorch ${ref.versions.torch} eager, ${THREADS} threads`,
        runs,
        msPerFrame: Number(msPerFrame.toFixed(2)),
        gflops: Number(gflops.toFixed(1)),
        fractionOfPeak: Number((gflops / peak).toFixed(3)),
        pythonOrtMsPerFrame: Number(ortMs.toFixed(2)),
        throughputVsPythonOrt: Number((ortMs / msPerFrame).toFixed(3)),
        torchEagerMsPerFrame: Number(torchMs.toFixed(2)),
        speedupVsTorchEager: Number((torchMs / msPerFrame).toFixed(3)),
      });
    }
  }
  rows.push({
    bench: 'models',
    case: 'main-thread event-loop delay while the vision models run',
    p99Ms: Number((h.percentile(99) / 1e6).toFixed(2)),
    maxMs: Number((h.max / 1e6).toFixed(2)),
  });
  await models.close();

  rows.push(...(await precisionCases(runs)));
  rows.push(...(await llmCases(runs)));
  return rows;
}

/**
 * The tiny LLM: prefill and decode rates (every prompt prefilled whole), and time to first token with and without
 * the prefix KV cache for a standing question (the same prompt again) and a follow-up (the same context, another
 * question), over a 4,000-row context in LongVU's layout (text, frames, question last).
 */
async function llmCases(runs: number): Promise<BenchRow[]> {
  const tiny = await LongVuModels.open(join(root, 'tests/fixtures/models/tiny'), {
    intraOpNumThreads: THREADS,
  });
  const H = tiny.longvu.llmDim;
  const prompt = Float32Array.from({ length: 1024 * H }, (_, i) => Math.sin(i) * 0.1);
  const prefill: number[] = [];
  const decode: number[] = [];
  for (let i = 0; i <= runs; i++) {
    const t0 = performance.now();
    let first = 0;
    let n = 0;
    for await (const _ of tiny.generate(prompt, { maxNewTokens: 33, stopTokens: [], prefix: null })) {
      if (n++ === 0) first = performance.now();
    }
    if (i === 0) continue;
    prefill.push(1024 / ((first - t0) / 1000));
    decode.push(32 / ((performance.now() - first) / 1000));
  }
  const rows: BenchRow[] = [
    {
      bench: 'models',
      case: 'tiny Qwen2 decoder (2 layers, 64 wide): 1024-token prefill, then 32 decoded tokens with the KV cache',
      runs,
      prefillTokensPerS: Math.round(median(prefill)),
      decodeTokensPerS: Math.round(median(decode)),
    },
  ];
  const context = Float32Array.from({ length: 4000 * H }, (_, i) => Math.cos(i * 0.013) * 0.2);
  const ask = async (question: string) => {
    const q = await tiny.embedText(tiny.tokenizer!.encode(question));
    const p = new Float32Array(context.length + q.length);
    p.set(context);
    p.set(q, context.length);
    return p;
  };
  const standing = await ask('What is happening at the gate now?');
  const followUp = await ask('And who opened it?');
  const ttft = async (p: Float32Array, prefix: PrefixCache | null) => {
    const t0 = performance.now();
    for await (const _ of tiny.generate(p, { maxNewTokens: 1, stopTokens: [], prefix })) break;
    return performance.now() - t0;
  };
  const cold: number[] = [];
  const again: number[] = [];
  const follow: number[] = [];
  for (let i = 0; i <= runs; i++) {
    const cache = new PrefixCache();
    const c = await ttft(standing, null);
    await ttft(standing, cache); // fills the cache as the first question would
    const a = await ttft(standing, cache);
    const f = await ttft(followUp, cache);
    if (i === 0) continue;
    cold.push(c);
    again.push(a);
    follow.push(f);
  }
  await tiny.close();
  rows.push({
    bench: 'models',
    case: 'tiny Qwen2 decoder: time to first token over a 4,000-row context, with and without the prefix KV cache',
    baseline: 'the same prompt prefilled whole (prefix: null), same run',
    runs,
    ttftFullMs: Number(median(cold).toFixed(1)),
    ttftStandingMs: Number(median(again).toFixed(1)),
    ttftFollowUpMs: Number(median(follow).toFixed(1)),
    standingSpeedup: Number((median(cold) / median(again)).toFixed(2)),
    followUpSpeedup: Number((median(cold) / median(follow)).toFixed(2)),
  });
  return rows;
}

/**
 * The vision networks of the `small` preset at float32 and their int8 and float16 variants (tools/export/variants.py,
 * written into the model directory on first use): ms per frame at batches 1 and 4 through the same pool, same run,
 * and the largest difference of the variant's tokens from float32's on a real frame-sized input.
 */
async function precisionCases(runs: number): Promise<BenchRow[]> {
  const small = ensureSmallVariants();
  const m = loadManifest(small).manifest;
  const rows: BenchRow[] = [];
  const opened = Object.fromEntries(
    await Promise.all(
      (['float32', 'int8', 'float16'] as const).map(
        async (p) =>
          [
            p,
            await LongVuModels.open(small, {
              roles: ['dino', 'siglip'],
              intraOpNumThreads: THREADS,
              precision: p,
            }),
          ] as const,
      ),
    ),
  );
  try {
    for (const role of ['dino', 'siglip'] as const) {
      const size = m.models[role]!.preprocess!.size;
      for (const b of [1, 4]) {
        const px = Float32Array.from({ length: b * 3 * size * size }, (_, i) => Math.sin(i * 0.001) * 0.8);
        const ms: Record<string, number> = {};
        const out: Record<string, Float32Array> = {};
        for (let i = 0; i <= runs; i++) {
          // interleaved, so the three see the same machine
          for (const [p, models] of Object.entries(opened)) {
            const t = performance.now();
            const r = await models.pool.run(role, {
              pixel_values: { type: 'float32', dims: [b, 3, size, size], data: px },
            });
            const dt = performance.now() - t;
            if (i > 0) ms[`${p}:${i}`] = dt;
            out[p] = r.outputs.tokens!.data as Float32Array;
          }
        }
        const med = (p: string) =>
          median(
            Object.entries(ms)
              .filter(([k]) => k.startsWith(`${p}:`))
              .map(([, v]) => v),
          ) / b;
        const err = (p: string) =>
          out[p]!.reduce((e, v, i) => Math.max(e, Math.abs(v - out.float32![i]!)), 0);
        rows.push({
          bench: 'models',
          case: `${role} (${size}px) at float32, int8 and float16, batch ${b}`,
          baseline: 'the float32 file, same pool, interleaved runs',
          runs,
          float32MsPerFrame: Number(med('float32').toFixed(2)),
          int8MsPerFrame: Number(med('int8').toFixed(2)),
          float16MsPerFrame: Number(med('float16').toFixed(2)),
          int8Speedup: Number((med('float32') / med('int8')).toFixed(2)),
          float16Speedup: Number((med('float32') / med('float16')).toFixed(2)),
          int8MaxAbsErr: Number(err('int8').toExponential(2)),
          float16MaxAbsErr: Number(err('float16').toExponential(2)),
          target: 'int8 ≥ 1.8× float32',
        });
      }
    }
  } finally {
    for (const models of Object.values(opened)) await models.close();
  }
  return rows;
}

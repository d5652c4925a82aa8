/**
 * `npm run bench -- compress --json`: our compression core vs the NumPy reference (tools/reference/longvu_ref.py)
 * on the same inputs, in the same run. Inputs are generated here (deterministic), written as raw float32 files for
 * the reference, and both sides' results are cross-checked. Figures: median of `runs` timings each, ratio
 * ours/reference (< 1 = faster than NumPy), peak RSS of each process.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  type ContextFrame,
  composeContext,
  longVuOptions,
  materializeVisual,
  spatialTokenCompression,
  temporalReduce,
  tokenGridLayout,
} from '@lvu/compress';
import { seededRandom } from '@lvu/core';
import type { BenchOptions, BenchRow } from './run.js';
import { median } from './stats.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

function fill(a: Float32Array, r: () => number, scale = 1): Float32Array {
  for (let i = 0; i < a.length; i++) a[i] = r() * scale;
  return a;
}

function time<T>(runs: number, fn: () => T): { medianMs: number; timesMs: number[]; out: T } {
  const timesMs: number[] = [];
  let out: T = fn(); // warm-up run (JIT, page faults), not counted; the reference does the same
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    out = fn();
    timesMs.push(performance.now() - t);
  }
  return { medianMs: median(timesMs), timesMs: timesMs.map((t) => Math.round(t * 10) / 10), out };
}

const writeF32 = (path: string, a: Float32Array) =>
  writeFileSync(path, new Uint8Array(a.buffer, a.byteOffset, a.byteLength));

export async function run(opts: BenchOptions): Promise<BenchRow[]> {
  const dir = mkdtempSync(join(tmpdir(), 'lvu-bench-compress-'));
  const rand = seededRandom(12345);
  const r = () => rand() - 0.5;
  const o = longVuOptions();
  const rows: BenchRow[] = [];
  const sizes = opts.quick
    ? { T: 64, P: 576, C: 1536, D: 3584, stcT: 80 }
    : { T: 256, P: 576, C: 1536, D: 3584, stcT: 400 };
  try {
    // 1. temporal reduction: T frames of 576×1536 DINO features, scenes with frame-varying noise
    const dim = sizes.P * sizes.C;
    const dino = new Float32Array(sizes.T * dim);
    {
      const noise = Array.from({ length: 17 }, () => fill(new Float32Array(dim), r));
      let base = fill(new Float32Array(dim), r);
      for (let t = 0; t < sizes.T; t++) {
        if (t > 0 && r() + 0.5 < 0.06) base = fill(new Float32Array(dim), r);
        const sigma = 0.05 + (r() + 0.5) ** 2 * 0.7;
        const n = noise[t % 17]!;
        const off = t * dim;
        for (let i = 0; i < dim; i++) dino[off + i] = base[i]! + sigma * n[i]!;
      }
    }
    writeF32(join(dir, 'dino.f32'), dino);
    const frames = Array.from({ length: sizes.T }, (_, t) => dino.subarray(t * dim, (t + 1) * dim));

    // 2. query-time assembly at width 3584: 113 and 100 kept frames with cached 12×12 and 8×8 projected grids
    const D = sizes.D;
    const maxT = 113;
    const hi = fill(new Float32Array(maxT * 144 * D), r);
    const lo = fill(new Float32Array(maxT * 64 * D), r);
    const newline = fill(new Float32Array(D), r);
    const text = fill(new Float32Array(32 * D), r);
    for (let i = 0; i < text.length; i++) text[i] = text[i]! + 0.2 * newline[i % D]!; // a shared direction
    const textPreLen = 5;
    const meta: Record<string, unknown> = { temporal: { T: sizes.T, P: sizes.P, C: sizes.C } };
    for (const T of [113, 100]) {
      const key = `assembly_${T}`;
      writeF32(join(dir, `${key}_hi.f32`), hi.subarray(0, T * 144 * D));
      writeF32(join(dir, `${key}_lo.f32`), lo.subarray(0, T * 64 * D));
      writeF32(join(dir, `${key}_newline.f32`), newline);
      writeF32(join(dir, `${key}_text.f32`), text);
      meta[key] = { T, D, text_pre_len: textPreLen };
    }

    // 3. STC over stcT frames of 12×12 (+ newline) at width 3584: static scenes of 16 frames with a moving patch
    const stcT = sizes.stcT;
    const grids = new Float32Array(stcT * 144 * D);
    {
      let bg = fill(new Float32Array(144 * D), r);
      for (let t = 0; t < stcT; t++) {
        if (t % 16 === 0) bg = fill(new Float32Array(144 * D), r);
        const off = t * 144 * D;
        const patch = Math.floor((r() + 0.5) * 120);
        for (let k = 0; k < 144; k++) {
          const moving = k >= patch && k < patch + 24;
          for (let d = 0; d < D; d++) {
            const i = k * D + d;
            grids[off + i] = moving ? r() : bg[i]! + 0.35 * r();
          }
        }
      }
    }
    writeF32(join(dir, 'stc_hi.f32'), grids);
    writeF32(join(dir, 'stc_newline.f32'), newline);
    const stcB = o.contextTokens - o.reserveTokens - 37;
    meta.stc = { T: stcT, D, B: stcB };
    writeFileSync(join(dir, 'meta.json'), JSON.stringify(meta));

    // --- the reference, in its own process (numpy in the project's .venv) ---
    const python = execFileSync(
      join(root, 'tools/python-env.sh'),
      [join(root, 'tools/requirements-numpy.txt')],
      {
        encoding: 'utf8',
      },
    ).trim();
    const refOut = JSON.parse(
      execFileSync(
        python,
        [
          join(root, 'bench/compress_ref.py'),
          dir,
          '--reference',
          join(root, 'tools/reference'),
          '--runs',
          String(opts.runs),
        ],
        { encoding: 'utf8', maxBuffer: 64 << 20 },
      ),
    );
    const ref = refOut.tasks;
    const refRss = Math.round(refOut.peak_rss_mb);
    const common = (c: string) => ({
      bench: 'compress',
      case: c,
      runs: opts.runs,
      baseline: `NumPy ${refOut.numpy}, tools/reference/longvu_ref.py`,
    });

    // --- ours ---
    const tr = time(opts.runs, () => temporalReduce(frames, o.dinoWindowFrames, o.dinoThreshold));
    rows.push({
      ...common(`temporal reduction, ${sizes.T} frames × ${sizes.P}×${sizes.C} float32`),
      oursMs: Math.round(tr.medianMs),
      referenceMs: Math.round(ref.temporal.median_s * 1000),
      ratio: Number((tr.medianMs / (ref.temporal.median_s * 1000)).toFixed(3)),
      agree: JSON.stringify(tr.out.kept) === JSON.stringify(ref.temporal.kept),
      kept: tr.out.kept.length,
      oursTimesMs: tr.timesMs,
    });

    for (const T of [113, 100]) {
      const cf: ContextFrame[] = Array.from({ length: T }, (_, i) => ({
        id: i,
        hi: hi.subarray(i * 144 * D, (i + 1) * 144 * D),
        lo: lo.subarray(i * 64 * D, (i + 1) * 64 * D),
      }));
      const input = { frames: cf, dim: D, newline, frameHW: [384, 384] as const, textPreLen, textPost: text };
      const out = new Float32Array(o.contextTokens * D);
      // The engine validates features once when they enter the context store (assertFiniteFrame), so its
      // query path skips the NaN guard; the guarded path is timed too.
      const res = time(opts.runs, () => {
        const c = composeContext(input, o);
        materializeVisual(c, D, newline, out, { checkFinite: false });
        return c;
      });
      const guarded = time(opts.runs, () => materializeVisual(composeContext(input, o), D, newline, out));
      const c = res.out;
      let sum = 0;
      for (let i = 0; i < c.finalVisualLen * D; i++) sum += out[i]!;
      const rr = ref[`assembly_${T}`];
      rows.push({
        ...common(
          `query-time assembly, ${T} kept frames, width ${D}, 32-token question, budget ${o.contextTokens}`,
        ),
        oursMs: Math.round(res.medianMs * 10) / 10,
        referenceMs: Math.round(rr.median_s * 10000) / 10,
        ratio: Number((res.medianMs / (rr.median_s * 1000)).toFixed(3)),
        agree:
          c.mode.mode === rr.mode &&
          JSON.stringify(c.qgs?.mixToken ? c.qgs.highresPositions : c.qgs ? [] : null) ===
            JSON.stringify(rr.highres_positions) &&
          (c.stc?.reducedLen ?? null) === rr.stc_reduced_len &&
          c.finalVisualLen === rr.final_visual_len &&
          Math.abs(sum - rr.visual_sum) <= 1e-6 * Math.max(1, Math.abs(rr.visual_sum)) + 1e-3,
        mode: c.mode.mode,
        highResFrames: c.qgs?.highresNum ?? 0,
        stc: c.stc !== null,
        visualTokens: c.finalVisualLen,
        oursTimesMs: res.timesMs,
        oursWithNanGuardMs: Math.round(guarded.medianMs * 10) / 10,
      });
    }

    const layout = tokenGridLayout(12, [384, 384], 'official', true);
    const stcGrids = Array.from({ length: stcT }, (_, t) => grids.subarray(t * 144 * D, (t + 1) * 144 * D));
    const st = time(opts.runs, () =>
      spatialTokenCompression(
        stcGrids,
        layout,
        newline,
        D,
        stcB,
        o.stcThreshold,
        o.stcChunkFrames,
        o.cosineEps,
      ),
    );
    const finalLen = st.out.kept.reduce((s, k) => s + k.length, 0);
    rows.push({
      ...common(`STC, ${stcT} frames × 156 tokens (12×12 + newline), width ${D}`),
      oursMs: Math.round(st.medianMs),
      referenceMs: Math.round(ref.stc.median_s * 1000),
      ratio: Number((st.medianMs / (ref.stc.median_s * 1000)).toFixed(3)),
      agree:
        st.out.reducedLen === ref.stc.reduced_len &&
        st.out.forceRemove === ref.stc.force_remove &&
        finalLen === ref.stc.final_len,
      reducedLen: st.out.reducedLen,
      forceRemove: st.out.forceRemove,
      oursTimesMs: st.timesMs,
    });
    const oursRss = Math.round(process.resourceUsage().maxRSS / 1024);
    rows.push({
      bench: 'compress',
      case: 'peak RSS (MB), inputs included',
      ours: oursRss,
      reference: refRss,
      note: 'ours holds every input of the three tasks at once (generated here); the reference loads one task at a time',
    });
    return rows;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

import {
  type ContextFrame,
  composeContext,
  longVuOptions,
  materializeVisual,
  mlpProjector,
  StreamingTemporalReducer,
} from '@lvu/compress';
import { seededRandom } from '@lvu/core';

/**
 * The embedded default: a synthetic 1 fps feed of scenes (feature vectors, not pixels) pushed frame by frame
 * through the streaming temporal reduction, then one question composed into a context under the 8,192-token
 * budget exactly as LongVU would. No video decoder or model is involved yet; the output says so.
 */
export interface DemoOptions {
  minutes: number;
  seed: number;
}

export function runDemo(opts: DemoOptions) {
  const o = longVuOptions();
  const rand = seededRandom(opts.seed);
  const r = () => rand() - 0.5;
  const T = Math.round(opts.minutes * 60);
  const dinoDim = 256;
  const svaDim = 16;
  const dim = 32;
  const S = o.highGridSide;
  const s = o.lowGridSide;
  const vec = (n: number) => Float32Array.from({ length: n }, r);
  const projector = mlpProjector({
    w1: vec(dim * svaDim),
    b1: vec(dim),
    w2: vec(dim * dim),
    b2: vec(dim),
    inDim: svaDim,
    outDim: dim,
  });
  const newline = vec(dim);
  const question = vec(12 * dim);

  // Scenes of random length; within a scene frames differ by noise whose level drifts (camera noise, motion).
  const reducer = new StreamingTemporalReducer<{ t: number; scene: number }>(
    o.dinoWindowFrames,
    o.dinoThreshold,
  );
  const kept: { t: number; scene: number; hi: Float32Array; lo: Float32Array }[] = [];
  const scenes: number[] = [];
  let scene = -1;
  let base = vec(dinoDim);
  let sva = vec(S * S * svaDim);
  let left = 0;
  const started = performance.now();
  const take = (w: ReturnType<typeof reducer.flush>) => {
    for (const k of w?.kept ?? []) {
      // the scene's visual grid with a moving patch (a real SVA output in the engine)
      const grid = sva.slice();
      const at = Math.floor((r() + 0.5) * (S * S - 8)) * svaDim;
      for (let i = at; i < at + 8 * svaDim; i++) grid[i] = r();
      const hi = Float32Array.from(projector(grid, S * S));
      const pooled = new Float32Array(s * s * svaDim);
      for (let i = 0; i < pooled.length; i++) pooled[i] = grid[i]! * 0.5 + grid[(i * 7) % grid.length]! * 0.5;
      kept.push({ t: k.item.t, scene: k.item.scene, hi, lo: Float32Array.from(projector(pooled, s * s)) });
    }
  };
  for (let t = 0; t < T; t++) {
    if (left-- <= 0) {
      scene++;
      left = 5 + Math.floor((r() + 0.5) * 60);
      base = vec(dinoDim);
      sva = vec(S * S * svaDim);
      scenes.push(t);
    }
    const noise = 0.05 + (r() + 0.5) ** 3 * 0.8; // mostly still, sometimes busy
    const frame = base.map((v) => v + r() * noise);
    take(reducer.push(frame, { t, scene }));
  }
  take(reducer.flush());

  const frames: ContextFrame[] = kept.map((k) => ({ id: k.t, hi: k.hi, lo: k.lo }));
  const ctx = composeContext(
    { frames, dim, newline, frameHW: [720, 1280], textPreLen: 14, textPost: question },
    o,
  );
  const visual = materializeVisual(ctx, dim, newline);
  const ms = performance.now() - started;
  const textTokens = 14 + question.length / dim;
  return {
    embeddedDefault: true,
    note:
      'synthetic scene features stand in for decoded video and DINOv2/SigLIP/SVA models (not built yet); ' +
      'every compression decision below is LongVU-exact',
    sampledFrames: T,
    scenes: scenes.length,
    keptFrames: kept.length,
    keptRatio: Number((kept.length / T).toFixed(3)),
    mode: ctx.mode.mode,
    highResFrames: ctx.qgs?.highresFrames ?? [],
    stc: ctx.stc && { reducedLen: ctx.stc.reducedLen, forceRemove: ctx.stc.forceRemove },
    visualTokens: ctx.finalVisualLen,
    textTokens,
    totalTokens: ctx.finalVisualLen + textTokens,
    budgetTokens: o.contextTokens - o.reserveTokens,
    visualRows: visual.length / dim,
    keptPerMinute: Array.from(
      { length: Math.ceil(T / 60) },
      (_, m) => kept.filter((k) => Math.floor(k.t / 60) === m).length,
    ),
    ms: Math.round(ms),
  };
}

export function formatDemo(d: ReturnType<typeof runDemo>): string {
  const bar = (n: number, max: number) => '█'.repeat(Math.round((n / Math.max(1, max)) * 30));
  const max = Math.max(...d.keptPerMinute);
  const lines = [
    'lvu demo — embedded default',
    `  ${d.note}`,
    '',
    `  sampled ${d.sampledFrames} frames (1 fps) in ${d.scenes} scenes → kept ${d.keptFrames} after DINO temporal reduction (${(d.keptRatio * 100).toFixed(1)}%)`,
    '  kept frames per minute:',
    ...d.keptPerMinute.map((n, m) => `    minute ${String(m).padStart(3)}  ${bar(n, max).padEnd(30)} ${n}`),
    `  question → mode ${d.mode}${d.stc ? `, STC ${d.stc.reducedLen} tokens after pruning, ${d.stc.forceRemove} cut per chunk` : ''}${d.highResFrames.length ? `, ${d.highResFrames.length} frames at high resolution` : ''}`,
    `  tokens: ${d.visualTokens} visual + ${d.textTokens} text = ${d.totalTokens} ≤ budget ${d.budgetTokens}`,
    `  (${d.ms} ms)`,
  ];
  return lines.join('\n');
}

import { type FloatArray, LvuError } from '@lvu/core';
import { floorDiv, frameBudgetTokens } from './budgets.js';
import type { LongVuOptions } from './longvu-options.js';
import { sumSquares } from './vector-math.js';

/**
 * docs/longvu.md §a, `select_frame`: temporal reduction with DINOv2 features.
 *
 * Each frame's DINO tokens are one flattened vector. In a window of n frames, frame i scores
 * sim_i = mean_j cos(x_i, x_j) over every j in the window, i itself included. Since cos(x_i, x_j) = u_i·u_j with
 * u = x/|x| (no epsilon), sim_i = u_i · (Σ_j u_j) / n: one sum vector per window instead of the n×n Gram matrix
 * (same value, fewer operations). sim[n//2] is then set to 0 (middle frame always kept), and a frame is kept iff
 * sim_i < threshold (strict; NaN, from an all-zero frame, is not kept).
 */

const BLOCK = 4096;

/** Per-frame scores of one window (frames[start..end)), after the middle-frame override. */
export function windowScores(
  frames: readonly FloatArray[],
  start = 0,
  end = frames.length,
  /** Σx² per frame of the window when the caller already has it (the streaming reducer does). */
  sumSq?: ArrayLike<number>,
): Float64Array {
  const n = end - start;
  const scores = new Float64Array(n);
  if (n <= 0) return scores;
  const dim = frames[start]!.length;
  const inv = new Float64Array(n);
  for (let j = 0; j < n; j++) {
    const x = frames[start + j]!;
    if (x.length !== dim) {
      throw new LvuError(
        'SHAPE_MISMATCH',
        `frame ${start + j} has ${x.length} values, frame ${start} has ${dim}`,
        {
          field: `dino[${start + j}]`,
        },
      );
    }
    const ss = sumSq?.[j] ?? sumSquares(x, 0, dim);
    if (!Number.isFinite(ss)) {
      throw new LvuError('NON_FINITE_INPUT', `DINO features of frame ${start + j} contain NaN or Infinity`, {
        field: `dino[${start + j}]`,
      });
    }
    inv[j] = 1 / Math.sqrt(ss); // Infinity for an all-zero frame: its unit vector is NaN, as in the official code
  }
  // Blocked over the vector: the block's sum of unit vectors stays in L1 while every frame's block is read twice
  // (once into the sum, once for its dot product), so each frame streams from memory about once here.
  const dots = new Float64Array(n);
  const sum = new Float64Array(Math.min(BLOCK, dim));
  for (let b0 = 0; b0 < dim; b0 += BLOCK) {
    const len = Math.min(BLOCK, dim - b0);
    sum.fill(0);
    let j = 0;
    for (; j + 3 < n; j += 4) {
      const x0 = frames[start + j]!;
      const x1 = frames[start + j + 1]!;
      const x2 = frames[start + j + 2]!;
      const x3 = frames[start + j + 3]!;
      const s0 = inv[j]!;
      const s1 = inv[j + 1]!;
      const s2 = inv[j + 2]!;
      const s3 = inv[j + 3]!;
      for (let k = 0; k < len; k++) {
        const i = b0 + k;
        sum[k] = sum[k]! + (x0[i]! * s0 + x1[i]! * s1) + (x2[i]! * s2 + x3[i]! * s3);
      }
    }
    for (; j < n; j++) {
      const x = frames[start + j]!;
      const s0 = inv[j]!;
      for (let k = 0; k < len; k++) sum[k] = sum[k]! + x[b0 + k]! * s0;
    }
    let i = 0;
    for (; i + 1 < n; i += 2) {
      const xa = frames[start + i]!;
      const xb = frames[start + i + 1]!;
      let da = 0;
      let db = 0;
      for (let k = 0; k < len; k++) {
        const v = sum[k]!;
        da += xa[b0 + k]! * v;
        db += xb[b0 + k]! * v;
      }
      dots[i] = dots[i]! + da;
      dots[i + 1] = dots[i + 1]! + db;
    }
    if (i < n) {
      const x = frames[start + i]!;
      let d = 0;
      for (let k = 0; k < len; k++) d += x[b0 + k]! * sum[k]!;
      dots[i] = dots[i]! + d;
    }
  }
  for (let i = 0; i < n; i++) scores[i] = (dots[i]! * inv[i]!) / n;
  scores[n >> 1] = 0;
  return scores;
}

export interface TemporalReduction {
  /** Kept frame indices, ascending. */
  kept: number[];
  /** Scores per window (after the middle-frame override). */
  windowScores: Float64Array[];
}

/** Non-overlapping windows from frame 0; the last may be shorter (T < window: one window of T frames). */
export function temporalReduce(
  frames: readonly FloatArray[],
  windowFrames: number,
  threshold: number,
): TemporalReduction {
  const kept: number[] = [];
  const all: Float64Array[] = [];
  for (let start = 0; start < frames.length; start += windowFrames) {
    const end = Math.min(start + windowFrames, frames.length);
    const scores = windowScores(frames, start, end);
    for (let i = 0; i < scores.length; i++) if (scores[i]! < threshold) kept.push(start + i);
    all.push(scores);
  }
  return { kept, windowScores: all };
}

/** Positions kept when more than `cap` frames survive: int((n/cap)*i) for i in 0..cap-1 (§a, "in case of OOM"). */
export function uniformCap(n: number, cap: number): number[] {
  const interval = n / cap;
  const out = new Array<number>(cap);
  for (let i = 0; i < cap; i++) out[i] = Math.trunc(interval * i);
  return out;
}

export interface FrameSelection {
  T: number;
  tokensPerFrameForBudget: number;
  budgetFrames: number;
  dinoApplied: boolean;
  keptAfterDino: number[] | null;
  capApplied: boolean;
  selected: number[];
  windowScores: Float64Array[] | null;
}

/**
 * The whole `select_frame` step: the budget gate (nothing removed when T < max(1, A // tpf)), windowed reduction,
 * then the 400-frame uniform cap (only in the windowed branch, i.e. T ≥ window).
 */
export function selectFrames(
  frames: readonly FloatArray[],
  textLenSelect: number,
  o: LongVuOptions,
): FrameSelection {
  const T = frames.length;
  const tpf = o.highres ? o.lowGridSide * o.lowGridSide : o.highGridSide * o.highGridSide;
  const budgetFrames = Math.max(1, floorDiv(frameBudgetTokens(o, textLenSelect), tpf));
  const base = { T, tokensPerFrameForBudget: tpf, budgetFrames };
  if (T < budgetFrames) {
    const all = Array.from({ length: T }, (_, i) => i);
    return {
      ...base,
      dinoApplied: false,
      keptAfterDino: null,
      capApplied: false,
      selected: all,
      windowScores: null,
    };
  }
  const red = temporalReduce(frames, o.dinoWindowFrames, o.dinoThreshold);
  let selected = red.kept;
  let capApplied = false;
  if (T >= o.dinoWindowFrames && red.kept.length > o.maxFrames) {
    selected = uniformCap(red.kept.length, o.maxFrames).map((p) => red.kept[p]!);
    capApplied = true;
  }
  return {
    ...base,
    dinoApplied: true,
    keptAfterDino: red.kept,
    capApplied,
    selected,
    windowScores: red.windowScores,
  };
}

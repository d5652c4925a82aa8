import { type FloatArray, LvuError } from '@lvu/core';
import { visualBudgetTokens } from './budgets.js';
import type { LongVuOptions } from './longvu-options.js';
import {
  highresByCost,
  highresCount,
  highresPositions,
  highresPriority,
  queryScores,
} from './query-guided-selection.js';
import { type ResolutionMode, resolutionMode } from './resolution-mode.js';
import { type StcChunk, spatialTokenCompression } from './spatial-token-compression.js';
import { copyFrameTokens, type TokenGridLayout, tokenGridLayout } from './token-grid.js';
import { lowResImageSize } from './unpad.js';
import { allFinite, allocLike } from './vector-math.js';

/** One kept frame at query time: its projected grids (LLM width), before unpad and newline tokens. */
export interface ContextFrame {
  /** The frame's identity in the caller's numbering (frame index in compat mode, seq in a stream). */
  id: number;
  /** highGridSide² × dim. */
  hi: FloatArray;
  /** lowGridSide² × dim; when absent, `lowGrid(i)` computes it (only needed in mix mode). */
  lo?: FloatArray;
  /**
   * Not LongVU, for cameras of several resolutions in one context: this frame's size (height, width), so it keeps
   * its own unpad layout (default `frameHW`), and the video it belongs to (a stream id), so STC compares it only
   * with frames of its own video.
   */
  hw?: readonly [number, number];
  group?: string;
}

export interface ComposeInput {
  frames: readonly ContextFrame[];
  dim: number;
  /** The image-newline vector (dim); required when `newlineToken` is on. */
  newline: FloatArray | null;
  /** Frame size (height, width) as passed to `image_sizes` by the official callers. */
  frameHW: readonly [number, number];
  /** Text tokens before the image placeholder. */
  textPreLen: number;
  /** Embeddings of the text after the placeholder (Lq × dim): the query side of the scores. */
  textPost: FloatArray;
  /** len(input_ids) as the frame-count tests see it; default textPreLen + 1 + Lq (no pad token). */
  textLenSelect?: number;
  lowGrid?: (position: number) => FloatArray;
  /** Cached `gridTokenNorms` of a grid, if the caller has them (faster STC, same decisions). */
  norms?: (grid: FloatArray) => Float64Array | undefined;
  /**
   * STC's decisions for the chunk of frame positions [start, end) at resolution `res`, if the caller kept them from
   * an earlier call with the same frames (they depend on nothing else); `compute` makes them.
   */
  stcChunk?: (res: FrameRes, start: number, end: number, compute: () => StcChunk) => StcChunk;
  /**
   * Not LongVU (`recentHighResSeconds`): in mix mode the last `recentHigh` positions take the N_h high-resolution
   * slots first (the most recent first when they are more than N_h), the rest go to the best query scores.
   */
  recentHigh?: number;
}

export type FrameRes = 'H' | 'L';

export interface LayoutEntry {
  frame: number;
  pos: number;
  res: FrameRes;
  h: number;
  w: number;
  kept: 'all' | number[];
  n: number;
}

export interface QuerySelection {
  visualLenLow: number;
  highresNumRaw: number | null;
  highresNum: number;
  mixToken: boolean;
  highresPositions: number[];
  highresFrames: number[];
  simFrame: Float64Array | null;
}

export interface ComposedContext {
  promptLen: number;
  textLenSelect: number;
  mode: ResolutionMode;
  hi: TokenGridLayout;
  lo: TokenGridLayout | null;
  maxVisualLen: number;
  visualLenBefore: number;
  qgs: QuerySelection | null;
  stc: { applied: true; nChunks: number; reducedLen: number; forceRemove: number; minMargin: number } | null;
  frameRes: FrameRes[];
  layout: LayoutEntry[];
  finalVisualLen: number;
  seqLenBeforeTruncation: number;
  finalSeqLen: number;
  textPostTokensKept: number;
  visualStartPosition: number;
  /** Per layout entry: the grid, its token layout and kept token indices (null = all). For `materializeVisual`. */
  sources: { grid: FloatArray; layout: TokenGridLayout; tokens: Int32Array | null }[];
}

function checkInput(input: ComposeInput, o: LongVuOptions): void {
  const { dim, frames } = input;
  if (!Number.isInteger(dim) || dim <= 0) {
    throw new LvuError('INVALID_ARGUMENT', `dim must be a positive integer, got ${dim}`, { field: 'dim' });
  }
  const hiLen = o.highGridSide * o.highGridSide * dim;
  frames.forEach((f, i) => {
    if (f.hi.length !== hiLen) {
      throw new LvuError(
        'SHAPE_MISMATCH',
        `frame ${i} high grid has ${f.hi.length} values, expected ${hiLen}`,
        {
          field: `frames[${i}].hi`,
        },
      );
    }
  });
  if (input.textPost.length % dim !== 0) {
    throw new LvuError(
      'SHAPE_MISMATCH',
      `textPost length ${input.textPost.length} is not a multiple of ${dim}`,
      {
        field: 'textPost',
      },
    );
  }
  if (o.newlineToken && (input.newline === null || input.newline.length !== dim)) {
    throw new LvuError('SHAPE_MISMATCH', `newline must be a ${dim}-vector when newlineToken is on`, {
      field: 'newline',
    });
  }
  for (const [name, a] of [
    ['textPost', input.textPost],
    ['newline', input.newline],
  ] as const) {
    if (a?.some((v) => !Number.isFinite(v))) {
      throw new LvuError('NON_FINITE_INPUT', `${name} contains NaN or Infinity`, { field: name });
    }
  }
  for (const [field, hw] of [
    ['frameHW', input.frameHW],
    ...frames.flatMap((f, i) => (f.hw ? [[`frames[${i}].hw`, f.hw] as const] : [])),
  ] as const) {
    const [h, w] = hw;
    if (!(h > 0 && w > 0)) {
      throw new LvuError('INVALID_ARGUMENT', `${field} must be two positive sizes, got ${h}x${w}`, { field });
    }
  }
  if (!Number.isInteger(input.textPreLen) || input.textPreLen < 0) {
    throw new LvuError('INVALID_ARGUMENT', 'textPreLen must be a non-negative integer', {
      field: 'textPreLen',
    });
  }
}

/**
 * The read path of docs/longvu.md §b/§c over T' kept frames: resolution mode, query-guided high-resolution frames
 * (N_h, scores, top-k), or spatial token compression, then the layout. Returns the plan; `materializeVisual` builds
 * the visual embedding matrix from it. The result never holds more than max(0, B) visual tokens.
 */
export function composeContext(input: ComposeInput, o: LongVuOptions): ComposedContext {
  checkInput(input, o);
  const { frames, dim, newline } = input;
  const nl = o.newlineToken ? newline : null;
  const Tn = frames.length;
  const lq = input.textPost.length / dim;
  const promptLen = input.textPreLen + 1 + lq;
  const textLenSelect = input.textLenSelect ?? promptLen;
  const mode = resolutionMode(Tn, textLenSelect, o);
  // each frame's layouts, one per frame size (frames of one size share them: LongVU's single layout)
  const sizes = new Map<string, { hi: TokenGridLayout; lo: TokenGridLayout }>();
  const layoutsOf = (hw: readonly [number, number]) => {
    const key = `${hw[0]}x${hw[1]}`;
    let l = sizes.get(key);
    if (!l) {
      l = {
        hi: tokenGridLayout(o.highGridSide, hw, o.unpad, o.newlineToken),
        lo: tokenGridLayout(
          o.lowGridSide,
          lowResImageSize(hw, o.highGridSide, o.lowGridSide),
          o.unpad,
          o.newlineToken,
        ),
      };
      sizes.set(key, l);
    }
    return l;
  };
  const own = frames.map((f) => layoutsOf(f.hw ?? input.frameHW));
  const mixed = sizes.size > 1;
  const hi = layoutsOf(input.frameHW).hi;

  let lo: TokenGridLayout | null = null;
  let lowGrids: FloatArray[] = [];
  if (mode.mode === 'mix') {
    lo = layoutsOf(input.frameHW).lo;
    const loLen = o.lowGridSide * o.lowGridSide * dim;
    lowGrids = frames.map((f, i) => {
      const g = f.lo ?? input.lowGrid?.(i);
      if (g === undefined) {
        throw new LvuError(
          'INVALID_ARGUMENT',
          `frame ${i} has no low-resolution grid and no lowGrid() was given`,
          {
            field: `frames[${i}].lo`,
          },
        );
      }
      if (g.length !== loLen) {
        throw new LvuError(
          'SHAPE_MISMATCH',
          `frame ${i} low grid has ${g.length} values, expected ${loLen}`,
          {
            field: `frames[${i}].lo`,
          },
        );
      }
      return g;
    });
  }

  const baseRes: FrameRes = lo ? 'L' : 'H';
  const baseOf = (i: number) => (lo ? own[i]!.lo : own[i]!.hi);
  const maxVisualLen = visualBudgetTokens(o, input.textPreLen + lq);
  let visualLenBefore = 0;
  for (let i = 0; i < Tn; i++) visualLenBefore += baseOf(i).perFrame;
  const frameRes: FrameRes[] = new Array(Tn).fill(baseRes);

  let qgs: QuerySelection | null = null;
  if (lo && o.highGridSide > o.lowGridSide && o.highres) {
    const loLayouts = mixed ? own.map((l) => l.lo) : lo;
    let positions: number[] = [];
    let raw: number | null;
    let sim: Float64Array | null = null;
    if (!mixed) {
      const count = highresCount(maxVisualLen, Tn, hi.perFrame, lo.perFrame);
      raw = count.raw;
      if (count.count >= 1) {
        sim = queryScores(lowGrids, loLayouts, nl, input.textPost, dim);
        positions = highresPositions(sim, count.count, input.recentHigh ?? 0);
      }
    } else {
      // frames of several sizes: scored on their image cells (comparable whatever their shape), each upgrade
      // costing its own layouts' difference (highresByCost)
      sim = queryScores(lowGrids, loLayouts, nl, input.textPost, dim, 'cells');
      const r = highresByCost(
        maxVisualLen,
        own.map((l) => l.lo.perFrame),
        own.map((l) => l.hi.perFrame),
        highresPriority(sim, input.recentHigh ?? 0),
      );
      raw = r.raw;
      positions = r.positions;
    }
    for (const p of positions) frameRes[p] = 'H';
    qgs = {
      visualLenLow: visualLenBefore,
      highresNumRaw: raw,
      highresNum: positions.length,
      mixToken: positions.length > 0,
      highresPositions: positions,
      highresFrames: positions.map((p) => frames[p]!.id),
      simFrame: positions.length > 0 ? sim : null,
    };
  }

  let stc: ComposedContext['stc'] = null;
  let keptTokens: (Int32Array | null)[] = new Array(Tn).fill(null);
  if (maxVisualLen < visualLenBefore && !qgs?.mixToken && Tn > 0) {
    const grids = lo ? lowGrids : frames.map((f) => f.hi);
    const groups = frames.some((f) => f.group !== undefined) ? frames.map((f) => f.group) : undefined;
    const r = spatialTokenCompression(
      grids,
      mixed ? frames.map((_, i) => baseOf(i)) : baseOf(0),
      nl,
      dim,
      maxVisualLen,
      o.stcThreshold,
      o.stcChunkFrames,
      o.cosineEps,
      input.norms,
      input.stcChunk ? (s, e, compute) => input.stcChunk!(baseRes, s, e, compute) : undefined,
      groups,
    );
    stc = {
      applied: true,
      nChunks: r.nChunks,
      reducedLen: r.reducedLen,
      forceRemove: r.forceRemove,
      minMargin: r.minMargin,
    };
    keptTokens = r.kept;
  }

  const layout: LayoutEntry[] = [];
  const sources: ComposedContext['sources'] = [];
  let finalVisualLen = 0;
  for (let i = 0; i < Tn; i++) {
    const res = frameRes[i]!;
    const g = res === 'H' ? own[i]!.hi : own[i]!.lo;
    const tokens = keptTokens[i]!;
    const n = tokens === null ? g.perFrame : tokens.length;
    if (n === 0) continue;
    const all = n === g.perFrame;
    layout.push({
      frame: frames[i]!.id,
      pos: i,
      res,
      h: g.h,
      w: g.w,
      kept: all ? 'all' : Array.from(tokens!),
      n,
    });
    sources.push({
      grid: res === 'H' ? frames[i]!.hi : lowGrids[i]!,
      layout: g,
      tokens: all ? null : tokens,
    });
    finalVisualLen += n;
  }
  const total = input.textPreLen + finalVisualLen + lq;
  const room = o.contextTokens - input.textPreLen - finalVisualLen;
  return {
    promptLen,
    textLenSelect,
    mode,
    hi,
    lo,
    maxVisualLen,
    visualLenBefore,
    qgs,
    stc,
    frameRes,
    layout,
    finalVisualLen,
    seqLenBeforeTruncation: total,
    finalSeqLen: Math.min(total, o.contextTokens),
    textPostTokensKept: Math.max(0, Math.min(lq, room)),
    visualStartPosition: input.textPreLen,
    sources,
  };
}

/** Throws NON_FINITE_INPUT unless both grids of a frame are free of NaN and ±Infinity (check once, at ingest). */
export function assertFiniteFrame(frame: ContextFrame, field = `frame ${frame.id}`): void {
  for (const [k, g] of [
    ['hi', frame.hi],
    ['lo', frame.lo],
  ] as const) {
    if (g && !allFinite(g, g.length)) {
      throw new LvuError('NON_FINITE_INPUT', `${field}: ${k} grid contains NaN or Infinity`, {
        field: `${field}.${k}`,
      });
    }
  }
}

/**
 * The visual embedding matrix (finalVisualLen × dim) of a composed context, in layout order, written into `out`
 * (default: the grids' float type). Throws NON_FINITE_INPUT if any copied token holds NaN or Infinity, unless
 * `checkFinite` is false because the caller validated every frame when it was stored (`assertFiniteFrame`).
 */
export function materializeVisual<T extends FloatArray>(
  ctx: ComposedContext,
  dim: number,
  newline: FloatArray | null,
  out?: T,
  opts: { checkFinite?: boolean } = {},
): T {
  const like = ctx.sources[0]?.grid ?? new Float32Array(0);
  const dst = (out ?? allocLike(like, ctx.finalVisualLen * dim)) as T;
  if (dst.length < ctx.finalVisualLen * dim) {
    throw new LvuError(
      'SHAPE_MISMATCH',
      `output has ${dst.length} values, needs ${ctx.finalVisualLen * dim}`,
      {
        field: 'out',
      },
    );
  }
  let row = 0;
  for (const s of ctx.sources) row += copyFrameTokens(s.grid, s.layout, newline, dim, s.tokens, dst, row);
  if (opts.checkFinite !== false && !allFinite(dst, row * dim)) {
    throw new LvuError('NON_FINITE_INPUT', 'visual tokens contain NaN or Infinity', { field: 'frames' });
  }
  return dst;
}

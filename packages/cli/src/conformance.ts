import { readFile } from 'node:fs/promises';
import { type LongVuResult, longVuInference, type TokenGridLayout } from '@lvu/compress';
import { LvuError } from '@lvu/core';
import { type GoldenCase, inputsFromCase, optionsFromCaseConfig } from './golden-case.js';

/** Python's float(f"{x:.12g}"), the rounding the reference uses for its float outputs. */
const q = (x: number) => Number(x.toPrecision(12));

function gridJson(g: TokenGridLayout) {
  return { bounds: [...g.bounds], h: g.h, w: g.w, per_frame: g.perFrame };
}

function checksums(visual: Float64Array, rows: number, dim: number) {
  if (rows === 0) return { sum: 0, sumsq: 0, fingerprint: 0 };
  let sum = 0;
  let sumsq = 0;
  let fp = 0;
  for (let r = 0; r < rows; r++) {
    let proj = 0;
    for (let d = 0; d < dim; d++) {
      const v = visual[r * dim + d]!;
      sum += v;
      sumsq += v * v;
      proj += (v * (d + 1)) / dim;
    }
    fp += (r + 1) * proj;
  }
  return { sum: q(sum), sumsq: q(sumsq), fingerprint: q(fp) };
}

/** The conformance contract: keys and structure of the reference's `expected` object. */
export function conformanceJson(
  r: LongVuResult,
  dim: number,
  opts: { tokens?: boolean } = {},
): Record<string, unknown> {
  const { select: s, context: c } = r;
  return {
    prompt_len: c.promptLen,
    text_len_select: c.textLenSelect,
    select: {
      tokens_per_frame_for_budget: s.tokensPerFrameForBudget,
      budget_frames: s.budgetFrames,
      dino_applied: s.dinoApplied,
      kept_after_dino: s.keptAfterDino,
      cap_applied: s.capApplied,
      selected_frames: s.selected,
      window_scores: s.windowScores?.map((w) => Array.from(w, q)) ?? null,
    },
    mode: {
      mode: c.mode.mode,
      max_num_frames: c.mode.maxNumFrames,
      max_num_frames_low: c.mode.maxNumFramesLow,
    },
    hi: gridJson(c.hi),
    lo: c.lo ? { image_size_for_unpad: [...c.lo.imageSize], ...gridJson(c.lo) } : null,
    max_visual_len: c.maxVisualLen,
    visual_len_before: c.visualLenBefore,
    qgs: c.qgs && {
      visual_len_low: c.qgs.visualLenLow,
      highres_num_raw: c.qgs.highresNumRaw,
      highres_num: c.qgs.highresNum,
      mix_token: c.qgs.mixToken,
      highres_positions: c.qgs.highresPositions,
      highres_frames: c.qgs.highresFrames,
      sim_frame: c.qgs.simFrame ? Array.from(c.qgs.simFrame, q) : null,
    },
    stc: c.stc && {
      applied: true,
      n_chunks: c.stc.nChunks,
      reduced_len: c.stc.reducedLen,
      force_remove: c.stc.forceRemove,
    },
    layout: c.layout,
    frame_res: c.frameRes,
    final_visual_len: c.finalVisualLen,
    seq_len_before_truncation: c.seqLenBeforeTruncation,
    final_seq_len: c.finalSeqLen,
    text_post_tokens_kept: c.textPostTokensKept,
    visual_start_position: c.visualStartPosition,
    visual_checksums: checksums(r.visual, c.finalVisualLen, dim),
    margins: { stc_min_abs_margin: c.stc ? q(c.stc.minMargin) : null },
    ...(opts.tokens ? { visual_tokens: Array.from(r.visual, q) } : {}),
  };
}

/** Runs a golden case; `tokens` adds every visual token value (`visual_tokens`, row-major). */
export function runConformanceCase(gc: GoldenCase, opts: { tokens?: boolean } = {}): Record<string, unknown> {
  const o = optionsFromCaseConfig(gc.config ?? {});
  const input = inputsFromCase(gc, o);
  return conformanceJson(longVuInference(input, o), input.dim, opts);
}

export async function readCase(path: string): Promise<GoldenCase> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (cause) {
    throw new LvuError('NOT_FOUND', `cannot read ${path}`, { field: 'CASE', cause });
  }
  try {
    return JSON.parse(text) as GoldenCase;
  } catch (cause) {
    throw new LvuError('INVALID_ARGUMENT', `${path} is not JSON`, { field: 'CASE', cause });
  }
}

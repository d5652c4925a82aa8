import { type FloatArray, LvuError } from '@lvu/core';
import { bilinearResize } from './bilinear-resize.js';
import { type ComposedContext, composeContext, materializeVisual } from './compose-context.js';
import type { LongVuOptions } from './longvu-options.js';
import type { Projector } from './mlp-projector.js';
import { type FrameSelection, selectFrames } from './temporal-reduce.js';

export interface LongVuInput {
  /** Per sampled frame, its DINO tokens flattened (P × Cd). */
  dino: readonly FloatArray[];
  /** Per sampled frame, the SVA output on the high grid (S × S × svaDim), before the projector. */
  sva: readonly FloatArray[];
  svaDim: number;
  projector: Projector;
  /** LLM width (the projector's output). */
  dim: number;
  newline: FloatArray | null;
  frameHW: readonly [number, number];
  textPreLen: number;
  textPost: FloatArray;
  textLenSelect?: number;
}

export interface LongVuResult {
  select: FrameSelection;
  context: ComposedContext;
  /** finalVisualLen × dim, float64. */
  visual: Float64Array;
}

/**
 * The offline LongVU inference path for one video and one question, in the official order (docs/longvu.md §0):
 * temporal reduction on DINO features → projector on the kept frames' SVA grids (12×12), and in mix mode
 * bilinear 12→8 pooling **before** the projector → query-guided selection or STC → layout.
 */
export function longVuInference(input: LongVuInput, o: LongVuOptions): LongVuResult {
  const { sva, svaDim, projector, dim } = input;
  if (input.dino.length !== sva.length) {
    throw new LvuError('SHAPE_MISMATCH', `${input.dino.length} DINO frames but ${sva.length} SVA frames`, {
      field: 'sva',
    });
  }
  const S = o.highGridSide;
  const s = o.lowGridSide;
  sva.forEach((g, i) => {
    if (g.length !== S * S * svaDim) {
      throw new LvuError(
        'SHAPE_MISMATCH',
        `SVA frame ${i} has ${g.length} values, expected ${S * S * svaDim}`,
        {
          field: `sva[${i}]`,
        },
      );
    }
  });
  const lq = input.textPost.length / dim;
  const textLenSelect = input.textLenSelect ?? input.textPreLen + 1 + lq;
  const select = selectFrames(input.dino, textLenSelect, o);
  const project = (x: FloatArray, rows: number): FloatArray => {
    const y = projector(x, rows);
    if (y.length !== rows * dim) {
      throw new LvuError('SHAPE_MISMATCH', `projector returned ${y.length} values, expected ${rows * dim}`, {
        field: 'projector',
      });
    }
    return y;
  };
  const frames = select.selected.map((f) => ({ id: f, hi: project(sva[f]!, S * S) }));
  const context = composeContext(
    {
      frames,
      dim,
      newline: input.newline,
      frameHW: input.frameHW,
      textPreLen: input.textPreLen,
      textPost: input.textPost,
      textLenSelect,
      lowGrid: (p) => project(bilinearResize(sva[select.selected[p]!]!, S, S, svaDim, s, s), s * s),
    },
    o,
  );
  const visual = materializeVisual(
    context,
    dim,
    input.newline,
    new Float64Array(context.finalVisualLen * dim),
  );
  return { select, context, visual };
}

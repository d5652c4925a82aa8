import { type LongVuInput, type LongVuOptions, longVuOptions, mlpProjector } from '@lvu/compress';
import { LvuError } from '@lvu/core';

/** A conformance case as written by the NumPy reference (tests/golden/README.md). */
export interface GoldenCase {
  name?: string;
  config: Record<string, number | boolean>;
  inputs: {
    int_scale: number;
    frame_hw_passed_as_image_size: [number, number];
    text_pre_len: number;
    dino_shape: [number, number, number];
    dino: number[];
    sva_shape: [number, number, number, number];
    sva: number[];
    W1: number[][];
    b1: number[];
    W2: number[][];
    b2: number[];
    newline: number[];
    text_post_shape: [number, number];
    text_post: number[];
  };
  expected?: Record<string, unknown>;
}

function need<T>(value: T | undefined, field: string): T {
  if (value === undefined || value === null) {
    throw new LvuError('INVALID_ARGUMENT', `case is missing ${field}`, { field });
  }
  return value;
}

/** Maps the reference's LongVUConfig names onto ours. */
export function optionsFromCaseConfig(c: GoldenCase['config']): LongVuOptions {
  const num = (k: string) => (c[k] === undefined ? undefined : Number(c[k]));
  const side = num('image_token_len');
  const hi = side === undefined ? undefined : Math.round(Math.sqrt(side));
  if (side !== undefined && hi! * hi! !== side) {
    throw new LvuError('INVALID_CONFIG', `image_token_len ${side} is not a square`, {
      field: 'image_token_len',
    });
  }
  const o: Partial<LongVuOptions> = {
    contextTokens: num('tokenizer_model_max_length'),
    reserveTokens: num('inference_max_length'),
    highGridSide: hi,
    lowGridSide: num('lowres_token'),
    highres: c.highres === undefined ? undefined : Boolean(c.highres),
    dinoWindowFrames: num('dino_window'),
    dinoThreshold: num('dino_threshold'),
    maxFrames: num('max_frames_cap'),
    stcThreshold: num('drop_threshold'),
    stcChunkFrames: num('stc_chunk'),
    cosineEps: num('cos_eps'),
  };
  for (const k of Object.keys(o) as (keyof LongVuOptions)[]) if (o[k] === undefined) delete o[k];
  return longVuOptions(o);
}

/** Builds the float inputs (int / int_scale, exact in binary floating point) of a golden case. */
export function inputsFromCase(gc: GoldenCase, o: LongVuOptions): LongVuInput {
  const inp = need(gc.inputs, 'inputs');
  const scale = need(inp.int_scale, 'inputs.int_scale');
  const f64 = (a: number[], field: string) => {
    const out = Float64Array.from(need(a, field), (v) => v / scale);
    if (out.some((v) => !Number.isFinite(v))) {
      throw new LvuError('NON_FINITE_INPUT', `${field} holds a non-number`, { field });
    }
    return out;
  };
  const [T, P, Cd] = need(inp.dino_shape, 'inputs.dino_shape');
  const dino = f64(inp.dino, 'inputs.dino');
  if (dino.length !== T * P * Cd) {
    throw new LvuError('SHAPE_MISMATCH', `dino has ${dino.length} values, shape says ${T * P * Cd}`, {
      field: 'inputs.dino',
    });
  }
  const [T2, S1, S2, C] = need(inp.sva_shape, 'inputs.sva_shape');
  const sva = f64(inp.sva, 'inputs.sva');
  if (T2 !== T || S1 !== o.highGridSide || S2 !== o.highGridSide || sva.length !== T2 * S1 * S2 * C) {
    throw new LvuError(
      'SHAPE_MISMATCH',
      `sva shape ${inp.sva_shape} does not fit T=${T}, grid ${o.highGridSide}`,
      {
        field: 'inputs.sva',
      },
    );
  }
  const D = need(inp.b1, 'inputs.b1').length;
  const per = P * Cd;
  const grid = S1 * S2 * C;
  return {
    dino: Array.from({ length: T }, (_, t) => dino.subarray(t * per, (t + 1) * per)),
    sva: Array.from({ length: T }, (_, t) => sva.subarray(t * grid, (t + 1) * grid)),
    svaDim: C,
    projector: mlpProjector({
      w1: f64(need(inp.W1, 'inputs.W1').flat(), 'inputs.W1'),
      b1: f64(inp.b1, 'inputs.b1'),
      w2: f64(need(inp.W2, 'inputs.W2').flat(), 'inputs.W2'),
      b2: f64(need(inp.b2, 'inputs.b2'), 'inputs.b2'),
      inDim: C,
      outDim: D,
    }),
    dim: D,
    newline: f64(need(inp.newline, 'inputs.newline'), 'inputs.newline'),
    frameHW: need(inp.frame_hw_passed_as_image_size, 'inputs.frame_hw_passed_as_image_size'),
    textPreLen: need(inp.text_pre_len, 'inputs.text_pre_len'),
    textPost: f64(inp.text_post, 'inputs.text_post'),
  };
}

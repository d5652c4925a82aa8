// LongVU's compression math on typed arrays: pure functions, no I/O. Section references are to docs/longvu.md.
export { type BilinearTaps, bilinearResize, bilinearTaps } from './bilinear-resize.js';
export { floorDiv, frameBudgetTokens, visualBudgetTokens } from './budgets.js';
export {
  assertFiniteFrame,
  type ComposedContext,
  type ComposeInput,
  type ContextFrame,
  composeContext,
  type FrameRes,
  type LayoutEntry,
  materializeVisual,
  type QuerySelection,
} from './compose-context.js';
export { erf, gelu } from './erf.js';
export { type LongVuInput, type LongVuResult, longVuInference } from './longvu-inference.js';
export {
  LONGVU_PRESETS,
  type LongVuOptions,
  type LongVuPreset,
  longVuOptions,
  longVuOptionsSchema,
} from './longvu-options.js';
export { type MlpWeights, mlpProjector, type Projector } from './mlp-projector.js';
export { highresCount, queryScores, topKAscending } from './query-guided-selection.js';
export { type ResolutionMode, type ResolutionModeName, resolutionMode } from './resolution-mode.js';
export {
  gridTokenNorms,
  type StcChunk,
  type StcResult,
  spatialTokenCompression,
  stcChunk,
  stcTruncate,
} from './spatial-token-compression.js';
export { type ClosedWindow, StreamingTemporalReducer } from './streaming-temporal-reducer.js';
export {
  type FrameSelection,
  selectFrames,
  type TemporalReduction,
  temporalReduce,
  uniformCap,
  windowScores,
} from './temporal-reduce.js';
export { copyFrameTokens, type TokenGridLayout, tokenGridLayout } from './token-grid.js';
export { type GridBounds, lowResImageSize, svaKeyMask, type UnpadMode, unpadBounds } from './unpad.js';
export { allFinite, allocLike, dot, sum, sumSquares } from './vector-math.js';

import './polyfill.js';

export { ffmpegSource, ffmpegStreamOptionsSchema } from './ffmpeg-source.js';
export {
  displayRotation,
  MEAN_COLOURS,
  padInto,
  type ResizeMode,
  type ResizePlan,
  type Rotation,
  resizePlan,
  rotateRgb,
} from './preprocess.js';
export { PtsSampler, type PtsSamplerOptions } from './pts-sampler.js';
export { type RecordOptions, type RecordResult, record } from './record.js';
export { type ParsedSource, parseSource, type SourceKind } from './source-url.js';
export { type SourceStats, truncatedError, VideoSource } from './video-source.js';
export {
  type VideoSourceInput,
  type VideoSourceOptions,
  videoSourceOptionsSchema,
} from './video-source-options.js';
export type { StreamInfo } from './worker-protocol.js';

export { type ChatPrompt, ChatTokenizer } from './chat-tokenizer.js';
export { type KServeOptions, KServePool } from './kserve-pool.js';
export { type GeneratedToken, type GenerateOptions, generate } from './llm-generator.js';
export { LongVuModels, type LongVuModelsOptions } from './longvu-models.js';
export { microBatcher } from './micro-batcher.js';
export {
  type LoadedManifest,
  loadManifest,
  MODEL_ROLES,
  type ModelManifest,
  type ModelRole,
  type ModelSpec,
  modelManifestSchema,
  PRECISIONS,
  type Precision,
  resolveModelsDir,
  starterDir,
  type TensorSpec,
} from './model-manifest.js';
export { type DetectorManifest, decodeDetections, OBJECT_STRIDE, ObjectDetector } from './object-detector.js';
export { PrefixCache } from './prefix-cache.js';
export { type InferencePool, SessionPool, type SessionPoolOptions } from './session-pool.js';
export type { TensorType, ValueInfo, WireTensor } from './session-protocol.js';
export {
  type ClassifiedFrame,
  isStarterDir,
  meanNormalised,
  type StarterManifest,
  StarterModels,
} from './starter-models.js';
export { WordPieceTokenizer } from './wordpiece-tokenizer.js';

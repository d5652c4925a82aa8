export {
  downscaleRgb,
  type FrameEncoder,
  type FrameFeatures,
  frameImage,
  keptRow,
  rgbToJpeg,
  type TextEncoder,
  THUMB_SIDE,
  thumbnail,
} from '@lvu/operators';
export {
  answerQuestion,
  type CrossStreamInput,
  type EvidenceFrame,
  type QueryResult,
  type QuestionInput,
  validateQuestion,
} from './answer-question.js';
export { BUILTIN_FEATURES, BuiltinFrameEncoder, BuiltinTextEncoder } from './builtin-encoder.js';
export { Checkpointer } from './checkpointer.js';
export { ContextStore, type RetainedFrame, type StoreStats, type TimelineEntry } from './context-store.js';
export { type DurabilityWarning, DurableMemory, lockStateDir, SEQ_LEASE } from './durable-memory.js';
export {
  Engine,
  type RgbImage,
  type SearchRange,
  type SearchResult,
  type StreamSpec,
  type StreamStatus,
} from './engine.js';
export {
  builtinPlugins,
  type EngineConfig,
  type EnginePlugins,
  engineConfigSchema,
} from './engine-config.js';
export {
  durationMs,
  durationSchema,
  type QueryLimits,
  queryLimitsSchema,
  type RetentionInput,
  type RetentionOptions,
  retentionOptionsSchema,
  retentionSchema,
  storeRetentionSchema,
} from './engine-options.js';
export { continueAfter, type LastFrame } from './frame-continuity.js';
export {
  IMAGE_FAMILIES,
  type ImageTokenCost,
  imageTokens,
  jpegSize,
  smartResize,
} from './image-token-cost.js';
export {
  type AnswerOptions,
  type AnswerRequest,
  type BackendUsage,
  type LlmBackend,
  NoneBackend,
  OnnxBackend,
} from './llm-backend.js';
export { type BackendContext, type BackendFactory, llmBackends } from './llm-backends.js';
export type { ModelKit, ModelKitContext, OpenedModels } from './model-kit.js';
export { modelKits, STARTER_DINO_THRESHOLD } from './model-kits.js';
export {
  askedTime,
  type CountedFrame,
  describeObjects,
  namedObjects,
  type ObjectEvidence,
  objectCounts,
  objectEvidence,
  type PresenceRange,
} from './object-evidence.js';
export { OnnxFrameEncoder, OnnxTextEncoder } from './onnx-encoder.js';
export { openModels } from './open-models.js';
export {
  type ImagePlan,
  OpenAiBackend,
  type OpenAiInput,
  type OpenAiOptions,
  openAiOptionsSchema,
  openAiSides,
} from './openai-backend.js';
export {
  PromptEmbedsBackend,
  type PromptEmbedsInput,
  type PromptEmbedsOptions,
  promptEmbedsOptionsSchema,
} from './prompt-embeds-backend.js';
export { type RetentionCandidate, type RetentionPolicy, retentionPolicies } from './retention-policies.js';
export { type ServerTarget, serverError, streamCompletion } from './served-llm.js';
export { DirSnapshotStore, makeDir, writeFileDurably } from './snapshot-store.js';
export { SpillLog, type SpillOptions, type SpillSummary } from './spill-log.js';
export {
  type StandingAnswer,
  type StandingQuestion,
  type StandingQuestionInput,
  StandingQuestions,
  standingQuestionSchema,
} from './standing-questions.js';
export {
  contentSimilarity,
  EvidenceBackend,
  evidenceRanges,
  STARTER_SCENE_THRESHOLD,
  StarterFrameEncoder,
  StarterTextEncoder,
} from './starter-encoder.js';
export { StcCache } from './stc-cache.js';
export { type StreamCounters, StreamPipeline, type StreamState } from './stream-pipeline.js';
export { cachedLowMean, cachedNorms } from './token-caches.js';
export { toBfloat16, torchSaveTensor, type WireDtype } from './torch-tensor-file.js';

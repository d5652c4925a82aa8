export {
  answerQuestion,
  type EvidenceFrame,
  type QueryResult,
  type QuestionInput,
  validateQuestion,
} from './answer-question.js';
export { BUILTIN_FEATURES, BuiltinFrameEncoder, BuiltinTextEncoder } from './builtin-encoder.js';
export { ContextStore, type RetainedFrame, type StoreStats, type TimelineEntry } from './context-store.js';
export {
  Engine,
  type EngineConfig,
  STARTER_DINO_THRESHOLD,
  type StreamSpec,
  type StreamStatus,
} from './engine.js';
export {
  type QueryLimits,
  queryLimitsSchema,
  type RetentionInput,
  type RetentionOptions,
  retentionOptionsSchema,
} from './engine-options.js';
export type { FrameEncoder, FrameFeatures, TextEncoder } from './frame-encoder.js';
export { createHttpServer, type HttpServerOptions } from './http-server.js';
export { downscaleRgb, rgbToJpeg } from './jpeg-images.js';
export {
  EPOCH_HEADER,
  FEATURE_WINDOW_TYPE,
  KafkaWorker,
  type KafkaWorkerOptions,
  type KafkaWorkerStats,
  SESSION_END_HEADER,
} from './kafka-worker.js';
export { type AnswerRequest, type LlmBackend, NoneBackend, OnnxBackend } from './llm-backend.js';
export { OnnxFrameEncoder, OnnxTextEncoder } from './onnx-encoder.js';
export {
  OpenAiBackend,
  type OpenAiInput,
  type OpenAiOptions,
  openAiOptionsSchema,
} from './openai-backend.js';
export { openApiDocument } from './openapi-document.js';
export {
  loadPipelineConfig,
  type PipelineConfig,
  pipelineConfigSchema,
  substituteEnv,
} from './pipeline-config.js';
export { PrometheusMetrics } from './prometheus-metrics.js';
export { DirSnapshotStore } from './snapshot-store.js';
export { SpillLog, type SpillOptions } from './spill-log.js';
export {
  type StandingAnswer,
  type StandingQuestion,
  StandingQuestions,
  standingQuestionSchema,
} from './standing-questions.js';
export {
  EvidenceBackend,
  evidenceRanges,
  StarterFrameEncoder,
  StarterTextEncoder,
} from './starter-encoder.js';
export {
  type StreamCounters,
  StreamPipeline,
  type StreamState,
  THUMB_SIDE,
  thumbnail,
} from './stream-pipeline.js';
export { type StreamSpecConfig, streamSpecSchema, toStreamSpec } from './stream-spec.js';

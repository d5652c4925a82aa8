export { createHttpServer, type HttpServerOptions } from './http-server.js';
export { openApiDocument } from './openapi-document.js';
export {
  loadPipelineConfig,
  type PipelineConfig,
  pipelineConfigSchema,
  substituteEnv,
} from './pipeline-config.js';
export { PrometheusMetrics } from './prometheus-metrics.js';
export { type StreamSpecConfig, streamSpecSchema, toStreamSpec } from './stream-spec.js';

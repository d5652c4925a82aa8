export { Admission } from './admission.js';
export { BoundedQueue } from './bounded-queue.js';
export { type ConfigSchema, defineSchema, issueField, overridesOf, z } from './define-schema.js';
export { EventBus, type LvuEvent, type LvuEventMap, type LvuEventName } from './event-bus.js';
export { formatClock } from './format-clock.js';
export { ERROR_CODES, LvuError, type LvuErrorCode, type LvuErrorOptions } from './lvu-error.js';
export {
  checked,
  DEFAULT_MAX_QUESTION_CHARS,
  invalidArgument,
  QUESTION_PATTERN,
  questionSchema,
  streamIdSchema,
  timeRangeShape,
} from './question.js';
export { Registry } from './registry.js';
export {
  backoffDelayMs,
  DEFAULT_RETRY_POLICY,
  isRetriable,
  type RetryHooks,
  type RetryPolicy,
  retry,
} from './retry.js';
export { seededRandom } from './seeded-random.js';
export {
  type FrameSource,
  type SourceContext,
  type SourceFactory,
  SourceRegistry,
  sourceScheme,
} from './source-factory.js';
export {
  admitScheme,
  policyScheme,
  redactSource,
  SAFE_INPUT_OPTIONS,
  SAFE_LAVFI_FILTERS,
  type SourcePolicy,
  sourceHost,
  sourcePolicySchema,
  sourceRefused,
} from './source-policy.js';
export { type SseEvent, sseEvents } from './sse-events.js';
export { isStreamId, STREAM_ID_PATTERN } from './stream-id.js';
export type { FloatArray, MetricFamily, SampledFrame, SnapshotStore } from './types.js';
export { workerPath } from './worker-path.js';

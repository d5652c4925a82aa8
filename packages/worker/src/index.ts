export { EdgePublisher } from './edge-publisher.js';
export { type EdgeDecision, EdgeSessions } from './edge-sessions.js';
export { EdgeSpool, type EdgeSpoolOptions } from './edge-spool.js';
export { KafkaCounters, type KafkaStreamCounters, type SkipReason } from './kafka-counters.js';
export { KafkaWorker } from './kafka-worker.js';
export type { KafkaWorkerOptions, KafkaWorkerStats } from './kafka-worker-options.js';
export { MemoryTransport } from './memory-transport.js';
export {
  decodeMessage,
  EPOCH_HEADER,
  FEATURE_WINDOW_TYPE,
  frameMessage,
  SESSION_END_HEADER,
  sessionEndMessage,
  type WireMessage,
  windowMessage,
} from './wire-format.js';

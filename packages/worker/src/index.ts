export { type EdgeDecision, EdgeSessions } from './edge-sessions.js';
export {
  EPOCH_HEADER,
  FEATURE_WINDOW_TYPE,
  KafkaWorker,
  type KafkaWorkerOptions,
  type KafkaWorkerStats,
  SESSION_END_HEADER,
} from './kafka-worker.js';

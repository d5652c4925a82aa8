export { decodeFrame, encodeFrame } from './frame-codec.js';
export { KafkaSnapshotStore, type KafkaSnapshotStoreOptions } from './kafka-snapshot-store.js';
export type {
  ConsumerHandlers,
  IncomingMessage,
  KafkaTransport,
  OutgoingMessage,
  TransportConsumer,
  TransportProducer,
} from './kafka-transport.js';
export { parseKafkaUrl } from './kafka-url.js';
export { KafkajsTransport } from './kafkajs-transport.js';

export { decodeFrame, encodeFrame } from './frame-codec.js';
export type {
  ConsumerHandlers,
  IncomingMessage,
  KafkaTransport,
  OutgoingMessage,
  TransportConsumer,
  TransportProducer,
} from './kafka-transport.js';
export { KafkajsTransport } from './kafkajs-transport.js';

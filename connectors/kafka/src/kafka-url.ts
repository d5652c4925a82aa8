import { LvuError } from '@lvu/core';

/** `kafka://host:port[,host:port…]/topic` → brokers and topic. */
export function parseKafkaUrl(url: string): { brokers: string[]; topic: string } {
  const m = /^kafka:\/\/([^/]+)\/([A-Za-z0-9._-]+)$/.exec(url);
  if (!m) {
    throw new LvuError('INVALID_ARGUMENT', `"${url}" is not kafka://HOST:PORT[,HOST:PORT]/TOPIC`, {
      field: 'kafka',
      hint: 'e.g. kafka://127.0.0.1:9092/frames',
    });
  }
  const brokers = m[1]!.split(',');
  for (const b of brokers) {
    if (!/^[A-Za-z0-9.-]+:\d{1,5}$/.test(b)) {
      throw new LvuError('INVALID_ARGUMENT', `broker "${b}" must be HOST:PORT`, { field: 'kafka' });
    }
  }
  return { brokers, topic: m[2]! };
}

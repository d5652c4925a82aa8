import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { INGEST_OPTIONS, WORKER_OPTIONS } from '@lvu/cli';
import { parseKafkaUrl } from '@lvu/kafka';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { repoRoot } from './support/paths.js';

/** No Docker engine runs here: the compose file is validated, not run. */
describe('docker/compose.yml', () => {
  it('is valid YAML with Kafka in KRaft mode, an ingester and two workers whose lvu commands parse', () => {
    const c = parse(readFileSync(resolve(repoRoot, 'docker/compose.yml'), 'utf8'));
    expect(Object.keys(c.services).sort()).toEqual(['ingest', 'kafka', 'worker-1', 'worker-2']);
    expect(c.services.kafka.image).toMatch(/^apache\/kafka:3\.9/);
    expect(c.services.kafka.environment.KAFKA_PROCESS_ROLES).toBe('broker,controller');
    const ingest = c.services.ingest.command as string[];
    expect(ingest[0]).toBe('ingest');
    // the real option parsers, strict: an unknown or misspelt flag fails here
    parseArgs({ args: ingest.slice(1), options: INGEST_OPTIONS, allowPositionals: true, strict: true });
    expect(parseKafkaUrl(ingest[ingest.indexOf('--to') + 1]!)).toEqual({
      brokers: ['kafka:9092'],
      topic: 'frames',
    });
    for (const w of ['worker-1', 'worker-2']) {
      const cmd = c.services[w].command as string[];
      expect(cmd[0]).toBe('worker');
      const { values } = parseArgs({ args: cmd.slice(1), options: WORKER_OPTIONS, strict: true });
      // checkpoints in a compacted topic of the same cluster: workers need no shared disk
      expect(parseKafkaUrl(values.snapshots!)).toEqual({
        brokers: ['kafka:9092'],
        topic: 'frames.snapshots',
      });
      expect(values).toMatchObject({ every: '60', answers: 'answers' });
      expect(parseKafkaUrl(cmd[cmd.indexOf('--from') + 1]!).topic).toBe('frames');
      expect(cmd[cmd.indexOf('--group') + 1]).toBe('workers');
      expect(c.services[w].environment.LVU_TOKEN).toBeTruthy(); // bound to 0.0.0.0: a token is required
    }
  });
});

import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { KafkaBroker } from './support/kafka-broker.js';
import { repoRoot } from './support/paths.js';

function format(env: Record<string, string>) {
  const dir = mkdtempSync(join(tmpdir(), 'lvu-kafka-format-'));
  const r = spawnSync(resolve(repoRoot, 'tools/kafka/start.sh'), ['--dir', dir, '--format-only'], {
    encoding: 'utf8',
    env: { ...process.env, ...env },
  });
  const meta = r.status === 0 ? readFileSync(join(dir, 'log/meta.properties'), 'utf8') : '';
  return { ...r, meta };
}

describe('tools/kafka/start.sh', () => {
  beforeAll(() => KafkaBroker.fetch());

  it('formats storage with a cluster id that begins with "-" (one random id in 64 does)', () => {
    const r = format({ LVU_KAFKA_CLUSTER_ID: '-Abcdefghijklmnopqrstu' });
    expect(r.status, r.stderr).toBe(0);
    expect(r.meta).toContain('cluster.id=-Abcdefghijklmnopqrstu');
  });

  it('formats storage with a random cluster id', () => {
    const r = format({});
    expect(r.status, r.stderr).toBe(0);
    expect(r.meta).toMatch(/cluster\.id=[A-Za-z0-9_-]{22}/);
  });
});

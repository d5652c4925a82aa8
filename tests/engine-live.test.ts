import { resolve } from 'node:path';
import { createEngine, defaultPlugins } from '@lvu/cli';
import type { LvuEvent } from '@lvu/core';
import { loadPipelineConfig, PrometheusMetrics } from '@lvu/server';
import { afterAll, describe, expect, it } from 'vitest';
import { repoRoot } from './support/paths.js';
import { freePort, RtspServer } from './support/rtsp-server.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const servers: RtspServer[] = [];
afterAll(async () => {
  for (const s of servers) await s.kill();
});

async function until(pred: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

describe('engine on a live RTSP camera (gst-rtsp-server)', () => {
  it('keeps the context through a camera restart: reconnects, keeps going, answers, counts it in metrics', async () => {
    const camera = new RtspServer(await freePort(), ['--fps', '10']);
    servers.push(camera);
    await camera.start();
    const engine = await createEngine({ longvu: { dinoWindowFrames: 4 } });
    const metrics = new PrometheusMetrics(engine);
    const events: LvuEvent[] = [];
    engine.events.on((e) => events.push(e));
    try {
      engine.addStream({
        id: 'cam',
        source: camera.url,
        sourceOptions: {
          fps: 2,
          timeoutMs: 2000,
          stallTimeoutMs: 3000,
          reconnect: { initialDelayMs: 200, maxDelayMs: 1000 },
        },
      });
      await until(() => engine.status('cam').counters.kept >= 2, 30_000, 'kept frames');
      const keptBefore = engine.status('cam').counters.kept;
      const seqBefore = engine.status('cam').store.lastSeq;
      await camera.kill();
      await until(
        () => events.some((e) => e.type === 'source.disconnected' || e.type === 'source.stalled'),
        15_000,
        'disconnect',
      );
      await camera.start();
      await until(() => events.some((e) => e.type === 'source.reconnected'), 30_000, 'reconnect');
      await until(
        () => engine.status('cam').counters.kept > keptBefore + 1,
        30_000,
        'frames after the restart',
      );
      const s = engine.status('cam');
      expect(s.state).toBe('running');
      expect(s.store.lastSeq).toBeGreaterThan(seqBefore); // seq continues across the reconnect, nothing reused
      const seqs = engine.frames('cam').map((f) => f.seq);
      expect(new Set(seqs).size).toBe(seqs.length);
      const r = await engine.query('cam', { question: 'What is on screen?' });
      expect(r.totalTokens).toBeLessThanOrEqual(8192);
      expect(metrics.render()).toMatch(/lvu_stream_reconnects_total\{stream="cam"\} [1-9]/);
      expect(metrics.render()).toContain('lvu_stream_up{stream="cam"} 1');
    } finally {
      metrics.close();
      await engine.close();
    }
  }, 120_000);
});

describe('pipelines/', () => {
  it('the example pipelines validate (with and without their environment variables)', () => {
    for (const p of ['replay-file', 'live-rtsp', 'memory']) {
      const file = resolve(repoRoot, 'pipelines', p, 'pipeline.yaml');
      const c = loadPipelineConfig(file, defaultPlugins(), {});
      expect(c.streams.length).toBeGreaterThan(0);
      expect(c.standing.length).toBeGreaterThan(0);
      expect(c.server.host).toBe('127.0.0.1');
      const custom = loadPipelineConfig(file, defaultPlugins(), {
        LVU_PORT: '9001',
        LVU_MODELS: 'models/small',
        LVU_CAMERA: 'rtsp://cam/1',
      });
      expect(custom.server.port).toBe(9001);
      expect(custom.engine.models).toBe(resolve(repoRoot, 'pipelines', p, 'models/small'));
    }
    const memory = loadPipelineConfig(
      resolve(repoRoot, 'pipelines/memory/pipeline.yaml'),
      defaultPlugins(),
      {},
    );
    expect(memory.engine.stateDir).toBe(resolve(repoRoot, 'pipelines/memory/state'));
    expect(memory.standing[0]!.when).toMatchObject({ scoreAbove: 0.05, quietWindows: 2 });
  });
});

import { createHash } from 'node:crypto';
import { resolve } from 'node:path';
import { createEngine } from '@lvu/cli';
import type { Engine } from '@lvu/engine';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeSceneVideo } from './support/media.js';
import { repoRoot } from './support/paths.js';
import { Peer } from './support/peers.js';
import { freePort } from './support/rtsp-server.js';
import { tritonPython } from './support/served-models.js';

/**
 * The `kserve` model kit against a real NVIDIA Triton Inference Server: nvidia-pytriton from PyPI bundles the
 * tritonserver binary and runs on this CPU, serving the tiny fixture's ONNX files through onnxruntime
 * (tools/triton/serve.py). The same replay through the server and in process must keep the same frames with the
 * same features; Triton killed mid-stream and restarted must lose no frame.
 */
const TINY = resolve(repoRoot, 'tests/fixtures/models/tiny');
let python = '';
let video = '';

function triton(httpPort: number, grpcPort: number): Peer {
  const p = new Peer(
    python,
    [
      resolve(repoRoot, 'tools/triton/serve.py'),
      TINY,
      '--http-port',
      String(httpPort),
      '--grpc-port',
      String(grpcPort),
    ],
    '"ready": true',
  );
  p.group = true; // pytriton runs tritonserver as its child: a crash takes both
  return p;
}

/** What `lvu replay` reports as contextDigest: every retained frame's seq, time and features, bit for bit. */
function digest(engine: Engine, id: string): { digest: string; seqs: number[] } {
  const h = createHash('sha256');
  const seqs: number[] = [];
  for (const f of engine.frames(id)) {
    seqs.push(f.seq);
    h.update(`${f.seq}:${f.ptsMs};`);
    h.update(new Uint8Array(f.hi.buffer, f.hi.byteOffset, f.hi.byteLength));
    h.update(new Uint8Array(f.lo.buffer, f.lo.byteOffset, f.lo.byteLength));
  }
  return { digest: h.digest('hex'), seqs };
}

async function replay(
  extra: Record<string, unknown>,
): Promise<{ engine: Engine; digest: string; seqs: number[] }> {
  const engine = await createEngine({ models: TINY, backend: 'none', ...extra });
  engine.addStream({ id: 'cam', source: video });
  await engine.whenDone('cam');
  return { engine, ...digest(engine, 'cam') };
}

beforeAll(() => {
  python = tritonPython();
  video = makeSceneVideo(120);
}, 600_000);

describe('kserve model kit on Triton Inference Server (nvidia-pytriton)', () => {
  let server: Peer;
  let url = '';
  let local: { digest: string; seqs: number[] };
  beforeAll(async () => {
    const [http, grpc] = [await freePort(), await freePort()];
    server = triton(http, grpc);
    await server.start();
    url = `http://127.0.0.1:${http}`;
    const l = await replay({});
    local = { digest: l.digest, seqs: l.seqs };
    await l.engine.close();
  }, 300_000);
  afterAll(() => server?.kill());

  it('a replay through Triton keeps the frames and features of local inference (the same contextDigest)', async () => {
    const r = await replay({ kserve: { url } });
    try {
      expect(r.engine.status('cam').counters.failedFrames).toBe(0);
      expect(r.seqs.length).toBeGreaterThan(3);
      expect(r.seqs).toEqual(local.seqs);
      expect(r.digest).toBe(local.digest);
      const q = await r.engine.query('cam', { question: 'When does the scene turn red?' });
      expect(q.visualTokens).toBeGreaterThan(0);
    } finally {
      await r.engine.close();
    }
  }, 300_000);

  it('Triton killed mid-stream and restarted: the frames wait, none is lost, the context is the same', async () => {
    const engine = await createEngine({
      models: TINY,
      backend: 'none',
      kserve: { url, retryForMs: 120_000 },
    });
    const retried: string[] = [];
    engine.events.on((e) => {
      if (e.type === 'model.retried') retried.push(e.model);
    });
    try {
      engine.addStream({ id: 'cam', source: video });
      while (engine.status('cam').counters.sampled < 8) await new Promise((r) => setTimeout(r, 5));
      await server.kill();
      const atKill = engine.status('cam').counters.sampled;
      await new Promise((r) => setTimeout(r, 2000));
      // the write path waits on the server: a recording is read no further than its bounded queue allows
      expect(engine.status('cam').state).toBe('running');
      await server.start();
      await engine.whenDone('cam');
      const st = engine.status('cam');
      expect(st.counters.failedFrames).toBe(0);
      expect(st.counters.sampled).toBeGreaterThan(atKill);
      expect(digest(engine, 'cam')).toEqual(local);
      // the requests that met the dead server were sent again, not failed
      expect(retried.length).toBeGreaterThan(0);
    } finally {
      await engine.close();
    }
  }, 300_000);

  it('a server without the model, or none at all, is a coded error at start', async () => {
    await expect(
      createEngine({ models: TINY, kserve: { url, modelPrefix: 'nope-', retryForMs: 0 } }),
    ).rejects.toMatchObject({ code: 'MODEL_INVALID', field: 'models.dino' });
    await expect(
      createEngine({ models: TINY, kserve: { url: 'http://127.0.0.1:9', retryForMs: 500 } }),
    ).rejects.toMatchObject({ code: 'TRANSPORT_UNAVAILABLE', field: 'kserve.url' });
  }, 60_000);
});

describe('engine.executionProviders', () => {
  it('cpu runs; a provider this onnxruntime-node lacks, or whose libraries are absent, is refused saying which it has', async () => {
    const e = await createEngine({ models: TINY, backend: 'none', executionProviders: ['cpu'] });
    await e.close();
    await expect(createEngine({ models: TINY, executionProviders: ['openvino'] })).rejects.toMatchObject({
      code: 'INVALID_CONFIG',
      field: 'executionProviders',
      message: expect.stringMatching(/openvino is not in this onnxruntime-node .*\(it has: cpu/),
    });
    await expect(createEngine({ models: TINY, executionProviders: ['cuda', 'cpu'] })).rejects.toMatchObject({
      code: 'INVALID_CONFIG',
      field: 'executionProviders',
      message: expect.stringMatching(/cuda could not start/),
    });
  }, 60_000);
});

import { spawnSync } from 'node:child_process';
import { createReadStream, existsSync, mkdtempSync, statSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SampledFrame } from '@lvu/core';
import { VideoSource } from '@lvu/ffmpeg';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { consume as consumeSource, sleep } from './support/consume.js';
import { makeHls, makeVideo } from './support/media.js';
import { freePort, RtspServer } from './support/rtsp-server.js';

const servers: RtspServer[] = [];
const sources: VideoSource[] = [];
afterEach(async () => {
  // whatever a test did, its sources stop (a failed test must not leak decode workers into the next)
  for (const s of sources.splice(0)) await s.stop();
});
afterAll(async () => {
  for (const s of servers) await s.kill();
});

async function server(args: string[] = []): Promise<RtspServer> {
  const s = new RtspServer(await freePort(), args);
  servers.push(s);
  await s.start();
  return s;
}

const consume = (src: VideoSource) => consumeSource(src, sources);

const liveOptions = {
  fps: 2,
  timeoutMs: 2000,
  stallTimeoutMs: 4000,
  reconnect: { initialDelayMs: 200, maxDelayMs: 1000 },
};

describe('live RTSP from a real server (gst-rtsp-server on 127.0.0.1)', () => {
  it('server killed mid-stream and restarted: reconnects within 2 s of its return, seq never repeats', async () => {
    const s = await server();
    const src = new VideoSource(s.url, liveOptions);
    const c = consume(src);
    await c.until(() => c.frames.length >= 4, 20_000, '4 frames');
    await s.kill();
    await c.until(() => c.events.some((e) => e.type === 'source.disconnected'), 10_000, 'disconnected');
    await sleep(1500);
    await s.start();
    await c.until(() => c.events.some((e) => e.type === 'source.reconnected'), 10_000, 'reconnected');
    const reconnected = c.events.find((e) => e.type === 'source.reconnected')!;
    expect(reconnected.at - s.readyAt).toBeLessThanOrEqual(2000);
    const before = c.frames.length;
    await c.until(() => c.frames.length >= before + 3, 20_000, 'frames after reconnect');
    await src.stop();
    await c.done;
    expect(c.error()).toBeNull();
    const seqs = c.frames.map((f) => f.seq);
    expect(new Set(seqs).size).toBe(seqs.length);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    expect(c.frames.map((f) => f.ptsMs)).toEqual([...c.frames.map((f) => f.ptsMs)].sort((a, b) => a - b));
    expect(c.events.map((e) => e.type)).toEqual(
      expect.arrayContaining(['source.connected', 'source.disconnected', 'source.reconnected']),
    );
    expect((reconnected as { gapMs: number }).gapMs).toBeGreaterThan(1000); // the gap is recorded
    const steps = c.frames.slice(1).map((f, i) => f.ptsMs - c.frames[i]!.ptsMs);
    expect(steps.filter((d) => d > 1000)).toHaveLength(1); // and shows in media time, once
    expect(Math.min(...steps)).toBeGreaterThan(0);
    expect(src.stats.reconnects).toBe(1);
  }, 90_000);

  it('server frozen with SIGSTOP: the stall is detected, and the source reconnects after SIGCONT', async () => {
    const s = await server();
    const src = new VideoSource(s.url, liveOptions);
    const c = consume(src);
    await c.until(() => c.frames.length >= 3, 20_000, '3 frames');
    s.signal('SIGSTOP');
    await c.until(() => c.events.some((e) => e.type === 'source.stalled'), 15_000, 'stalled');
    s.signal('SIGCONT');
    const before = c.frames.length;
    await c.until(() => c.events.some((e) => e.type === 'source.reconnected'), 20_000, 'reconnected');
    await c.until(() => c.frames.length >= before + 3, 20_000, 'frames after SIGCONT');
    await src.stop();
    await c.done;
    expect(src.stats.stalls).toBeGreaterThanOrEqual(1);
    // a dead camera is told apart from a slow consumer
    expect(src.stats.droppedSlowConsumer).toBe(0);
  }, 90_000);

  it('a port where nothing listens: clear retriable errors per policy, then SOURCE_UNREACHABLE, no leaked worker', async () => {
    const port = await freePort();
    const src = new VideoSource(`rtsp://127.0.0.1:${port}/stream`, {
      timeoutMs: 1000,
      reconnect: { maxAttempts: 3, initialDelayMs: 50, maxDelayMs: 200 },
    });
    const c = consume(src);
    await c.done;
    expect(c.error()).toMatchObject({ code: 'SOURCE_UNREACHABLE', retriable: true });
    const errors = c.events.filter((e) => e.type === 'source.error');
    expect(errors).toHaveLength(3);
    expect(c.frames).toHaveLength(0);
    await sleep(200);
    expect(VideoSource.activeWorkers).toBe(0);
  }, 30_000);

  it('a camera that needs credentials: AUTH_REQUIRED without them (not retried), frames with them, never logged', async () => {
    const s = await server(['--user', 'cam', '--password', 's3cret']);
    const bad = new VideoSource(s.url, { ...liveOptions, reconnect: { maxAttempts: 5, initialDelayMs: 50 } });
    const b = consume(bad);
    await b.done;
    expect(b.error()).toMatchObject({ code: 'AUTH_REQUIRED', retriable: false });
    expect(b.events.filter((e) => e.type === 'source.error')).toHaveLength(0);

    const url = s.url.replace('rtsp://', 'rtsp://cam:s3cret@');
    const good = new VideoSource(url, liveOptions);
    const g = consume(good);
    await g.until(() => g.frames.length >= 2, 20_000, 'authenticated frames');
    await good.stop();
    await g.done;
    expect(JSON.stringify(g.events)).not.toContain('s3cret');
    expect(good.streamId).not.toContain('s3cret');
    expect(g.frames[0]!.streamId).toBe(`rtsp://***@127.0.0.1:${s.port}/stream`);
  }, 60_000);

  it('RTSP over UDP delivers frames too', async () => {
    const s = await server();
    const src = new VideoSource(s.url, { ...liveOptions, transport: 'udp' });
    const c = consume(src);
    await c.until(() => c.frames.length >= 3, 20_000, '3 frames over UDP');
    await src.stop();
    await c.done;
    expect(c.error()).toBeNull();
    expect(c.frames[0]).toMatchObject({ width: 320, height: 240 });
  }, 40_000);

  it('a slow consumer loses the oldest frames, counted as drops, while the camera stays connected', async () => {
    const s = await server(['--fps', '25']);
    const src = new VideoSource(s.url, { ...liveOptions, fps: 10, queueFrames: 2 });
    sources.push(src);
    const it = src[Symbol.asyncIterator]();
    await it.next();
    await sleep(3000); // the consumer does nothing for 3 s
    const drained: SampledFrame[] = [];
    for (let i = 0; i < 2; i++) drained.push((await it.next()).value as SampledFrame);
    await it.return!();
    expect(src.stats.droppedSlowConsumer).toBeGreaterThan(10);
    expect(src.stats.stalls).toBe(0);
    expect(src.stats.reconnects).toBe(0);
    // what is left are the newest frames
    expect(drained[1]!.seq).toBeGreaterThan(20);
  }, 60_000);
});

describe('lvu record', () => {
  it('remuxes 3 s of a live camera into a file that replays as 3 frames at 1 fps', async () => {
    const s = await server();
    const dir = mkdtempSync(join(tmpdir(), 'lvu-rec-'));
    const out = join(dir, 'cam.mkv');
    const r = spawnSync(
      process.execPath,
      ['packages/cli/bin/lvu.js', 'record', s.url, out, '--duration', '3', '--json'],
      {
        encoding: 'utf8',
        timeout: 30_000,
      },
    );
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout.trim())).toMatchObject({ out, mediaMs: 3000 });
    const replay = new VideoSource(out, { fps: 1 });
    const frames: SampledFrame[] = [];
    for await (const f of replay) frames.push(f);
    expect(frames.map((f) => f.ptsMs)).toEqual([0, 1000, 2000]);
    expect(replay.stats.info).toMatchObject({ codec: 'h264', width: 320, height: 240 });
  }, 60_000);

  it('an unreachable source is a clear error', () => {
    const r = spawnSync(
      process.execPath,
      ['packages/cli/bin/lvu.js', 'record', '/nonexistent/x.mp4', '/tmp/x.mkv'],
      {
        encoding: 'utf8',
      },
    );
    expect(r.status).toBe(2);
    expect(JSON.parse(r.stderr.trim())).toMatchObject({ error: 'NOT_FOUND', field: 'SOURCE' });
  });
});

describe('http(s) sources', () => {
  it('reads a video served over HTTP on 127.0.0.1', async () => {
    const file = makeVideo({ seconds: 4, encoder: 'libx264', container: 'mp4', gop: 25 });
    const size = statSync(file).size;
    const srv = createHttpServer((req, res) => {
      const m = /bytes=(\d+)-(\d*)/.exec(req.headers.range ?? '');
      if (!m) {
        res.writeHead(200, { 'content-type': 'video/mp4', 'content-length': size, 'accept-ranges': 'bytes' });
        createReadStream(file).pipe(res);
        return;
      }
      const start = Number(m[1]);
      const end = m[2] ? Number(m[2]) : size - 1;
      res.writeHead(206, {
        'content-type': 'video/mp4',
        'content-length': end - start + 1,
        'content-range': `bytes ${start}-${end}/${size}`,
        'accept-ranges': 'bytes',
      });
      createReadStream(file, { start, end }).pipe(res);
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const port = (srv.address() as { port: number }).port;
    try {
      const src = new VideoSource(`http://127.0.0.1:${port}/clip.mp4`, { fps: 1 });
      const frames: SampledFrame[] = [];
      for await (const f of src) frames.push(f);
      expect(frames.map((f) => f.ptsMs)).toEqual([0, 1000, 2000, 3000]);
    } finally {
      srv.close();
    }
  }, 30_000);

  it('reads an HLS playlist (segments over HTTP on 127.0.0.1)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lvu-hls-'));
    const playlist = makeHls(makeVideo({ seconds: 8, encoder: 'libx264', container: 'ts', gop: 25 }), dir);
    const srv = createHttpServer((req, res) => {
      const path = join(dir, (req.url ?? '/').slice(1));
      if (!existsSync(path)) {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, {
        'content-type': path.endsWith('.m3u8') ? 'application/vnd.apple.mpegurl' : 'video/mp2t',
      });
      createReadStream(path).pipe(res);
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const port = (srv.address() as { port: number }).port;
    try {
      const src = new VideoSource(`http://127.0.0.1:${port}/${playlist}`, { fps: 1 });
      const frames: SampledFrame[] = [];
      for await (const f of src) frames.push(f);
      expect(frames).toHaveLength(8);
      expect(frames.at(-1)!.ptsMs - frames[0]!.ptsMs).toBe(7000);
      expect(src.stats.info!.format).toContain('hls');
    } finally {
      srv.close();
    }
  }, 30_000);
});

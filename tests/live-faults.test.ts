/**
 * Live sources against peers nobody here wrote, each killed, frozen and restarted: a live HLS playlist from the
 * ffmpeg CLI's HLS muxer behind Python's static HTTP server, npm's rtsp-streaming-server (UDP only) fed by the ffmpeg
 * CLI as a camera, and gst-rtsp-server through an outage longer than the stall timeout.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VideoSource } from '@lvu/ffmpeg';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { consume as consumeSource, sleep } from './support/consume.js';
import { makeVideo } from './support/media.js';
import { repoRoot } from './support/paths.js';
import {
  ffmpegCamera,
  ffmpegHlsPublisher,
  type Peer,
  rtspStreamingServer,
  staticHttpServer,
} from './support/peers.js';
import { freePort, RtspServer } from './support/rtsp-server.js';

const peers: (Peer | RtspServer)[] = [];
const sources: VideoSource[] = [];
afterEach(async () => {
  for (const s of sources.splice(0)) await s.stop();
});
afterAll(async () => {
  for (const p of peers) await p.kill();
});
const consume = (src: VideoSource) => consumeSource(src, sources);
async function started<T extends Peer | RtspServer>(p: T): Promise<T> {
  peers.push(p);
  await p.start();
  return p;
}

const live = {
  fps: 2,
  timeoutMs: 2000,
  stallTimeoutMs: 4000,
  reconnect: { initialDelayMs: 200, maxDelayMs: 1000 },
};

describe('a live HLS playlist (the ffmpeg CLI’s HLS muxer, Python’s static HTTP server)', () => {
  async function hls() {
    const dir = mkdtempSync(join(tmpdir(), 'lvu-live-hls-'));
    const publisher = await started(ffmpegHlsPublisher(dir));
    const http = await started(staticHttpServer(dir, await freePort()));
    const url = `http://127.0.0.1:${http.args[5]}/live.m3u8`;
    const end = Date.now() + 15_000;
    while (Date.now() < end) {
      const r = await fetch(url).catch(() => null);
      if (r?.ok && (await r.text()).includes('.ts')) break;
      await sleep(200);
    }
    return { dir, publisher, http, url };
  }

  it('publisher killed: stalled, reconnects with backoff, frames again when it returns; media time goes on', async () => {
    const h = await hls();
    const src = new VideoSource(h.url, live);
    const c = consume(src);
    await c.until(() => c.frames.length >= 4, 30_000, '4 frames');
    expect(src.live).toBe(true); // a playlist without an end is supervised like a camera
    const fault = Date.now(); // counted from here: a loaded machine may hiccup before the fault, which is not this test
    await h.publisher.kill();
    await c.until(
      () => c.count('source.stalled') + c.count('source.disconnected') > 0,
      20_000,
      'the outage noticed',
    );
    await c.until(() => c.count('source.error') >= 1, 20_000, 'a reconnect attempt');
    const before = c.frames.length;
    await h.publisher.start();
    await c.until(() => c.count('source.reconnected') >= 1, 40_000, 'reconnected');
    await c.until(() => c.frames.length >= before + 3, 30_000, 'frames after the publisher returned');
    await src.stop();
    await c.done;
    expect(c.error()).toBeNull();
    expect(c.count('source.reconnected', fault)).toBe(1);
    expect(c.count('source.stalled', fault)).toBeLessThanOrEqual(1);
    const pts = c.frames.map((f) => f.ptsMs);
    expect(pts).toEqual([...pts].sort((a, b) => a - b));
    expect(new Set(c.frames.map((f) => f.seq)).size).toBe(c.frames.length);
  }, 150_000);

  it('lvu ingest of a playlist whose publisher died: prints the stall, and one SIGTERM ends it at once', async () => {
    const h = await hls();
    const child = spawn(
      process.execPath,
      [
        'packages/cli/bin/lvu.js',
        'ingest',
        h.url,
        '--json',
        '--fps',
        '2',
        '--stall-timeout-ms',
        '3000',
        '--timeout-ms',
        '2000',
      ],
      { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    const wait = async (pred: () => boolean, ms: number, what: string) => {
      const end = Date.now() + ms;
      while (!pred()) {
        if (Date.now() > end) throw new Error(`timed out waiting for ${what}: ${out.slice(-2000)}`);
        await sleep(100);
      }
    };
    try {
      await wait(() => (out.match(/"seq"/g) ?? []).length >= 3, 30_000, 'frames');
      await h.publisher.kill();
      await wait(() => /"event":"(stalled|disconnected)"/.test(out), 20_000, 'the stall printed');
      const t0 = Date.now();
      child.kill('SIGTERM');
      const code = await exited;
      expect(Date.now() - t0).toBeLessThan(10_000); // not 30 s or forever: a bound for a hang, not a benchmark
      expect(code).toBe(0);
    } finally {
      child.kill('SIGKILL');
    }
  }, 120_000);
});

describe('npm’s rtsp-streaming-server (UDP only), fed by the ffmpeg CLI as a camera', () => {
  const file = (gop = 10) => makeVideo({ seconds: 20, encoder: 'libx264', container: 'mp4', gop });

  async function setup(gop = 10) {
    const [client, publish, rtp] = [
      await freePort(),
      await freePort(),
      20_000 + Math.floor(Math.random() * 20_000),
    ];
    const server = await started(rtspStreamingServer(client, publish, rtp));
    const camera = await started(ffmpegCamera(file(gop), `rtsp://127.0.0.1:${publish}/cam`));
    return { server, camera, url: `rtsp://127.0.0.1:${client}/cam`, publish };
  }

  it('transport auto falls back to UDP once the server refuses TCP (461), and says so', async () => {
    const s = await setup();
    const c = consume(new VideoSource(s.url, live));
    await c.until(() => c.frames.length >= 3, 30_000, '3 frames');
    const t = c.events.find((e) => e.type === 'source.transport');
    expect(t).toMatchObject({ from: 'tcp', to: 'udp' });
    expect((t as { reason: string }).reason).toContain('461');
    expect(c.events.find((e) => e.type === 'source.connected')).toMatchObject({ transport: 'udp' });
    expect(c.count('source.transport')).toBe(1);
  }, 60_000);

  it('transport tcp asked for explicitly: INVALID_CONFIG on the transport with the fix, not retried forever', async () => {
    const s = await setup();
    const c = consume(new VideoSource(s.url, { ...live, transport: 'tcp' }));
    await c.done;
    expect(c.error()).toMatchObject({ code: 'INVALID_CONFIG', field: 'transport', retriable: false });
    expect((c.error() as { hint: string }).hint).toContain('--transport udp');
    expect(c.frames).toHaveLength(0);
  }, 30_000);

  it('the camera killed, the server restarted with it, then the server frozen (SIGSTOP) and thawed: frames resume', async () => {
    const s = await setup();
    const src = new VideoSource(s.url, { ...live, transport: 'udp' });
    const c = consume(src);
    await c.until(() => c.frames.length >= 3, 30_000, '3 frames');
    const fault = Date.now();
    await s.camera.kill();
    await c.until(() => c.count('source.stalled', fault) >= 1, 20_000, 'stalled');
    // this server keeps a dead publisher's mount (a new ANNOUNCE gets 503) until it restarts: restart both
    await s.server.kill();
    await sleep(1000);
    await s.server.start();
    await s.camera.start();
    let before = c.frames.length;
    await c.until(() => c.frames.length >= before + 3, 40_000, 'frames after the camera returned');
    expect(c.count('source.reconnected', fault)).toBe(1);
    const frozen = Date.now();
    s.server.signal('SIGSTOP');
    await c.until(() => c.count('source.stalled', frozen) >= 1, 20_000, 'the frozen server noticed');
    s.server.signal('SIGCONT');
    before = c.frames.length;
    await c.until(() => c.frames.length >= before + 3, 40_000, 'frames after SIGCONT');
    await src.stop();
    await c.done;
    expect(c.error()).toBeNull();
    expect(src.stats.droppedSlowConsumer).toBe(0);
  }, 150_000);

  it('an outage longer than the stall timeout, key frames 2.5 s apart: the first new connection is kept', async () => {
    const s = await setup(62); // 25 fps: a client joining mid-stream waits up to 2.5 s for its first picture
    const src = new VideoSource(s.url, { ...live, transport: 'udp' });
    const c = consume(src);
    await c.until(() => c.frames.length >= 3, 30_000, '3 frames');
    const fault = Date.now();
    await s.camera.kill();
    await s.server.kill();
    await sleep(live.stallTimeoutMs + 3000);
    const back = Date.now();
    await s.server.start();
    await s.camera.start();
    await c.until(() => c.frames.some((f) => f.at > back), 30_000, 'a frame after the return');
    await sleep(live.stallTimeoutMs + 2000);
    await src.stop();
    await c.done;
    // each connection that opened after the return was kept until it delivered (none torn down for the outage)
    expect(c.count('source.connected', back)).toBe(1);
    expect(c.count('source.reconnected', fault)).toBe(1);
    expect(c.count('source.disconnected', fault) + c.count('source.stalled', fault)).toBe(1); // the outage told once
  }, 120_000);
});

describe('gst-rtsp-server through an outage longer than the stall timeout', () => {
  it('after the camera returns: one connection, one `reconnected`, one `stalled` for the outage, frames at once', async () => {
    // a key frame every 2.5 s: a new connection's first frame comes up to 2.5 s after it opens
    const s = await started(new RtspServer(await freePort(), ['--fps', '10', '--key-int', '25']));
    const src = new VideoSource(s.url, live);
    const c = consume(src);
    await c.until(() => c.frames.length >= 3, 30_000, '3 frames');
    const fault = Date.now();
    await s.kill();
    await sleep(live.stallTimeoutMs + 3000); // the outage outlasts the stall timeout
    await s.start();
    const back = Date.now();
    await c.until(() => c.frames.some((f) => f.at > back), 30_000, 'a frame after the return');
    await sleep(live.stallTimeoutMs + 2000); // long enough for a wrongly counted stall to tear the new connection down
    await src.stop();
    await c.done;
    expect(c.count('source.connected', back)).toBe(1); // no connection wasted after the camera came back
    expect(c.count('source.reconnected', fault)).toBe(1);
    expect(c.count('source.stalled', fault)).toBeLessThanOrEqual(1);
    expect(c.count('source.disconnected', fault)).toBe(1);
    const after = c.frames.filter((f) => f.at > back);
    expect(after.length).toBeGreaterThanOrEqual(10); // it kept streaming at 2 fps
  }, 120_000);
});

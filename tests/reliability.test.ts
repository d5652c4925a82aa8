// biome-ignore-all lint/suspicious/noExplicitAny: JSON bodies of the API under test
/**
 * The reliability and security promises of `lvu serve`, each against the real thing: the real `lvu serve` process
 * killed with SIGKILL, stopped with SIGTERM and SIGHUP; state and spill on real file systems that fill up or turn
 * read-only (tmpfs mounts, made here as root); load from autocannon; DNS rebinding in headless Chromium; FFmpeg
 * decoding generated video and a corrupted file. The probes these answer: the reliability probes of round 3 and the
 * docs/reliability.md.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { request } from 'node:http';
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { ContextStore } from '@lvu/engine';
import { VideoSource } from '@lvu/ffmpeg';
import autocannon from 'autocannon';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { get, LVU, post, type Served, serve as serveIn, stop, until } from './support/lvu-serve.js';
import { makeHls, makeSceneVideo, makeVideo, VTEST } from './support/media.js';
import { repoRoot } from './support/paths.js';
import { staticHttpServer } from './support/peers.js';
import { freePort, RtspServer } from './support/rtsp-server.js';

let dir = '';
let scene = '';
let short = '';
const mounts: string[] = [];
const serve = (name: string, yaml: string) => serveIn(dir, name, yaml);
const root = process.getuid?.() === 0;
const TINY = resolve(repoRoot, 'tests/fixtures/models/tiny');

/** A tmpfs of `mb` MiB at `at` (a real file system that fills up, or turns read-only on remount). */
function tmpfs(at: string, mb: number): string {
  mkdirSync(at, { recursive: true });
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${mb}m`, 'tmpfs', at]);
  mounts.push(at);
  return at;
}

/** Fills the file system of `at` to the last byte (a file that grows until ENOSPC). */
function fill(at: string): string {
  const file = join(at, 'filler');
  const chunk = Buffer.alloc(64 * 1024, 1);
  const fd = openSync(file, 'w');
  try {
    for (;;) writeSync(fd, chunk);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
  } finally {
    closeSync(fd);
  }
  return file;
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'lvu-reliability-'));
  scene = makeSceneVideo(60);
  short = makeVideo({
    seconds: 12,
    encoder: 'libx264',
    container: 'mp4',
    source: 'testsrc2=size=320x180:rate=25',
  });
}, 120_000);

afterAll(() => {
  for (const m of mounts.reverse()) spawnSync('umount', ['-l', m]);
  rmSync(dir, { recursive: true, force: true });
});

describe('sources from the API cannot read, write or connect beyond the policy', () => {
  let s: Served;
  let videos = '';
  beforeAll(async () => {
    videos = dirname(scene);
    s = await serve('policy', `server: {port: 0}\nengine: {sourcePolicy: {fileDirs: [${videos}]}}\n`);
  }, 60_000);
  afterAll(() => stop(s));

  it('refuses lavfi graphs that read or write files or open URLs, and FFmpeg options that listen', async () => {
    const secret = join(dir, 'secret.bin');
    writeFileSync(secret, Buffer.alloc(1024, 0x5a));
    const victim = join(dir, 'victim.txt');
    writeFileSync(victim, 'keep me');
    const refused = [
      {
        id: 'read',
        source: `lavfi:movie=filename=${secret}:format_name=rawvideo:format_opts=video_size=32x32\\\\\\:pixel_format=gray\\\\\\:framerate=1,scale=384:384:flags=neighbor,format=rgb24`,
      },
      { id: 'write', source: `lavfi:testsrc=d=1,metadata=mode=print:file=${victim}` },
      { id: 'psnr', source: `lavfi:testsrc=d=1[a];testsrc=d=1[b];[a][b]psnr=stats_file=${victim}` },
      { id: 'tcp', source: 'lavfi:movie=filename=tcp\\://127.0.0.1\\:9' },
      { id: 'listen', source: 'rtsp://127.0.0.1:9/x', inputOptions: { listen: '1' } },
      { id: 'path', source: secret },
      { id: 'up', source: `${videos}/../${secret.split('/').at(-1)}` },
    ];
    for (const body of refused) {
      const r = await post(`${s.url}/v1/streams`, body);
      const b: any = await r.json();
      expect([r.status, b.error], `${body.id}: ${JSON.stringify(b)}`).toEqual([403, 'FORBIDDEN']);
      expect(b.hint).toMatch(/sourcePolicy/);
    }
    // FFmpeg's own protocols as "paths" open no source at all
    const concat = await post(`${s.url}/v1/streams`, { id: 'concat', source: `concat:${secret}|${secret}` });
    expect(concat.status).toBe(400);
    expect(readFileSync(victim, 'utf8')).toBe('keep me');
    expect((await get(`${s.url}/v1/streams`)).streams).toEqual([]);
    // what the policy allows still works: a generator, and a file inside fileDirs
    expect(
      (await post(`${s.url}/v1/streams`, { id: 'gen', source: 'lavfi:testsrc2=size=64x64:rate=5:d=2' }))
        .status,
    ).toBe(201);
    expect((await post(`${s.url}/v1/streams`, { id: 'file', source: scene })).status).toBe(201);
  });

  it('a file the API may open cannot make FFmpeg fetch from the network (protocol whitelist, explicit per kind)', async () => {
    // an HLS playlist on disk whose segment lives on an HTTP server: FFmpeg alone would fetch it
    const hls = join(videos, 'remote-hls');
    mkdirSync(hls, { recursive: true });
    makeHls(short, hls);
    const port = await freePort();
    const web = staticHttpServer(hls, port);
    await web.start();
    try {
      const playlist = readFileSync(join(hls, 'index.m3u8'), 'utf8').replace(
        /^(index\d+\.ts)$/gm,
        `http://127.0.0.1:${port}/$1`,
      );
      writeFileSync(join(hls, 'remote.m3u8'), playlist);
      expect(
        (await post(`${s.url}/v1/streams`, { id: 'ssrf', source: join(hls, 'remote.m3u8') })).status,
      ).toBe(201);
      const st = await until(
        () => get(`${s.url}/v1/streams/ssrf`),
        (x) => x.state === 'failed' || x.state === 'ended',
      );
      expect(st.counters.sampled).toBe(0);
      expect(web.log).not.toMatch(/GET \/index\d+\.ts/);
    } finally {
      await web.kill();
    }
  });

  it('refuses requests by another host name (DNS rebinding) or from pages of another origin', async () => {
    const port = new URL(s.url).port;
    const raw = (headers: Record<string, string>) =>
      new Promise<number>((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port, path: '/v1/streams', headers }, (res: any) => {
          res.resume();
          resolve(res.statusCode);
        });
        req.on('error', reject);
        req.end();
      });
    expect(await raw({ host: `evil.example:${port}` })).toBe(403);
    expect(await raw({ host: `127.0.0.1:${port}`, origin: 'http://evil.example' })).toBe(403);
    expect(await raw({ host: `127.0.0.1:${port}`, origin: `http://127.0.0.1:${port}` })).toBe(200);
    expect(await raw({ host: `localhost:${port}` })).toBe(200);
    const page = await fetch(`${s.url}/`);
    expect(page.headers.get('content-security-policy')).toMatch(/frame-ancestors 'none'/);
    expect(page.headers.get('x-content-type-options')).toBe('nosniff');
  });

  it('headless Chromium: a page reached by a rebound name gets nothing from the server', async () => {
    const CHROMIUM = ['/usr/lib/chromium/chromium', '/usr/bin/chromium'].find((p) => existsSync(p))!;
    const port = new URL(s.url).port;
    const browser: Browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--host-resolver-rules=MAP rebind.test 127.0.0.1'],
    });
    try {
      const page = await browser.newPage();
      // the attacker's name now resolves to the loopback server: same origin for the browser
      const r = await page.goto(`http://rebind.test:${port}/`);
      expect(r!.status()).toBe(403);
      const got = await page.evaluate(async () => {
        const x = await fetch('/v1/streams');
        return { status: x.status, body: await x.text() };
      });
      expect(got.status).toBe(403);
      expect(got.body).not.toContain('"streams"');
      // the same page by its own name works
      const ok = await page.goto(`http://127.0.0.1:${port}/`);
      expect(ok!.status()).toBe(200);
      const listed = await page.evaluate(async () => (await fetch('/v1/streams')).status);
      expect(listed).toBe(200);
    } finally {
      await browser.close();
    }
  }, 60_000);
});

describe('what the server shows of sources', () => {
  it('/readyz without the token says only ready; secrets in source URLs are redacted everywhere', async () => {
    const s = await serve('redact', 'server: {port: 0, token: t0ken}\n');
    try {
      const auth = { authorization: 'Bearer t0ken' };
      const r = await post(
        `${s.url}/v1/streams`,
        { id: 'cam', source: 'http://user:pw@127.0.0.1:9/live.m3u8?password=p4ss&size=2' },
        auth,
      );
      expect(r.status).toBe(201);
      const failed = await until(
        () => get(`${s.url}/v1/streams/cam`, auth),
        (x) => x.state === 'failed',
      );
      expect(failed.source).toBe('http://***@127.0.0.1:9/live.m3u8?password=***&size=2');
      expect(await get(`${s.url}/readyz`)).toEqual({ ready: true });
      const detail = await get(`${s.url}/readyz`, auth);
      expect(detail.failed).toHaveLength(1);
      const everything = JSON.stringify([
        failed,
        detail,
        await (await fetch(`${s.url}/metrics`, { headers: auth })).text(),
      ]);
      expect(everything).not.toContain('p4ss');
      expect(everything).not.toContain('pw@');
      expect(s.log()).not.toContain('p4ss');
    } finally {
      await stop(s);
    }
  }, 60_000);
});

describe.skipIf(!root)('durable memory on real file systems (tmpfs)', () => {
  it('disk full: the last good checkpoint is kept, the failure reported and retried; kill -9 loses nothing saved', async () => {
    const state = tmpfs(join(dir, 'full'), 4);
    const yaml = `server: {port: 0}\nengine: {stateDir: ${state}, checkpointSeconds: 0.5}\nstreams:\n  - {id: cam, source: ${scene}, realtime: true, fps: 4}\n`;
    const first = await serve('full', yaml);
    let filler = '';
    let atFull: any;
    try {
      await until(
        () => get(`${first.url}/v1/streams/cam`),
        (x) => x.counters.windows >= 1,
      );
      await new Promise((r) => setTimeout(r, 1000));
      filler = fill(state);
      atFull = ContextStore.restore(readFileSync(join(state, 'streams/cam.arrow'))).stats;
      const ready = await until(
        () => get(`${first.url}/readyz`),
        (x) => x.warnings?.length > 0,
        30_000,
      );
      expect(ready.warnings[0]).toMatchObject({
        streamId: 'cam',
        kind: 'checkpoint',
        code: 'STORAGE_FAILED',
      });
      expect(ready.warnings[0].message).toMatch(/ENOSPC/);
      const metrics = await (await fetch(`${first.url}/metrics`)).text();
      expect(metrics).toMatch(/lvu_checkpoint_failures_total\{stream="cam"\} [1-9]/);
      expect(metrics).toMatch(/lvu_stream_durability_ok\{stream="cam"\} 0/);
      expect(first.log()).toMatch(/cam: checkpoint failed .*ENOSPC/);
      // the file on disk is still the good one, whole
      const still = ContextStore.restore(readFileSync(join(state, 'streams/cam.arrow'))).stats;
      expect(still.lastSeq).toBe(atFull.lastSeq);
      expect(readdirSync(join(state, 'streams')).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    } finally {
      await stop(first, 'SIGKILL');
    }
    rmSync(filler);
    const second = await serve('full', yaml);
    try {
      const s = await get(`${second.url}/v1/streams/cam`);
      expect(s.restored).toMatchObject({ fromStateDir: true });
      expect(s.store.retainedFrames).toBeGreaterThan(0);
      expect(s.store.lastSeq).toBeGreaterThanOrEqual(atFull.lastSeq);
      // space again: checkpoints work and the warning goes
      await until(
        () => get(`${second.url}/readyz`),
        (x) => x.warnings.length === 0,
      );
    } finally {
      expect(await stop(second)).toBe(0);
    }
  }, 120_000);

  it('a read-only state directory is a coded error at start; a removed one is made again', async () => {
    const ro = tmpfs(join(dir, 'ro'), 1);
    execFileSync('mount', ['-o', 'remount,ro', ro]);
    const cfg = join(dir, 'ro.yaml');
    writeFileSync(cfg, `server: {port: 0}\nengine: {stateDir: ${join(ro, 'state')}}\n`);
    const r = spawnSync('node', [LVU, 'serve', '--config', cfg], { encoding: 'utf8', timeout: 60_000 });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/INVALID_CONFIG/);
    expect(r.stderr).toMatch(/stateDir|state directory/);
    expect(r.stderr).toMatch(/EROFS|read-only/);
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace

    const state = join(dir, 'removed');
    const yaml = `server: {port: 0}\nengine: {stateDir: ${state}, checkpointSeconds: 0.5}\nstreams:\n  - {id: cam, source: ${scene}, realtime: true, fps: 4}\n`;
    const first = await serve('removed', yaml);
    try {
      await until(
        () => get(`${first.url}/v1/streams/cam`),
        (x) => x.counters.windows >= 1,
      );
      rmSync(state, { recursive: true, force: true });
      await until(
        async () => existsSync(join(state, 'streams/cam.arrow')),
        (x) => x,
        20_000,
      );
    } finally {
      expect(await stop(first)).toBe(0);
    }
    const saved = ContextStore.restore(readFileSync(join(state, 'streams/cam.arrow')));
    expect(saved.frames().length).toBeGreaterThan(0);
  }, 120_000);

  it('a full spill disk turns spill off for that stream: the server and the other streams go on', async () => {
    const spill = tmpfs(join(dir, 'spill'), 2);
    fill(spill);
    const s = await serve(
      'spill',
      `server: {port: 0}\nengine: {spill: {dir: ${spill}, segmentFrames: 2}}\nstreams:\n` +
        `  - {id: a, source: ${scene}, realtime: true, fps: 4}\n  - {id: b, source: 'lavfi:testsrc2=size=320x180:rate=25', realtime: true, fps: 4}\n`,
    );
    try {
      const ready = await until(
        () => get(`${s.url}/readyz`),
        (x) => x.warnings?.filter((w: any) => w.kind === 'spill').length === 2,
        30_000,
      );
      expect(ready.warnings.map((w: any) => w.code)).toEqual(['STORAGE_FAILED', 'STORAGE_FAILED']);
      expect(s.log()).toMatch(/spill turned off/);
      const before = await get(`${s.url}/v1/streams`);
      await new Promise((r) => setTimeout(r, 4500));
      const after = await get(`${s.url}/v1/streams`);
      for (const i of [0, 1]) {
        expect(after.streams[i].state).toBe('running');
        expect(after.streams[i].counters.windows).toBeGreaterThan(before.streams[i].counters.windows);
      }
      const q = await post(`${s.url}/v1/streams/a/query`, { question: 'When is the scene red?' });
      expect(q.status).toBe(200);
      expect(s.proc.exitCode).toBeNull();
    } finally {
      expect(await stop(s)).toBe(0);
    }
  }, 120_000);
});

describe('restarts lose nothing they promise to keep', () => {
  const yaml = (state: string, extra = '') =>
    `server: {port: 0}\nengine: {stateDir: ${state}, checkpointSeconds: 0.5${extra}}\n` +
    `streams:\n  - {id: cam, source: ${scene}, realtime: true, fps: 4}\n`;

  for (const signal of ['SIGTERM', 'SIGHUP'] as const) {
    it(`${signal}: every frame taken is in the saved context; the restart goes on right after it`, async () => {
      const state = join(dir, `graceful-${signal}`);
      const first = await serve(`graceful-${signal}`, yaml(state, ', checkpointOpenWindows: false'));
      try {
        // mid-window: frames wait in the open window when the signal comes
        await until(
          () => get(`${first.url}/v1/streams/cam`),
          (x) => x.counters.windows >= 1 && x.counters.sampled % 16 >= 4,
        );
      } finally {
        expect(await stop(first, signal)).toBe(0);
      }
      const saved = ContextStore.restore(readFileSync(join(state, 'streams/cam.arrow')));
      const second = await serve(`graceful-${signal}`, yaml(state));
      try {
        const s = await get(`${second.url}/v1/streams/cam`);
        // the last frame taken is the last frame the saved context covers: the open window was not lost
        expect(ContextStore.snapshotMeta(readFileSync(join(state, 'streams/cam.arrow'))).checkpointSeq).toBe(
          String(s.restored.afterSeq),
        );
        expect(saved.stats.lastSeq).toBeLessThanOrEqual(s.restored.afterSeq);
        const later = await until(
          () => get(`${second.url}/v1/streams/cam/context`),
          (c) => c.retained.some((f: any) => f.seq > s.restored.afterSeq),
        );
        // no gap after a graceful stop: the next frame is the next seq
        expect(later.status.counters.sampled).toBeGreaterThan(s.counters.sampled);
      } finally {
        expect(await stop(second)).toBe(0);
      }
    }, 120_000);
  }

  it('SIGKILL: a seq a client saw never names another frame; at most checkpointSeconds of frames lost', async () => {
    const state = join(dir, 'kill');
    const first = await serve('kill', yaml(state));
    let seen: Map<number, string>;
    let atKill: any;
    try {
      await until(
        () => get(`${first.url}/v1/streams/cam`),
        (x) => x.counters.sampled >= 30,
      );
      const ctx = await get(`${first.url}/v1/streams/cam/context`);
      seen = new Map(ctx.retained.map((f: any) => [f.seq, `${f.wallMs}:${f.thumb}`]));
      atKill = ctx.status;
    } finally {
      await stop(first, 'SIGKILL');
    }
    const second = await serve('kill', yaml(state));
    try {
      const s = await get(`${second.url}/v1/streams/cam`);
      // frames taken up to one checkpoint interval (0.5 s, 2 frames at fps 4) and one encode before the kill
      expect(s.restored.afterSeq).toBeGreaterThanOrEqual(atKill.counters.sampled - 1 - 6);
      const later = await until(
        () => get(`${second.url}/v1/streams/cam/context`),
        (c) => c.retained.some((f: any) => f.seq > s.restored.afterSeq),
      );
      for (const f of later.retained) {
        const before = seen.get(f.seq);
        if (before !== undefined) expect(`${f.wallMs}:${f.thumb}`, `seq ${f.seq}`).toBe(before);
      }
      const fresh = later.retained.filter((f: any) => !seen.has(f.seq));
      expect(fresh.every((f: any) => f.seq > Math.max(...seen.keys()))).toBe(true);
    } finally {
      expect(await stop(second)).toBe(0);
    }
  }, 120_000);

  it('a realtime file resumes at its position after a restart and ends at its end', async () => {
    const state = join(dir, 'file');
    const y = `server: {port: 0}\nengine: {stateDir: ${state}, checkpointSeconds: 0.5}\nstreams:\n  - {id: f, source: ${short}, realtime: true, fps: 2}\n`;
    const first = await serve('file', y);
    let before: any;
    try {
      before = await until(
        () => get(`${first.url}/v1/streams/f`),
        (x) => x.counters.sampled >= 10,
      );
    } finally {
      expect(await stop(first)).toBe(0);
    }
    const second = await serve('file', y);
    try {
      const resumed = await until(
        () => get(`${second.url}/v1/streams/f`),
        (x) => x.source_stats?.positionMs > 0,
      );
      // not from 0: the file goes on after what the saved context covers
      expect(resumed.source_stats.positionMs).toBeGreaterThanOrEqual(4000);
      const ended = await until(
        () => get(`${second.url}/v1/streams/f`),
        (x) => x.state === 'ended',
      );
      // 12 s at 2 fps: 24 frames in all, each taken once
      expect(ended.counters.sampled).toBeGreaterThanOrEqual(22);
      expect(ended.counters.sampled).toBeLessThanOrEqual(25);
      expect(before.counters.sampled).toBeLessThan(ended.counters.sampled);
    } finally {
      expect(await stop(second)).toBe(0);
    }
  }, 120_000);

  it('a second lvu serve on the same stateDir is refused before it opens a source or writes a file', async () => {
    const state = join(dir, 'lock');
    const first = await serve('lock', yaml(state));
    try {
      await until(
        async () => existsSync(join(state, 'streams/cam.arrow')),
        (x) => x,
      );
      first.proc.kill('SIGSTOP'); // frozen: the file cannot change under the check
      const mtime = statSync(join(state, 'streams/cam.arrow')).mtimeMs;
      const cfg = join(dir, 'lock2.yaml');
      writeFileSync(cfg, yaml(state));
      const r = spawnSync('node', [LVU, 'serve', '--config', cfg], { encoding: 'utf8', timeout: 60_000 });
      expect(r.status).toBe(2);
      expect(r.stderr).toMatch(/INVALID_CONFIG.*in use by lvu process \d+/s);
      expect(statSync(join(state, 'streams/cam.arrow')).mtimeMs).toBe(mtime);
      first.proc.kill('SIGCONT');
      // a port in use is a coded error too, not a stack trace
      const port = new URL(first.url).port;
      writeFileSync(cfg, `server: {port: ${port}}\n`);
      const p = spawnSync('node', [LVU, 'serve', '--config', cfg], { encoding: 'utf8', timeout: 60_000 });
      expect(p.status).toBe(2);
      expect(p.stderr).toMatch(/INVALID_CONFIG.*EADDRINUSE/s);
      expect(p.stderr).not.toMatch(/\n\s+at /);
    } finally {
      first.proc.kill('SIGCONT');
      expect(await stop(first)).toBe(0);
    }
  }, 120_000);
});

describe('admission control under load (autocannon)', () => {
  it('a burst of searches and questions gets 429 with Retry-After past the queue; the streams keep their rate', async () => {
    const s = await serve(
      'load',
      // the tiny ONNX models: text is encoded and answers generated in onnxruntime's worker threads, so requests
      // overlap as they do on a real model
      `server: {port: 0, maxConcurrentSearches: 1, maxConcurrentQueries: 1, maxQueued: 2}\nengine: {models: ${TINY}}\n` +
        `streams:\n  - {id: cam, source: 'lavfi:testsrc2=size=320x180:rate=25', realtime: true, fps: 2}\n`,
    );
    try {
      await until(
        () => get(`${s.url}/v1/streams/cam`),
        (x) => x.counters.windows >= 1,
      );
      const during: number[] = [];
      const poll = setInterval(() => {
        void fetch(`${s.url}/v1/streams`).then((r) => during.push(r.status));
      }, 500);
      const before = await get(`${s.url}/v1/streams/cam`);
      const run = (path: string, method: 'GET' | 'POST', body?: string) =>
        autocannon({
          url: `${s.url}${path}`,
          method,
          connections: 32,
          amount: 400,
          timeout: 20,
          ...(body ? { body, headers: { 'content-type': 'application/json' } } : {}),
        });
      const [searches, questions] = await Promise.all([
        run('/v1/streams/cam/search?q=a%20red%20ball&limit=5', 'GET'),
        run('/v1/streams/cam/query', 'POST', JSON.stringify({ question: 'What is in the scene?' })),
      ]);
      clearInterval(poll);
      const after = await get(`${s.url}/v1/streams/cam`);
      for (const r of [searches, questions]) {
        expect(r['2xx']).toBeGreaterThan(0);
        expect(r.statusCodeStats?.['429']?.count ?? 0).toBeGreaterThan(0);
        expect(r['5xx']).toBe(0);
        expect(r.errors).toBe(0);
      }
      const one = await fetch(`${s.url}/v1/streams/cam/search?q=red`);
      expect([200, 429]).toContain(one.status);
      // the API stayed responsive and the camera went on taking frames
      expect(during.length).toBeGreaterThan(0);
      expect(during.every((x) => x === 200)).toBe(true);
      expect(after.counters.sampled).toBeGreaterThan(before.counters.sampled);
      const metrics = await (await fetch(`${s.url}/metrics`)).text();
      expect(metrics).toMatch(/lvu_admission_rejected_total\{kind="searches"\} [1-9]/);
      const r429 = await Promise.all(
        Array.from({ length: 8 }, () => fetch(`${s.url}/v1/streams/cam/search?q=red`)),
      );
      const limited = r429.find((r) => r.status === 429);
      if (limited) expect(Number(limited.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    } finally {
      expect(await stop(s)).toBe(0);
    }
  }, 180_000);
});

describe('smaller observability and hygiene items', () => {
  it('a dead camera: no abort listener piles up per attempt; its error and up=0 show while it retries', async () => {
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on('warning', onWarning);
    const port = await freePort();
    const src = new VideoSource(`rtsp://127.0.0.1:${port}/x`, {
      reconnect: { initialDelayMs: 5, maxDelayMs: 10, maxAttempts: 25 },
      timeoutMs: 500,
    });
    try {
      for await (const _ of src) {
        // no frame ever comes
      }
    } catch (err) {
      expect((err as { code: string }).code).toBe('SOURCE_UNREACHABLE');
    } finally {
      process.off('warning', onWarning);
    }
    expect(src.stats.connects).toBe(0);
    // Node warns past 10 listeners on one signal: 25 attempts are well past that if each left one behind
    expect(warnings.filter((w) => w.name === 'MaxListenersExceededWarning')).toEqual([]);

    const s = await serve(
      'dead',
      `server: {port: 0}\nstreams:\n  - {id: dead, source: 'rtsp://127.0.0.1:${port}/x'}\n`,
    );
    try {
      const st = await until(
        () => get(`${s.url}/v1/streams/dead`),
        (x) => x.source_stats?.lastError !== null && x.source_stats?.lastError !== undefined,
      );
      expect(st.state).toBe('running');
      expect(st.source_stats.lastError.code).toBe('SOURCE_UNREACHABLE');
      const metrics = await (await fetch(`${s.url}/metrics`)).text();
      expect(metrics).toMatch(/lvu_stream_up\{stream="dead"\} 0/);
    } finally {
      await stop(s);
    }
  }, 120_000);

  it('a camera that accepts the connection and never answers is a timeout, not "invalid data"; with maxAttempts 1 the source gives up after it', async () => {
    const silent = createServer((sock) => sock.on('error', () => {})); // accepts, reads, never writes
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const port = (silent.address() as AddressInfo).port;
    const src = new VideoSource(`rtsp://127.0.0.1:${port}/x`, {
      timeoutMs: 1000,
      reconnect: { maxAttempts: 1 },
    });
    try {
      for await (const _ of src) {
        // nothing comes
      }
      throw new Error('no error');
    } catch (err) {
      // the one attempt allowed timed out: the source gives up, naming the attempts and the timeout
      expect((err as { code: string }).code).toBe('SOURCE_UNREACHABLE');
      expect((err as Error).message).toMatch(/gave up after 1 attempt in a row .*no answer within 1\.0 s/);
      expect((err as { details: { last: string } }).details.last).toBe('SOURCE_TIMEOUT');
      expect(((err as Error).cause as { code: string }).code).toBe('SOURCE_TIMEOUT');
    } finally {
      await src.stop();
      silent.close();
    }
  }, 60_000);

  it('the documented test camera serves a file of any container (vtest.avi, an MJPEG AVI) and loops it', async () => {
    const clip = makeVideo({ seconds: 3, encoder: 'mjpeg', container: 'avi' });
    for (const file of [VTEST, clip]) {
      const cam = new RtspServer(await freePort(), ['--file', file]);
      await cam.start();
      const src = new VideoSource(cam.url, { fps: 2, transport: 'tcp' });
      const frames: number[] = [];
      try {
        for await (const f of src) {
          frames.push(f.ptsMs);
          // the 3-s clip goes on past its end (looped), like a camera
          if (frames.length >= (file === clip ? 10 : 3)) break;
        }
      } finally {
        await src.stop();
        await cam.kill();
      }
      expect(frames.length, file).toBeGreaterThanOrEqual(3);
      if (file === clip) expect(frames.at(-1)! - frames[0]!).toBeGreaterThan(3000);
    }
  }, 120_000);

  it('corrupt frames of a damaged file are counted in /metrics; absurd retention is refused', async () => {
    const ts = makeVideo({ seconds: 10, encoder: 'libx264', container: 'ts', gop: 25 });
    const bad = Buffer.from(readFileSync(ts));
    const mid = Math.floor(bad.length / 2);
    for (let i = mid; i < mid + 40_000; i++) bad[i] = (i * 7919) & 0xff;
    const file = join(dir, 'damaged.ts');
    writeFileSync(file, bad);
    const s = await serve(
      'corrupt',
      `server: {port: 0}\nengine: {sourcePolicy: {fileDirs: [${dir}]}}\nstreams:\n  - {id: bad, source: ${file}}\n`,
    );
    try {
      const st = await until(
        () => get(`${s.url}/v1/streams/bad`),
        (x) => x.state === 'ended',
      );
      expect(st.source_stats.corrupt).toBeGreaterThan(0);
      const metrics = await (await fetch(`${s.url}/metrics`)).text();
      expect(metrics).toContain(`lvu_stream_corrupt_frames_total{stream="bad"} ${st.source_stats.corrupt}`);
      const r = await post(`${s.url}/v1/streams`, {
        id: 'big',
        source: 'lavfi:testsrc2=size=64x64:rate=5:d=2',
        retention: { maxFrames: 1e9 },
      });
      expect(r.status).toBe(400);
    } finally {
      await stop(s);
    }
  }, 120_000);
});

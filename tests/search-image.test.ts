// biome-ignore-all lint/suspicious/noExplicitAny: JSON bodies of the API under test
/**
 * Search by example image (issue 24, item 6): `POST /v1/search` with a JPEG, and `lvu search --image`, rank the
 * retained and spilled frames of the streams by feature similarity to it. The examples are frames cut out of the
 * videos by the ffmpeg CLI: one of a generated scene (red between 20 and 30 s), one of real footage (opencv-doc's
 * vtest.avi, a street camera).
 */
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { get, LVU, post, type Served, serve, stop, until } from './support/lvu-serve.js';
import { makeSceneVideo, VTEST } from './support/media.js';

let dir = '';
let s: Served;
let scene = '';

/** One frame of `video` at `seconds`, as the ffmpeg CLI cuts it: a JPEG file. */
function jpegAt(video: string, seconds: number, name: string): string {
  const out = join(dir, name);
  execFileSync('ffmpeg', [
    '-v',
    'error',
    '-ss',
    String(seconds),
    '-i',
    video,
    '-frames:v',
    '1',
    '-q:v',
    '3',
    '-y',
    out,
  ]);
  return out;
}

const b64 = (file: string) => readFileSync(file).toString('base64');

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'lvu-search-image-'));
  scene = makeSceneVideo(60);
  s = await serve(
    dir,
    'images',
    `server: {port: 0}\nstreams:\n  - {id: scene, source: ${scene}}\n  - {id: street, source: ${VTEST}, fps: 0.5}\n`,
  );
  for (const id of ['scene', 'street'])
    await until(
      () => get(`${s.url}/v1/streams/${id}`),
      (x) => x.state === 'ended',
    );
}, 180_000);

afterAll(async () => {
  if (s) await stop(s);
  rmSync(dir, { recursive: true, force: true });
});

describe('search by example image', () => {
  it('a red frame of the scene finds the red scene; a frame before it does not', async () => {
    const red = await post(`${s.url}/v1/search`, {
      streams: ['scene'],
      image: b64(jpegAt(scene, 25, 'red.jpg')),
    });
    const j = (await red.json()) as any;
    expect(red.status, JSON.stringify(j)).toBe(200);
    expect(j.q).toBe('(image)');
    const best = j.ranges[0];
    expect(best.streamId).toBe('scene');
    expect(best.best.ptsMs).toBeGreaterThanOrEqual(20_000);
    expect(best.best.ptsMs).toBeLessThan(30_000);
    expect(j.scanned.retained).toBeGreaterThan(0);
    const bars = (await (
      await post(`${s.url}/v1/search`, { streams: ['scene'], image: b64(jpegAt(scene, 5, 'bars.jpg')) })
    ).json()) as any;
    const b = bars.ranges[0].best.ptsMs;
    expect(b < 20_000 || b >= 30_000, `best ${b} ms`).toBe(true);
  });

  it("a frame of real footage finds its own camera's frames first, across streams; lvu search --image says so", async () => {
    const still = jpegAt(VTEST, 40, 'street.jpg');
    const r = (await (
      await post(`${s.url}/v1/search`, { streams: ['scene', 'street'], image: b64(still) })
    ).json()) as any;
    expect(r.clock).toBe('wall');
    expect(r.ranges[0].streamId).toBe('street');
    const street = r.ranges.filter((x: any) => x.streamId === 'street').map((x: any) => x.score);
    const sceneScores = r.ranges.filter((x: any) => x.streamId === 'scene').map((x: any) => x.score);
    expect(Math.max(...street)).toBeGreaterThan(Math.max(...sceneScores, -1));
    const { stdout } = await promisify(execFile)('node', [
      LVU,
      'search',
      s.url,
      'scene,street',
      '--image',
      still,
    ]);
    expect(stdout.split('\n')[0]).toMatch(/^street \d\d:\d\d–\d\d:\d\d {2}best \d\d:\d\d {2}score /);
    expect(stdout).toMatch(/ranges from \d+ retained and \d+ spilled frames/);
    // text search through the same command
    const text = await promisify(execFile)('node', [LVU, 'search', s.url, 'scene', 'When is the scene red?']);
    expect(text.stdout.split('\n')[0]).toMatch(/ best 00:2\d /);
  });

  it('what is not a JPEG, or names an unknown stream, is a clear error; nothing retained is lost', async () => {
    const before = (await get(`${s.url}/v1/streams/scene`)).store;
    for (const [body, status, code, field] of [
      [
        { streams: ['scene'], image: Buffer.from('not an image at all').toString('base64') },
        400,
        'UNSUPPORTED_MEDIA',
        'image',
      ],
      [{ streams: ['scene'], image: '%%%' }, 400, 'INVALID_ARGUMENT', 'image'],
      [{ streams: ['nope'], image: b64(join(dir, 'red.jpg')) }, 404, 'STREAM_NOT_FOUND', 'id'],
      [{ streams: [], image: b64(join(dir, 'red.jpg')) }, 400, 'INVALID_ARGUMENT', 'streams'],
    ] as const) {
      const r = await post(`${s.url}/v1/search`, body);
      const e = (await r.json()) as any;
      expect([r.status, e.error, e.field], JSON.stringify(e)).toEqual([status, code, field]);
      expect(e.hint.length).toBeGreaterThan(0);
    }
    expect((await get(`${s.url}/v1/streams/scene`)).store).toEqual(before);
  });
});

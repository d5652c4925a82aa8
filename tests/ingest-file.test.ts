import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SampledFrame } from '@lvu/core';
import { VideoSource } from '@lvu/ffmpeg';
import { describe, expect, it } from 'vitest';
import { collect } from './support/consume.js';
import { makeVideo, VTEST } from './support/media.js';

function expectWellFormed(frames: SampledFrame[], sizes: number[]) {
  frames.forEach((f, i) => {
    expect(f.seq).toBe(i);
    if (i > 0) expect(f.ptsMs).toBeGreaterThan(frames[i - 1]!.ptsMs);
    for (const s of sizes) expect(f.images[s]!.length).toBe(s * s * 3);
  });
}

describe('file sources (videos generated with node-av)', () => {
  const codecs = [
    ['libx264', 'mp4', 'h264'],
    ['libx265', 'mkv', 'hevc'],
    ['libsvtav1', 'mkv', 'av1'],
    ['mpeg4', 'avi', 'mpeg4'],
    ['mjpeg', 'avi', 'mjpeg'],
  ] as const;
  for (const [encoder, container, codec] of codecs) {
    it(`${codec} in ${container}: one frame per second of media, pts monotonic, every size produced`, async () => {
      const file = makeVideo({ seconds: 4, encoder, container, gop: 25 });
      const r = await collect(file, { fps: 1, sizes: [378, 384] });
      expect(r.error).toBeNull();
      expect(r.frames.map((f) => f.ptsMs)).toEqual([0, 1000, 2000, 3000]);
      expectWellFormed(r.frames, [378, 384]);
      expect(r.stats.info).toMatchObject({ width: 320, height: 240 });
      expect(r.stats.info!.codec).toContain(codec === 'av1' ? 'av1' : codec === 'mpeg4' ? 'mpeg4' : codec);
      expect(r.events.map((e) => e.type)).toEqual(['source.connected', 'source.ended']);
    });
  }

  it('sampling rates 0.5, 1 and 2 fps give duration × fps frames', async () => {
    const file = makeVideo({ seconds: 10, encoder: 'libx264', container: 'mp4', gop: 50 });
    for (const [fps, n] of [
      [0.5, 5],
      [1, 10],
      [2, 20],
    ] as const) {
      const r = await collect(file, { fps });
      expect(r.frames).toHaveLength(n);
      expectWellFormed(r.frames, [384]);
    }
  });

  it('variable frame rate keeps one frame per second', async () => {
    // drop 4 of every 10 frames: irregular gaps of 40 and 200 ms
    const file = makeVideo({
      seconds: 8,
      encoder: 'libx264',
      container: 'mkv',
      filter: 'select=lt(mod(n\\,10)\\,6)',
    });
    const r = await collect(file, { fps: 1 });
    expect(r.frames).toHaveLength(8);
    for (let i = 1; i < r.frames.length; i++) {
      const d = r.frames[i]!.ptsMs - r.frames[i - 1]!.ptsMs;
      expect(d).toBeGreaterThanOrEqual(800);
      expect(d).toBeLessThanOrEqual(1200);
    }
  });

  it('keyframes mode decodes only key frames and samples the same instants when the GOP divides the interval', async () => {
    const file = makeVideo({ seconds: 10, encoder: 'libx264', container: 'mp4', gop: 25 });
    const exact = await collect(file, { fps: 0.5 });
    const key = await collect(file, { fps: 0.5, sampling: 'keyframes' });
    expect(key.frames.map((f) => f.ptsMs)).toEqual(exact.frames.map((f) => f.ptsMs));
    expect(key.stats.decoded).toBeLessThan(exact.stats.decoded / 10);
  });

  it('exact sampling skips non-reference frames no instant needs, and samples exactly the frames decoding all gives', async () => {
    // two B-frames between references (libx264 makes them non-reference); 25 fps, GOP 50; also vtest.avi (MPEG-4)
    const file = makeVideo({ seconds: 12, encoder: 'libx264', container: 'mp4', gop: 50, bFrames: 2 });
    for (const src of [file, VTEST]) {
      const all = await collect(src, { fps: 1, sizes: [96], skipNonReference: false });
      const some = await collect(src, { fps: 1, sizes: [96] });
      expect(some.frames.map((f) => f.ptsMs)).toEqual(all.frames.map((f) => f.ptsMs));
      some.frames.forEach((f, i) => {
        expect(Buffer.compare(Buffer.from(f.images[96]!), Buffer.from(all.frames[i]!.images[96]!))).toBe(0);
      });
      // libx264's B-pyramid makes one B-frame of each pair a reference: about a third of the frames are skipped
      if (src === file) expect(some.stats.decoded).toBeLessThan(all.stats.decoded * 0.8);
      expect(some.stats.corrupt).toBe(0);
    }
  });

  it('a mid-stream resolution change is followed (frames keep the requested sizes)', async () => {
    const a = makeVideo({
      seconds: 3,
      encoder: 'libx264',
      container: 'ts',
      source: 'testsrc2=size=320x240:rate=25',
    });
    const b = makeVideo({
      seconds: 3,
      encoder: 'libx264',
      container: 'ts',
      source: 'testsrc2=size=640x360:rate=25',
      filter: 'setpts=PTS+3/TB',
    });
    const dir = mkdtempSync(join(tmpdir(), 'lvu-res-'));
    const joined = join(dir, 'joined.ts');
    writeFileSync(joined, Buffer.concat([readFileSync(a), readFileSync(b)]));
    const r = await collect(joined, { fps: 1 });
    expect(r.error).toBeNull();
    const sizes = r.frames.map((f) => `${f.width}x${f.height}`);
    expect(sizes[0]).toBe('320x240');
    expect(sizes.at(-1)).toBe('640x360');
    expect(r.frames.length).toBeGreaterThanOrEqual(5);
    expectWellFormed(r.frames, [384]);
  });

  it('real camera footage (opencv-doc vtest.avi, 79.5 s at 10 fps): 80 frames at 1 fps, 40 at 0.5 fps', async () => {
    const r = await collect(VTEST, { fps: 1 });
    expect(r.frames).toHaveLength(80);
    expect(r.stats.info).toMatchObject({ width: 768, height: 576, fps: 10 });
    expectWellFormed(r.frames, [384]);
    expect((await collect(VTEST, { fps: 0.5 })).frames).toHaveLength(40);
  });

  it('pads to square with the mean colour (LongVU expand2square): the 4:3 frame has grey bars top and bottom', async () => {
    const src = new VideoSource(VTEST, { fps: 1, sizes: [384], fill: [127, 127, 127] });
    const it = src[Symbol.asyncIterator]();
    const f = (await it.next()).value as SampledFrame;
    await it.return!();
    const img = f.images[384]!;
    // 768×576 → 384×288, offset 48 rows: rows 0..47 and 336..383 are the fill colour
    const px = (x: number, y: number) => Array.from(img.subarray((y * 384 + x) * 3, (y * 384 + x) * 3 + 3));
    expect(px(10, 10)).toEqual([127, 127, 127]);
    expect(px(200, 380)).toEqual([127, 127, 127]);
    expect(px(200, 200)).not.toEqual([127, 127, 127]);
  });

  it('realtime pacing replays at media speed', async () => {
    const file = makeVideo({ seconds: 3, encoder: 'libx264', container: 'mp4', gop: 25 });
    const r = await collect(file, { fps: 2, pacing: 'realtime' });
    expect(r.frames).toHaveLength(6);
    // 6 frames at 2 fps span 2.5 s of media: a paced replay spreads them over about as much wall time
    expect(r.frames.at(-1)!.wallMs - r.frames[0]!.wallMs).toBeGreaterThanOrEqual(2000);
  });
});

describe('bad input', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lvu-bad-'));

  it('a missing file is NOT_FOUND', async () => {
    const r = await collect(join(dir, 'missing.mp4'));
    expect(r.error).toMatchObject({ code: 'NOT_FOUND' });
    expect(r.frames).toHaveLength(0);
  });

  it('a text file named .mp4 is DECODE_FAILED', async () => {
    writeFileSync(join(dir, 'notes.mp4'), 'this is not a video\n'.repeat(100));
    const r = await collect(join(dir, 'notes.mp4'));
    expect(r.error).toMatchObject({ code: 'DECODE_FAILED' });
  });

  it('a file whose video cannot be decoded at all is DECODE_FAILED, not an empty success', async () => {
    const mp4 = makeVideo({ seconds: 2, encoder: 'libx264', container: 'ts', gop: 25 });
    const bytes = Buffer.from(readFileSync(mp4));
    // keep the container intact but scramble every payload byte after the first packets
    for (let i = 188 * 8; i < bytes.length; i++) if (i % 188 > 4) bytes[i] = (i * 31) & 0xff;
    const file = join(dir, 'scrambled.ts');
    writeFileSync(file, bytes);
    const r = await collect(file);
    expect(r.frames).toHaveLength(0);
    expect(r.error).toMatchObject({
      code: 'DECODE_FAILED',
      message: expect.stringContaining('no video frame'),
    });
  });

  it('a video codec FFmpeg cannot decode is UNSUPPORTED_MEDIA', async () => {
    const avi = Buffer.from(readFileSync(makeVideo({ seconds: 2, encoder: 'mpeg4', container: 'avi' })));
    // rename the stream's FourCC (strh handler and strf compression) to one no decoder claims
    let patched = 0;
    for (const tag of ['FMP4', 'fmp4', 'DIVX', 'XVID', 'MP4V']) {
      for (let i = avi.indexOf(tag); i >= 0 && i < 4096; i = avi.indexOf(tag, i + 4)) {
        avi.write('QQQQ', i, 'latin1');
        patched++;
      }
    }
    expect(patched).toBeGreaterThan(0);
    const file = join(dir, 'unknown-codec.avi');
    writeFileSync(file, avi);
    const r = await collect(file);
    expect(r.error).toMatchObject({ code: 'UNSUPPORTED_MEDIA' });
    expect(r.frames).toHaveLength(0);
  });

  it('a file without video (audio only) is UNSUPPORTED_MEDIA', async () => {
    const r = await collect('lavfi:sine=frequency=440:duration=1');
    expect(r.error).toMatchObject({ code: 'UNSUPPORTED_MEDIA' });
  });

  it('a truncated file gives the frames before the cut, then ends', async () => {
    const ts = makeVideo({ seconds: 6, encoder: 'libx264', container: 'ts', gop: 25 });
    const cut = join(dir, 'cut.ts');
    writeFileSync(cut, readFileSync(ts).subarray(0, Math.floor(statSync(ts).size / 2)));
    const r = await collect(cut);
    expect(r.error).toBeNull();
    expect(r.frames.length).toBeGreaterThanOrEqual(2);
    expect(r.frames.length).toBeLessThan(6);
  });

  it('corrupt packets in the middle are skipped and decoding goes on to the end', async () => {
    const ts = makeVideo({ seconds: 8, encoder: 'libx264', container: 'ts', gop: 25 });
    const bytes = readFileSync(ts);
    const bad = Buffer.from(bytes);
    const mid = Math.floor(bad.length / 2);
    for (let i = mid; i < mid + 20_000; i++) bad[i] = (i * 7919) & 0xff;
    const file = join(dir, 'corrupt.ts');
    writeFileSync(file, bad);
    const r = await collect(file);
    expect(r.error).toBeNull();
    expect(r.frames.at(-1)!.ptsMs).toBeGreaterThanOrEqual(6000);
    expectWellFormed(r.frames, [384]);
  });

  it('a bad source never affects another stream in the same process', async () => {
    const good = makeVideo({ seconds: 4, encoder: 'libx264', container: 'mp4', gop: 25 });
    copyFileSync(good, join(dir, 'good.mp4'));
    const [a, b, c] = await Promise.all([
      collect(join(dir, 'good.mp4')),
      collect(join(dir, 'missing.mkv')),
      collect(join(dir, 'notes.mp4')),
    ]);
    expect(a.error).toBeNull();
    expect(a.frames).toHaveLength(4);
    expect(b.error).toMatchObject({ code: 'NOT_FOUND' });
    expect(c.error).toMatchObject({ code: 'DECODE_FAILED' });
  });

  it('bad options name the field', () => {
    expect(() => new VideoSource(VTEST, { fps: 0 })).toThrow(expect.objectContaining({ field: 'fps' }));
    expect(() => new VideoSource(VTEST, { sizes: [] })).toThrow(expect.objectContaining({ field: 'sizes' }));
    expect(() => new VideoSource('')).toThrow(expect.objectContaining({ field: 'source' }));
    expect(() => new VideoSource('ftp://cam/x')).toThrow(
      expect.objectContaining({ code: 'UNSUPPORTED_MEDIA' }),
    );
  });

  it('lvu ingest prints one JSON line per frame and per event', () => {
    const out = execFileSync(
      process.execPath,
      ['packages/cli/bin/lvu.js', 'ingest', VTEST, '--json', '--max-frames', '3'],
      {
        encoding: 'utf8',
      },
    );
    const lines = out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines[0]).toMatchObject({ event: 'connected', width: 768, height: 576 });
    const frames = lines.filter((l) => 'seq' in l);
    expect(frames).toHaveLength(3);
    expect(frames[2]).toMatchObject({ seq: 2, ptsMs: 2000, width: 768, height: 576 });
    expect(Object.keys(frames[0]).sort()).toEqual(['height', 'ptsMs', 'seq', 'streamId', 'wallMs', 'width']);
  });
});

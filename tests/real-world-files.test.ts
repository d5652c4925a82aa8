/**
 * Files as they come from the real world: rotated phone videos, files cut in the middle, audio-only files. Each is
 * made with the ffmpeg CLI (a peer nobody here wrote) and checked against what the CLI itself does with it.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, statSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { collect } from './support/consume.js';
import { mediaDir } from './support/media.js';

const ffmpeg = (...args: string[]) => execFileSync('ffmpeg', ['-v', 'error', '-y', ...args]);

function cached(name: string, make: (out: string) => void): string {
  mkdirSync(mediaDir, { recursive: true });
  const out = join(mediaDir, name);
  if (!existsSync(out)) {
    const tmp = join(mediaDir, `tmp-${name}`);
    make(tmp);
    execFileSync('mv', [tmp, out]);
  }
  return out;
}

/** The dominant channel (0 r, 1 g, 2 b) of a pixel. */
const dominant = (rgb: Uint8Array, w: number, x: number, y: number) => {
  const i = (y * w + x) * 3;
  const p = [rgb[i]!, rgb[i + 1]!, rgb[i + 2]!];
  return p.indexOf(Math.max(...p));
};

describe('rotation metadata', () => {
  // 320×240, red top-left quadrant on blue; tagged rotate=90 the way a phone tags a portrait video
  const plain = cached('quadrant.mp4', (out) =>
    ffmpeg(
      '-f',
      'lavfi',
      '-i',
      'color=red:size=160x120:rate=5,pad=320:240:0:0:blue',
      '-frames:v',
      '10',
      '-c:v',
      'libx264',
      '-pix_fmt',
      'yuv444p',
      out,
    ),
  );
  const rotated = cached('quadrant-rotate90.mp4', (out) =>
    ffmpeg('-i', plain, '-c', 'copy', '-metadata:s:v', 'rotate=90', out),
  );

  it('a file tagged rotate=90 is turned upright as the ffmpeg CLI shows it, and differs from the unrotated file', async () => {
    // the CLI's own picture (autorotate on by default)
    const cli = execFileSync('ffmpeg', [
      '-v',
      'error',
      '-i',
      rotated,
      '-frames:v',
      '1',
      '-f',
      'rawvideo',
      '-pix_fmt',
      'rgb24',
      '-',
    ]);
    expect(cli.length).toBe(240 * 320 * 3); // shown 240 wide, 320 high
    const r = await collect(rotated, { sizes: [64], resize: 'stretch' });
    expect(r.error).toBeNull();
    expect(r.stats.info).toMatchObject({ width: 240, height: 320, rotation: 270 });
    expect(r.frames[0]).toMatchObject({ width: 240, height: 320 });
    const ours = r.frames[0]!.images[64]!;
    for (const [fx, fy] of [
      [0.1, 0.1],
      [0.9, 0.1],
      [0.1, 0.9],
      [0.9, 0.9],
      [0.3, 0.7],
      [0.7, 0.3],
    ] as const) {
      expect(dominant(ours, 64, Math.floor(fx * 64), Math.floor(fy * 64)), `at ${fx},${fy}`).toBe(
        dominant(cli, 240, Math.floor(fx * 240), Math.floor(fy * 320)),
      );
    }
    const u = await collect(plain, { sizes: [64], resize: 'stretch' });
    expect(u.stats.info).toMatchObject({ width: 320, height: 240, rotation: 0 });
    expect(Buffer.compare(Buffer.from(u.frames[0]!.images[64]!), Buffer.from(ours))).not.toBe(0);
    // pad: the portrait picture is centred with the fill on both sides
    const p = await collect(rotated, { sizes: [64], resize: 'pad' });
    const img = p.frames[0]!.images[64]!;
    expect([img[(32 * 64 + 1) * 3], img[(32 * 64 + 1) * 3 + 1], img[(32 * 64 + 1) * 3 + 2]]).toEqual([
      127, 127, 127,
    ]);
    // autorotate off: the stored picture
    const off = await collect(rotated, { sizes: [64], resize: 'stretch', autorotate: false });
    expect(off.stats.info).toMatchObject({ width: 320, height: 240, rotation: 0 });
    expect(Buffer.from(off.frames[0]!.images[64]!).equals(Buffer.from(u.frames[0]!.images[64]!))).toBe(true);
  });
});

describe('files cut in the middle', () => {
  const full = cached('sixty-seconds.mp4', (out) =>
    ffmpeg(
      '-f',
      'lavfi',
      '-i',
      'testsrc2=size=320x240:rate=25:duration=60',
      '-c:v',
      'libx264',
      '-g',
      '50',
      '-movflags',
      '+faststart',
      out,
    ),
  );
  const cut = (ext: 'mp4' | 'mkv') => {
    const src =
      ext === 'mp4' ? full : cached('sixty-seconds.mkv', (out) => ffmpeg('-i', full, '-c', 'copy', out));
    const out = join(mediaDir, `cut-${ext}-${Date.now()}.${ext}`);
    copyFileSync(src, out);
    truncateSync(out, Math.floor(statSync(src).size * 0.4)); // a copy interrupted at 40 %
    return out;
  };

  for (const ext of ['mp4', 'mkv'] as const) {
    it(`${ext}: what was before the cut is delivered, and the source says where it ended and why`, async () => {
      const r = await collect(cut(ext));
      expect(r.error).toBeNull();
      expect(r.frames.length).toBeGreaterThan(10);
      expect(r.frames.length).toBeLessThan(40);
      expect(r.stats.truncated).toMatchObject({ durationMs: 60_000 });
      expect(r.stats.truncated!.positionMs).toBeLessThan(40_000);
      const t = r.events.find((e) => e.type === 'source.truncated');
      expect(t).toMatchObject({ code: 'TRUNCATED_MEDIA', durationMs: 60_000 });
      expect((t as { hint: string }).hint).toContain('cut');
      expect(r.events.at(-1)).toMatchObject({ type: 'source.ended', truncated: true });
    });
  }

  it('the complete file is not flagged', async () => {
    const r = await collect(full, { fps: 0.2 });
    expect(r.frames).toHaveLength(12);
    expect(r.stats.truncated).toBeNull();
    expect(r.events.some((e) => e.type === 'source.truncated')).toBe(false);
  });

  it('lvu replay of a cut file: the answer over what it has, replay.truncated, a coded warning and exit status 3', () => {
    const file = cut('mp4');
    const run = (f: string) => {
      try {
        return {
          status: 0,
          stdout: execFileSync(process.execPath, ['packages/cli/bin/lvu.js', 'replay', f, '--json'], {
            encoding: 'utf8',
            stdio: ['ignore', 'pipe', 'pipe'],
          }),
          stderr: '',
        };
      } catch (e) {
        const x = e as { status: number; stdout: string; stderr: string };
        return { status: x.status, stdout: x.stdout, stderr: String(x.stderr) };
      }
    };
    const r = run(file);
    expect(r.status).toBe(3);
    const out = JSON.parse(r.stdout);
    expect(out.replay.truncated).toMatchObject({ durationMs: 60_000 });
    expect(out.replay.sampled).toBeGreaterThan(10);
    expect(out.totalTokens).toBeGreaterThan(0);
    expect(JSON.parse(r.stderr.trim().split('\n').at(-1)!)).toMatchObject({
      error: 'TRUNCATED_MEDIA',
      field: 'source',
    });
    const ok = run(full);
    expect(ok.status).toBe(0);
    expect(JSON.parse(ok.stdout).replay.truncated).toBeNull();
  });
});

describe('files that are not video', () => {
  it('an audio-only file: UNSUPPORTED_MEDIA that says there is no video track, not that FFmpeg lacks a codec', async () => {
    const audio = cached('tone.m4a', (out) =>
      ffmpeg('-f', 'lavfi', '-i', 'sine=frequency=440:duration=3', '-c:a', 'aac', out),
    );
    const r = await collect(audio);
    expect(r.error).toMatchObject({ code: 'UNSUPPORTED_MEDIA', field: 'source' });
    const e = r.error as { message: string; hint: string };
    expect(e.message).toContain('no video stream (streams: audio)');
    expect(e.hint).toContain('audio only');
    expect(e.hint).not.toContain('FFmpeg build');
  });
});

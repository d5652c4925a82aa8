/** Inputs the benchmarks share: generated videos and the `small` model export, cached under .cache/. */
import { execFileSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const cache = join(root, '.cache/bench');

/** The exporter's Python (the virtualenv, created on first use). */
export function exportPython(): string {
  return execFileSync(join(root, 'tools/python-env.sh'), [join(root, 'tools/requirements-export.txt')], {
    encoding: 'utf8',
  }).trim();
}

/** `.cache/models/small` (random weights), re-exported when the exporter changed since. */
export function ensureSmallModels(python = exportPython()): string {
  const small = join(root, '.cache/models/small');
  // re-export when the exporter changed since the cached export
  const exportedAt = existsSync(join(small, 'manifest.json'))
    ? statSync(join(small, 'manifest.json')).mtimeMs
    : 0;
  const exporterAt = Math.max(
    ...readdirSync(join(root, 'tools/export'))
      .filter(
        (f) =>
          f.endsWith('.py') &&
          !f.startsWith('test_') &&
          !['checkpoint_testing.py', 'variants.py'].includes(f),
      )
      .map((f) => statSync(join(root, 'tools/export', f)).mtimeMs),
  );
  if (exportedAt < exporterAt) {
    process.stderr.write('exporting the small preset (random weights)…\n');
    execFileSync(
      python,
      [join(root, 'tools/export/export.py'), '--random', '--preset', 'small', '--out', small],
      {
        stdio: ['ignore', 'ignore', 'inherit'],
      },
    );
  }
  return small;
}

/** The `small` export with int8 and float16 variants of its vision networks (tools/export/variants.py), once. */
export function ensureSmallVariants(python = exportPython()): string {
  const small = ensureSmallModels(python);
  const manifest = JSON.parse(readFileSync(join(small, 'manifest.json'), 'utf8'));
  if (!manifest.models?.dino?.variants?.int8) {
    execFileSync(python, [join(root, 'tools/export/variants.py'), small, '--roles', 'dino,siglip'], {
      stdio: ['ignore', 'ignore', 'inherit'],
    });
  }
  return small;
}

/** A 1280×720 25 fps test pattern of `minutes` encoded by the ffmpeg CLI's libx264 with `x264` options, once. */
function ensureH264(out: string, minutes: number, x264: string[]): string {
  mkdirSync(dirname(out), { recursive: true });
  if (!existsSync(out)) {
    process.stderr.write(`generating ${out} with the ffmpeg CLI…\n`);
    const src = ['-nostdin', '-v', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=size=1280x720:rate=25'];
    execFileSync('ffmpeg', [
      ...src,
      '-t',
      String(minutes * 60),
      '-c:v',
      'libx264',
      ...x264,
      `${out}.tmp.mp4`,
    ]);
    renameSync(`${out}.tmp.mp4`, out);
  }
  return out;
}

/**
 * A 1280×720 25 fps H.264 file with B-frames (libx264 `veryfast`: 3 B-frames, B-pyramid, so two of every three are
 * non-reference frames), as cameras' and broadcasters' encoders write.
 */
export function ensureBframeVideo(minutes: number): string {
  return ensureH264(join(root, `.cache/bench/h264-720p25-bframes-${minutes}min.mp4`), minutes, [
    '-preset',
    'veryfast',
    '-bf',
    '3',
    '-g',
    '50',
    '-pix_fmt',
    'yuv420p',
  ]);
}

export function ensureVideos(minutes: number): { ten: string; sixty: string } {
  mkdirSync(cache, { recursive: true });
  // no B-frames (ultrafast): every frame a reference
  const ten = ensureH264(join(cache, `h264-720p25-gop50-${minutes}min.mp4`), minutes, [
    '-preset',
    'ultrafast',
    '-g',
    '50',
    '-pix_fmt',
    'yuv420p',
  ]);
  const sixty = join(cache, `h264-720p25-gop50-${minutes * 6}min.mp4`);
  if (!existsSync(sixty)) {
    const list = join(cache, 'concat.txt');
    writeFileSync(list, Array.from({ length: 6 }, () => `file '${ten}'\n`).join(''));
    execFileSync('ffmpeg', [
      '-nostdin',
      '-v',
      'error',
      '-y',
      '-f',
      'concat',
      '-safe',
      '0',
      '-i',
      list,
      '-c',
      'copy',
      `${sixty}.tmp.mp4`,
    ]);
    renameSync(`${sixty}.tmp.mp4`, sixty);
  }
  return { ten, sixty };
}

/** A TCP port free on 127.0.0.1 right now (for the RTSP servers and the Kafka broker the benchmarks start). */
export function freePort(): Promise<number> {
  return new Promise((res) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => res(p));
    });
  });
}

/**
 * `npm run bench -- ingest --json`: our file ingest (node-av in a worker thread) against the ffmpeg CLI from Debian
 * doing the same job (`ffmpeg -i F -vf fps=1,scale=384:384 -pix_fmt rgb24 -f rawvideo -`), same files, same run.
 * Figures: wall and CPU time, median of `runs`, ratio ours/ffmpeg, for `exact` and `keyframes` sampling; peak RSS
 * and RSS at 10 and 60 minutes of media over a 60-minute file; the main thread's event-loop delay p99 while decoding.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { VideoSource, type VideoSourceInput } from '@lvu/ffmpeg';
import { ensureBframeVideo, ensureVideos } from './fixtures.js';
import type { BenchOptions, BenchRow } from './run.js';
import { median } from './stats.js';

const VTEST = '/usr/share/doc/opencv-doc/examples/data/vtest.avi';

/** The ffmpeg CLI baseline: wall time, and user+sys CPU of the child from bash's `times`. */
function ffmpegRun(file: string): { wallMs: number; cpuMs: number; frames: number } {
  const t = performance.now();
  const r = spawnSync(
    'bash',
    [
      '-c',
      `ffmpeg -nostdin -v error -i "$1" -vf fps=1,scale=384:384 -pix_fmt rgb24 -f rawvideo - | wc -c; times`,
      'bench',
      file,
    ],
    { encoding: 'utf8', maxBuffer: 1 << 20 },
  );
  const wallMs = performance.now() - t;
  const lines = r.stdout.trim().split('\n');
  const bytes = Number(lines[0]);
  const [u, s] = lines
    .at(-1)!
    .split(/\s+/)
    .map((x) => {
      const m = /(\d+)m([\d.]+)s/.exec(x)!;
      return (Number(m[1]) * 60 + Number(m[2])) * 1000;
    });
  return { wallMs, cpuMs: u! + s!, frames: bytes / (384 * 384 * 3) };
}

async function oursRun(
  file: string,
  o: VideoSourceInput,
  sampleRss?: (mediaMs: number, rssMb: number) => void,
) {
  const h = monitorEventLoopDelay({ resolution: 5 });
  const cpu0 = process.cpuUsage();
  const t = performance.now();
  h.enable();
  const src = new VideoSource(file, { fps: 1, sizes: [384], ...o });
  let frames = 0;
  let lastSample = 0;
  for await (const f of src) {
    frames++;
    if (sampleRss && f.ptsMs - lastSample >= 60_000) {
      lastSample = f.ptsMs;
      sampleRss(f.ptsMs, process.memoryUsage().rss / 1e6);
    }
  }
  h.disable();
  const wallMs = performance.now() - t;
  const c = process.cpuUsage(cpu0);
  return {
    wallMs,
    cpuMs: (c.user + c.system) / 1000,
    frames,
    loopP99Ms: h.percentile(99) / 1e6,
    loopMaxMs: h.max / 1e6,
  };
}

export async function run(opts: BenchOptions): Promise<BenchRow[]> {
  const runs = Math.max(1, Math.min(opts.runs, 3));
  const { ten, sixty } = ensureVideos(opts.quick ? 1 : 10);
  const rows: BenchRow[] = [];
  const ffVersion = execFileSync('ffmpeg', ['-version'], { encoding: 'utf8' }).split('\n')[0]!;
  const files: [string, string][] = [
    [opts.quick ? '1-minute 1280×720 H.264 25 fps GOP 50' : '10-minute 1280×720 H.264 25 fps GOP 50', ten],
    [
      `${opts.quick ? '1' : '10'}-minute 1280×720 H.264 25 fps GOP 50 with B-frames (libx264 veryfast, 3 B, pyramid)`,
      ensureBframeVideo(opts.quick ? 1 : 10),
    ],
    ['opencv-doc vtest.avi (768×576 MPEG-4 part 2, 10 fps, 79.5 s)', VTEST],
  ];
  // LVU_BENCH_FILES=bframes (or plain, vtest): only those files, and no hour-long memory pass
  const only = process.env.LVU_BENCH_FILES?.split(',');
  const keys = ['plain', 'bframes', 'vtest'];
  for (const [k, [label, file]] of files.entries()) {
    if (only && !only.includes(keys[k]!)) continue;
    const ff = Array.from({ length: runs }, () => ffmpegRun(file));
    const ffWall = median(ff.map((r) => r.wallMs));
    const ffCpu = median(ff.map((r) => r.cpuMs));
    for (const [mode, o] of [
      [
        'exact, stretch, every frame decoded (the same work as the CLI)',
        { resize: 'stretch', threads: 0, skipNonReference: false },
      ],
      ['exact, stretch, non-reference frames no instant needs skipped', { resize: 'stretch', threads: 0 }],
      ['exact, pad (LongVU preprocessing)', { resize: 'pad', threads: 0 }],
      ['keyframes, stretch', { resize: 'stretch', sampling: 'keyframes', threads: 0 }],
    ] as const) {
      const ours = [];
      for (let i = 0; i < runs; i++) ours.push(await oursRun(file, o));
      const wall = median(ours.map((r) => r.wallMs));
      const cpu = median(ours.map((r) => r.cpuMs));
      rows.push({
        bench: 'ingest',
        case: `${label}: ${mode}, 1 fps → 384×384 RGB`,
        baseline: `${ffVersion}: -vf fps=1,scale=384:384 -pix_fmt rgb24 -f rawvideo`,
        runs,
        oursWallMs: Math.round(wall),
        ffmpegWallMs: Math.round(ffWall),
        wallRatio: Number((wall / ffWall).toFixed(3)),
        oursCpuMs: Math.round(cpu),
        ffmpegCpuMs: Math.round(ffCpu),
        cpuRatio: Number((cpu / ffCpu).toFixed(3)),
        oursFrames: ours[0]!.frames,
        ffmpegFrames: ff[0]!.frames,
        eventLoopDelayP99Ms: Number(median(ours.map((r) => r.loopP99Ms)).toFixed(2)),
        eventLoopDelayMaxMs: Number(Math.max(...ours.map((r) => r.loopMaxMs)).toFixed(2)),
      });
    }
  }
  if (only) return rows;
  // memory over a long file: one exact pass, RSS sampled every minute of media
  const samples: [number, number][] = [];
  const r = await oursRun(sixty, { resize: 'pad', threads: 0 }, (ms, mb) => samples.push([ms, mb]));
  const at = (min: number) => samples.find(([ms]) => ms >= min * 60_000)?.[1] ?? samples.at(-1)?.[1] ?? 0;
  const minutes = opts.quick ? [1, 6] : [10, 60];
  rows.push({
    bench: 'ingest',
    case: `RSS over a ${opts.quick ? 6 : 60}-minute 720p file (exact, pad, 1 fps)`,
    rssMbAt: {
      [`${minutes[0]}min`]: Math.round(at(minutes[0]!)),
      [`${minutes[1]}min`]: Math.round(at(minutes[1]! - 1)),
    },
    peakRssMb: Math.round(process.resourceUsage().maxRSS / 1024),
    frames: r.frames,
    wallMs: Math.round(r.wallMs),
    eventLoopDelayP99Ms: Number(r.loopP99Ms.toFixed(2)),
    rssMbPerMinute: samples.map(([ms, mb]) => [Math.round(ms / 60_000), Math.round(mb)]),
  });
  return rows;
}

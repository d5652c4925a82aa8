/**
 * Test videos made with node-av (FFmpeg's lavfi sources encoded by node-av's encoders), cached per spec in
 * .cache/media. Runs in a child process: encoding must not share a process with the code under test.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { repoRoot } from './paths.js';

export interface VideoSpec {
  /** lavfi graph, e.g. testsrc2=size=320x240:rate=25 (duration added). */
  source?: string;
  seconds: number;
  encoder: 'libx264' | 'libx265' | 'libsvtav1' | 'mpeg4' | 'mjpeg';
  container: 'mp4' | 'mkv' | 'avi' | 'ts';
  gop?: number;
  /** Extra lavfi filters after the source (e.g. select for variable frame rate). */
  filter?: string;
  /** Consecutive B-frames (default 0); libx264 makes the ones between references non-reference frames. */
  bFrames?: number;
}

export const mediaDir = resolve(repoRoot, '.cache/media');

const SCRIPT = `
if (!Promise.withResolvers) Promise.withResolvers = function () { let resolve, reject; const promise = new Promise((a, b) => { resolve = a; reject = b; }); return { promise, resolve, reject }; };
const { Demuxer, Decoder, Encoder, Muxer } = await import('node-av');
const [graph, encoderName, out, gop, bf] = process.argv.slice(2);
const input = Demuxer.openSync(graph, { format: 'lavfi' });
const vs = input.video();
const dec = Decoder.createSync(vs);
const enc = Encoder.createSync(encoderName, { decoder: dec, bitrate: '800k', gopSize: Number(gop), maxBFrames: Number(bf ?? 0) });
const mux = Muxer.openSync(out);
const si = mux.addStream(enc);
for (const pkt of input.packetsSync(vs.index)) {
  if (!pkt) break;
  for (const f of dec.framesSync(pkt)) { if (!f) break; for (const p of enc.packetsSync(f)) { if (p) { mux.writePacketSync(p, si); p.free(); } } f.free(); }
  pkt.free();
}
for (const f of dec.framesSync(null)) { if (!f) break; for (const p of enc.packetsSync(f)) { if (p) { mux.writePacketSync(p, si); p.free(); } } f.free(); }
for (const p of enc.flushPacketsSync()) { mux.writePacketSync(p, si); p.free(); }
mux.closeSync(); enc.close(); dec.close(); input.closeSync();
`;

export function makeVideo(spec: VideoSpec): string {
  mkdirSync(mediaDir, { recursive: true });
  const src = spec.source ?? 'testsrc2=size=320x240:rate=25';
  const filters = [spec.filter, spec.encoder === 'mjpeg' ? 'format=yuvj420p' : undefined].filter(Boolean);
  const graph = `${src}:duration=${spec.seconds}${filters.map((f) => `,${f}`).join('')}`;
  const key = createHash('sha1')
    .update(JSON.stringify([graph, spec]))
    .digest('hex')
    .slice(0, 12);
  const out = join(mediaDir, `${spec.encoder}-${key}.${spec.container}`);
  if (existsSync(out)) return out;
  const script = join(mediaDir, 'encode.mjs');
  writeFileSync(script, SCRIPT);
  execFileSync(
    process.execPath,
    [
      script,
      graph,
      spec.encoder,
      `${out}.tmp.${spec.container}`,
      String(spec.gop ?? 50),
      String(spec.bFrames ?? 0),
    ],
    {
      cwd: repoRoot,
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, NODE_PATH: resolve(repoRoot, 'node_modules') },
    },
  );
  execFileSync('mv', [`${out}.tmp.${spec.container}`, out]);
  return out;
}

/** The real surveillance footage from Debian's opencv-doc package (installed by .ci/run). */
export const VTEST = '/usr/share/doc/opencv-doc/examples/data/vtest.avi';

const HLS_SCRIPT = `
if (!Promise.withResolvers) Promise.withResolvers = function () { let resolve, reject; const promise = new Promise((a, b) => { resolve = a; reject = b; }); return { promise, resolve, reject }; };
const { Demuxer, Muxer, Packet } = await import('node-av');
let fmt; const input = Demuxer.openSync(process.argv[2], { configure: (c) => { fmt = c; } });
const vs = input.video();
const mux = Muxer.openSync(process.argv[3], { format: 'hls' });
const si = mux.addStream(vs);
const pkt = new Packet(); pkt.alloc();
while (fmt.readFrameSync(pkt) >= 0) { if (pkt.streamIndex === vs.index) { pkt.timeBase = vs.timeBase; mux.writePacketSync(pkt, si); } pkt.unref(); }
pkt.free(); mux.closeSync(); input.closeSync();
`;

/** Remuxes a video into an HLS playlist with segments (node-av's hls muxer) in `dir`; returns the playlist name. */
export function makeHls(video: string, dir: string): string {
  const script = join(mediaDir, 'hls.mjs');
  writeFileSync(script, HLS_SCRIPT);
  execFileSync(process.execPath, [script, video, join(dir, 'index.m3u8')], {
    cwd: repoRoot,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  return 'index.m3u8';
}

/**
 * The engine tests' scene: static colour bars with a small white box moving across (so the DINO gate keeps some
 * frames and drops others) and a red scene from 20 s to 30 s (what "when is it red?" must find).
 */
export function makeSceneVideo(seconds: number): string {
  return makeVideo({
    seconds,
    encoder: 'libx264',
    container: 'mp4',
    gop: 50,
    source: 'smptebars=size=320x180:rate=25',
    filter:
      "drawbox=x='mod(t*37,280)':y=70:w=40:h=40:color=white:t=fill," +
      "drawbox=enable='between(t,20,29.99)':x=0:y=0:w=iw:h=ih:color=red:t=fill",
  });
}

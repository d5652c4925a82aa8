/**
 * The recorder worker: remuxes a source's streams into a file without re-encoding (packets are copied), so that a
 * camera session can be replayed later as a test. Stops at `durationMs` of media time, at the end of the source, or
 * when the stop flag is set. Every Packet is freed.
 */
import './polyfill.js';
import { parentPort, workerData } from 'node:worker_threads';
import {
  AV_NOPTS_VALUE,
  AV_PKT_FLAG_KEY,
  AVERROR_EAGAIN,
  AVERROR_EOF,
  AVMEDIA_TYPE_AUDIO,
  AVMEDIA_TYPE_VIDEO,
  type Demuxer,
  FFmpegError,
  type FormatContext,
  Muxer,
  Packet,
} from 'node-av';
import { openInput } from './open-input.js';

export interface RecordJob {
  url: string;
  kind: 'file' | 'rtsp' | 'http' | 'lavfi';
  out: string;
  durationMs: number | null;
  transport: 'tcp' | 'udp';
  timeoutMs: number;
  control: SharedArrayBuffer;
}

export type RecordMessage =
  | { type: 'open'; streams: number; width: number; height: number; codec: string }
  | { type: 'progress'; mediaMs: number; packets: number; bytes: number }
  | { type: 'done'; mediaMs: number; packets: number; bytes: number }
  | { type: 'error'; message: string; phase: 'open' | 'write' };

const job = workerData as RecordJob;
const stop = new Int32Array(job.control);
const post = (m: RecordMessage) => parentPort!.postMessage(m);

function run(): void {
  let input: Demuxer;
  let fmt: FormatContext;
  try {
    ({ input, fmt } = openInput(job));
  } catch (err) {
    post({ type: 'error', phase: 'open', message: err instanceof Error ? err.message : String(err) });
    return;
  }
  let mux: Muxer | null = null;
  try {
    const vs = input.video();
    if (!vs) throw new Error('the source has no video stream');
    mux = Muxer.openSync(job.out);
    const map = new Map<number, number>();
    for (const s of input.streams) {
      if (s.codecpar.codecType === AVMEDIA_TYPE_VIDEO || s.codecpar.codecType === AVMEDIA_TYPE_AUDIO) {
        map.set(s.index, mux.addStream(s));
      }
    }
    post({
      type: 'open',
      streams: map.size,
      width: vs.codecpar.width,
      height: vs.codecpar.height,
      codec: String(vs.codecpar.codecId),
    });
    const tb = vs.timeBase;
    let first: bigint | null = null;
    let started = false;
    const offsets = new Map<number, bigint>();
    let mediaMs = 0;
    let packets = 0;
    let bytes = 0;
    let lastPost = 0;
    const pkt = new Packet();
    pkt.alloc();
    for (;;) {
      if (Atomics.load(stop, 0) !== 0) break;
      const r = fmt.readFrameSync(pkt);
      if (r === AVERROR_EOF) break;
      if (r === AVERROR_EAGAIN) continue;
      if (r < 0) throw new FFmpegError(r);
      try {
        const target = map.get(pkt.streamIndex);
        if (target === undefined) continue;
        // start at the first video key frame with a timestamp (a live session's first packets may have none)
        if (!started) {
          if (
            pkt.streamIndex !== vs.index ||
            pkt.pts === AV_NOPTS_VALUE ||
            (pkt.flags & AV_PKT_FLAG_KEY) === 0
          )
            continue;
          started = true;
        }
        if (pkt.pts === AV_NOPTS_VALUE && pkt.dts === AV_NOPTS_VALUE) continue;
        // each stream's timestamps start at zero in the file
        const ts = pkt.dts !== AV_NOPTS_VALUE ? pkt.dts : pkt.pts;
        if (!offsets.has(pkt.streamIndex)) offsets.set(pkt.streamIndex, ts);
        const off = offsets.get(pkt.streamIndex)!;
        if (pkt.pts !== AV_NOPTS_VALUE) pkt.pts -= off;
        if (pkt.dts !== AV_NOPTS_VALUE) pkt.dts -= off;
        if (pkt.streamIndex === vs.index && pkt.pts !== AV_NOPTS_VALUE) {
          const f0: bigint = first ?? pkt.pts;
          first = f0;
          mediaMs = (Number(pkt.pts - f0) * tb.num * 1000) / tb.den;
          if (job.durationMs !== null && mediaMs >= job.durationMs) break;
        }
        bytes += pkt.size;
        packets++;
        pkt.timeBase = input.streams[pkt.streamIndex]!.timeBase; // the muxer rescales from the packet's time base
        mux.writePacketSync(pkt, target);
      } finally {
        pkt.unref();
      }
      const now = performance.now();
      if (now - lastPost > 500) {
        lastPost = now;
        post({ type: 'progress', mediaMs, packets, bytes });
      }
    }
    pkt.free();
    mux.closeSync();
    mux = null;
    post({ type: 'done', mediaMs, packets, bytes });
  } catch (err) {
    post({ type: 'error', phase: 'write', message: err instanceof Error ? err.message : String(err) });
  } finally {
    try {
      mux?.closeSync();
    } catch {}
    try {
      input.closeSync();
    } catch {}
  }
}

run();

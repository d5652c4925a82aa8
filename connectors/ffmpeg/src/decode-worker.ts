/**
 * The decode worker: one per source connection. Runs node-av's synchronous API (as fast as the ffmpeg CLI, but
 * blocking, hence a worker thread), samples decoded frames by pts, preprocesses them to each requested square size
 * and posts them to the main thread as transferable buffers.
 *
 * It reads into one reused Packet and decodes into one reused Frame (av_read_frame → avcodec_send_packet →
 * avcodec_receive_frame), both freed at the end: node-av's `packetsSync()`/`framesSync()` generators clone every
 * packet and frame, and those clones leak a few hundred bytes each even when freed (node-av 6.1.1, measured:
 * about 1 MB of RSS per minute of 25 fps video), which a source that runs for days cannot afford.
 */
import './polyfill.js';
import { parentPort, workerData } from 'node:worker_threads';
import {
  AV_FRAME_FLAG_CORRUPT,
  AV_LOG_ERROR,
  AV_LOG_INFO,
  AV_LOG_QUIET,
  AV_LOG_WARNING,
  AV_NOPTS_VALUE,
  AV_PKT_DATA_DISPLAYMATRIX,
  AV_PKT_FLAG_KEY,
  AVERROR_EAGAIN,
  AVERROR_EOF,
  AVMEDIA_TYPE_AUDIO,
  Decoder,
  type Demuxer,
  FFmpegError,
  type FormatContext,
  Frame,
  Log,
  Packet,
  Scaler,
  SWS_BICUBIC,
} from 'node-av';
import { classifyDecodeError } from './decode-errors.js';
import { openInput } from './open-input.js';
import { displayRotation, padInto, type Rotation, resizePlan, rotateRgb } from './preprocess.js';
import { PtsSampler } from './pts-sampler.js';
import { CREDITS, type DecodeJob, STOP, type WorkerMessage } from './worker-protocol.js';

const job = workerData as DecodeJob;
// lvu reports what matters as coded events (corrupt packets, stalls, truncation); FFmpeg's own log is for debugging
Log.setLevel(
  ({ quiet: AV_LOG_QUIET, error: AV_LOG_ERROR, warning: AV_LOG_WARNING, info: AV_LOG_INFO } as const)[
    (process.env.LVU_FFMPEG_LOG ?? 'quiet') as 'quiet'
  ] ?? AV_LOG_QUIET,
);
const ctl = new Int32Array(job.control);
const post = (m: WorkerMessage, transfer: ArrayBuffer[] = []) => parentPort!.postMessage(m, transfer);
const stopped = () => Atomics.load(ctl, STOP) !== 0;

function sleepMs(ms: number): void {
  if (ms > 0) Atomics.wait(ctl, STOP, 0, ms);
}

function run(): void {
  let input: Demuxer;
  let fmt: FormatContext;
  const openedAt = performance.now();
  try {
    ({ input, fmt } = openInput(job));
  } catch (err) {
    post({ type: 'error', ...classifyDecodeError(job, err, 'open', performance.now() - openedAt) });
    return;
  }
  let dec: Decoder | undefined;
  // bicubic, like the SigLIP and DINOv2 image processors LongVU uses (PIL bicubic; swscale's differs in detail)
  const scaler = new Scaler({ flags: SWS_BICUBIC });
  try {
    const vs = input.video();
    if (!vs) {
      post({
        type: 'error',
        code: 'UNSUPPORTED_MEDIA',
        message: `the source has no video stream (streams: ${
          input.streams
            .map((st) =>
              st.codecpar.codecType === AVMEDIA_TYPE_AUDIO ? 'audio' : `type ${st.codecpar.codecType}`,
            )
            .join(', ') || 'none'
        })`,
        retriable: false,
        hint: 'lvu understands video: give a file or camera with a video track (this one is audio only or empty)',
      });
      return;
    }
    try {
      dec = Decoder.createSync(vs, { exitOnError: false, threadCount: job.threads });
    } catch (err) {
      const msg = err instanceof Error ? err.message : String(err);
      post({
        type: 'error',
        code: 'UNSUPPORTED_MEDIA',
        message: `no decoder for this video (${msg})`,
        retriable: false,
      });
      return;
    }
    // a container's rotation (phones: the `rotate` tag / tkhd matrix) is applied like the FFmpeg CLI's autorotate
    let rotation: Rotation = 0;
    if (job.autorotate) {
      const m = vs.codecpar.getCodedSideData(AV_PKT_DATA_DISPLAYMATRIX);
      rotation = displayRotation(
        m && m.byteLength >= 36 ? new Int32Array(m.buffer.slice(m.byteOffset, m.byteOffset + 36)) : null,
      );
    }
    const quarter = rotation === 90 || rotation === 270;
    /** The picture as shown: a quarter turn swaps width and height. */
    const shown = (w: number, h: number) => (quarter ? { w: h, h: w } : { w, h });
    const tb = vs.timeBase;
    const toMs = (t: bigint) => (Number(t) * tb.num * 1000) / tb.den;
    const fr = vs.avgFrameRate;
    const durationS = input.duration; // seconds in node-av's Demuxer
    // the video stream's own duration where the container states it (an audio track may run longer)
    const videoDurationMs =
      vs.duration > 0n && vs.duration !== AV_NOPTS_VALUE
        ? toMs(vs.duration) + (Number(vs.startTime) > 0 ? toMs(vs.startTime) : 0)
        : null;
    const durationMs =
      videoDurationMs ?? (typeof durationS === 'number' && durationS > 0 ? durationS * 1000 : null);
    const liveHls = (input.inputFormat()?.name ?? '') === 'hls' && durationMs === null;
    post({
      type: 'open',
      info: {
        width: shown(vs.codecpar.width, vs.codecpar.height).w,
        height: shown(vs.codecpar.width, vs.codecpar.height).h,
        rotation,
        codec: dec.getCodec().name ?? '',
        durationMs,
        fps: fr?.den ? fr.num / fr.den : null,
        format: input.inputFormat()?.name ?? '',
        liveHls,
      },
    });

    const sampler = new PtsSampler({ fps: job.fps });
    // Exact sampling decodes every frame a sampling instant needs and every frame others reference; the rest (the
    // non-reference frames between instants: most B-frames at 1 fps) the decoder skips. Only codecs whose
    // non-reference frames nothing references (HEVC's sub-layer non-reference pictures may be referenced).
    const canSkip =
      job.sampling === 'exact' &&
      job.skipNonReference &&
      ['h264', 'mpeg2video', 'mpeg1video', 'mpeg4'].includes(dec.getCodec().name ?? '');
    let skipping = false;
    let skippedPackets = 0;
    const frameMs = fr?.num ? (1000 * fr.den) / fr.num : 40;
    let lastPts = Number.NaN;
    let curW = vs.codecpar.width;
    let curH = vs.codecpar.height;
    let decoded = 0;
    let dropped = 0;
    let corrupt = 0;
    let wallStart = Number.NaN;
    let mediaStart = Number.NaN;
    let lastProgress = 0;

    const handle = (frame: Frame) => {
      // called with the reused frame; everything needed is copied out before it is unref'd
      decoded++;
      let ts = frame.bestEffortTimestamp;
      if (ts === AV_NOPTS_VALUE) ts = frame.pts;
      const ptsMs = ts === AV_NOPTS_VALUE ? (Number.isNaN(lastPts) ? 0 : lastPts + frameMs) : toMs(ts);
      lastPts = ptsMs;
      if (frame.width !== curW || frame.height !== curH) {
        curW = frame.width;
        curH = frame.height;
        post({ type: 'resized', width: shown(curW, curH).w, height: shown(curW, curH).h });
      }
      // a recording resumed after a restart: the frames its saved context covers are decoded, not sampled again
      if (ptsMs <= job.startAfterMs) return;
      const out = sampler.offer(ptsMs);
      if (out === null) return;
      if (job.pacing === 'realtime') {
        if (Number.isNaN(wallStart)) {
          wallStart = performance.now();
          mediaStart = ptsMs;
        }
        sleepMs(ptsMs - mediaStart - (performance.now() - wallStart));
      }
      if (job.pacing === 'fast') {
        while (Atomics.load(ctl, CREDITS) <= 0 && !stopped())
          Atomics.wait(ctl, CREDITS, Atomics.load(ctl, CREDITS), 200);
        if (stopped()) return;
      } else if (Atomics.load(ctl, CREDITS) <= 0) {
        dropped++;
        post({ type: 'dropped', count: dropped });
        return;
      }
      Atomics.sub(ctl, CREDITS, 1);
      const images: ArrayBuffer[] = [];
      const disp = shown(curW, curH);
      for (const size of job.sizes) {
        // planned on the picture as shown; a quarter turn reads the source rectangle and scales it transposed
        const plan = resizePlan(disp.w, disp.h, size, job.resize);
        const c = plan.crop;
        const crop = quarter ? { x: c.y, y: c.x, width: c.height, height: c.width } : c;
        const full = crop.width === curW && crop.height === curH;
        const scaled = scaler.toBufferSync(frame, {
          ...(full ? {} : { crop }),
          resize: quarter
            ? { width: plan.height, height: plan.width }
            : { width: plan.width, height: plan.height },
          format: 'rgb',
        });
        const buf = rotation
          ? rotateRgb(
              new Uint8Array(scaled),
              quarter ? plan.height : plan.width,
              quarter ? plan.width : plan.height,
              rotation,
            )
          : scaled;
        const img =
          plan.width === size && plan.height === size
            ? new Uint8Array(buf)
            : padInto(buf, plan.width, plan.height, size, plan.offsetX, plan.offsetY, job.fill);
        images.push(img.buffer as ArrayBuffer);
      }
      post(
        {
          type: 'frame',
          ptsMs: out,
          sourcePtsMs: ptsMs,
          width: disp.w,
          height: disp.h,
          sizes: job.sizes,
          images,
        },
        images,
      );
    };

    const cc = dec.getCodecContext()!;
    const frame = new Frame();
    frame.alloc();
    const pkt = new Packet();
    pkt.alloc();
    const drain = () => {
      for (;;) {
        const r = cc.receiveFrameSync(frame);
        if (r < 0) return; // EAGAIN: needs input; EOF: drained; errors surface on send
        try {
          if (frame.decodeErrorFlags !== 0 || (frame.flags & AV_FRAME_FLAG_CORRUPT) !== 0) {
            // a frame the decoder could only conceal: skipped and counted, like a corrupt packet
            corrupt++;
            post({
              type: 'corrupt',
              count: corrupt,
              message: `corrupt frame (decode error flags ${frame.decodeErrorFlags})`,
            });
          } else handle(frame);
        } finally {
          frame.unref();
        }
      }
    };
    const decodePacket = (p: Packet | null) => {
      let r = cc.sendPacketSync(p);
      if (r === AVERROR_EAGAIN) {
        drain();
        r = cc.sendPacketSync(p);
      }
      if (r < 0 && r !== AVERROR_EOF) {
        corrupt++;
        post({ type: 'corrupt', count: corrupt, message: new FFmpegError(r).message });
      }
      drain();
    };

    const live = job.kind === 'rtsp' || job.pacing === 'live' || liveHls;
    let lastPacketAt = performance.now();
    try {
      for (;;) {
        if (stopped()) break;
        const r = fmt.readFrameSync(pkt);
        if (r === AVERROR_EOF) break;
        if (r < 0) {
          if (r === AVERROR_EAGAIN) continue;
          post({ type: 'error', ...classifyDecodeError(job, new FFmpegError(r), 'read') });
          return;
        }
        lastPacketAt = performance.now();
        try {
          if (pkt.streamIndex !== vs.index) continue;
          if (job.sampling === 'keyframes' && (pkt.flags & AV_PKT_FLAG_KEY) === 0) continue;
          if (canSkip) {
            const skip = pkt.pts !== AV_NOPTS_VALUE && sampler.wouldSkip(toMs(pkt.pts));
            if (skip !== skipping) {
              cc.setOption('skip_frame', skip ? 'noref' : 'default');
              skipping = skip;
            }
            if (skip) skippedPackets++;
          }
          decodePacket(pkt);
          const now = performance.now();
          if (now - lastProgress > 500) {
            lastProgress = now;
            post({ type: 'progress', positionMs: lastPts, decoded, skipped: skippedPackets });
          }
        } finally {
          pkt.unref();
        }
      }
    } catch (err) {
      post({ type: 'error', ...classifyDecodeError(job, err, 'read') });
      return;
    } finally {
      pkt.free();
    }
    const silentMs = performance.now() - lastPacketAt;
    if (live && !stopped() && silentMs >= job.timeoutMs * 0.9) {
      // a frozen server: the read timed out and FFmpeg reported it as the end of the stream
      post({
        type: 'error',
        code: 'SOURCE_STALLED',
        message: `no data for ${Math.round(silentMs)} ms`,
        retriable: true,
      });
      return;
    }
    if (!stopped()) decodePacket(null);
    frame.free();
    post({ type: 'progress', positionMs: lastPts, decoded, skipped: skippedPackets });
    if (decoded === 0 && !stopped()) {
      post({
        type: 'error',
        code: live ? 'SOURCE_STALLED' : 'DECODE_FAILED',
        message: `no video frame could be decoded${corrupt ? ` (${corrupt} corrupt packets)` : ''}`,
        retriable: live,
      });
      return;
    }
    // a file that ends well before its stated duration was cut (a copy interrupted, a recording still being written):
    // what was before the cut is used, and the caller is told
    if (job.kind === 'file' && durationMs !== null && !stopped() && !Number.isNaN(lastPts)) {
      const endMs = lastPts + frameMs;
      if (durationMs - endMs > Math.max(2000, 0.02 * durationMs)) {
        post({ type: 'truncated', positionMs: endMs, durationMs, corrupt });
      }
    }
    post({ type: 'end' });
  } finally {
    try {
      dec?.close();
    } catch {}
    scaler.close();
    try {
      input.closeSync();
    } catch {}
  }
}

run();

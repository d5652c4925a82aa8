import { Worker } from 'node:worker_threads';
import {
  BoundedQueue,
  EventBus,
  type FrameSource,
  LvuError,
  type LvuErrorCode,
  type SampledFrame,
  workerPath,
} from '@lvu/core';
import { type SupervisedSource, supervise } from './live-supervisor.js';
import { emptyStats, type Outcome, type SourceStats, truncatedError } from './source-stats.js';
import { type ParsedSource, parseSource } from './source-url.js';

export { type SourceStats, truncatedError } from './source-stats.js';

import {
  type VideoSourceInput,
  type VideoSourceOptions,
  videoSourceOptionsSchema,
} from './video-source-options.js';
import { CREDITS, type DecodeJob, STOP, type WorkerMessage } from './worker-protocol.js';

const WORKER = workerPath(import.meta.url, 'decode-worker');

/**
 * A video source (file, RTSP, HTTP/HLS, lavfi) as an async iterable of SampledFrames, decoding in a worker thread.
 * Live sources are supervised: stalls are detected, and the connection is re-opened with capped exponential backoff
 * and jitter, forever by default. `seq` and `ptsMs` stay monotonic across reconnects: a later connection's media
 * time starts after the last frame plus the outage, so the gap shows in the timeline (and in `source.reconnected`).
 */
export class VideoSource implements FrameSource {
  /** Decode worker threads alive in this process (all sources). */
  static activeWorkers = 0;
  readonly options: VideoSourceOptions;
  readonly source: ParsedSource;
  readonly streamId: string;
  readonly events: EventBus;
  #live: boolean;
  /** RTSP transport of the next connection (auto starts with TCP and falls back to UDP once refused). */
  #transport: 'tcp' | 'udp';
  readonly stats: SourceStats = emptyStats();

  readonly #queue: BoundedQueue<SampledFrame>;
  readonly #abort = new AbortController();
  #started = false;
  #seq = 0;
  #worker: Worker | null = null;
  #control: Int32Array | null = null;
  #done: Promise<void> | null = null;
  #stallEmitted = false;
  /** Media-time rebasing of reconnections: [base for this connection, its first source pts] (null = as is). */
  #rebase: [number, number | null] | null = null;
  #lastPtsMs = Number.NEGATIVE_INFINITY;

  constructor(source: string, options: VideoSourceInput = {}, events = new EventBus()) {
    this.options = videoSourceOptionsSchema.parse(options);
    this.source = parseSource(source);
    this.#live = this.options.live ?? this.source.live;
    this.#transport = this.options.transport === 'udp' ? 'udp' : 'tcp';
    this.streamId = this.options.streamId ?? this.source.redacted;
    this.events = events;
    this.#queue = new BoundedQueue(this.options.queueFrames);
  }

  /** The source as it may be logged (credentials replaced by `***`). */
  get description(): string {
    return this.source.redacted;
  }

  /** Supervised like a camera: rtsp, a live HLS playlist, or what the caller said. */
  get live(): boolean {
    return this.#live;
  }

  /** The RTSP transport in use (after an `auto` fallback, udp). */
  get transport(): 'tcp' | 'udp' {
    return this.#transport;
  }

  [Symbol.asyncIterator](): AsyncIterator<SampledFrame> {
    this.start();
    return {
      next: async () => {
        const f = await this.#queue.next();
        if (f === undefined) return { done: true, value: undefined };
        this.#credit(1);
        return { done: false, value: f };
      },
      return: async () => {
        await this.stop();
        return { done: true, value: undefined };
      },
    };
  }

  /** Starts decoding (idempotent); iterating starts it too. */
  start(): void {
    if (this.#started) return;
    this.#started = true;
    this.#done = supervise(this.#supervised()).then(
      () => this.#queue.close(),
      (err) => this.#queue.fail(err),
    );
  }

  /**
   * Stops decoding and ends iteration; frames already queued are still delivered. A worker blocked inside FFmpeg
   * (a network read) is given `STOP_GRACE_MS`, then let go: iteration ends and the process can exit.
   */
  async stop(): Promise<void> {
    this.#abort.abort();
    this.#stopWorker();
    let timer: NodeJS.Timeout | undefined;
    const late = await Promise.race([
      this.#done?.then(() => false),
      new Promise<boolean>((r) => {
        timer = setTimeout(() => r(true), VideoSource.STOP_GRACE_MS);
      }),
    ]);
    clearTimeout(timer);
    if (late) {
      this.#worker?.unref();
      this.#queue.close();
    }
  }

  /** How long `stop()` waits for a decode worker to leave FFmpeg. */
  static STOP_GRACE_MS = 3000;

  get #blocking(): boolean {
    return !this.live && this.options.pacing === 'fast' ? true : this.options.dropPolicy === 'block';
  }

  /** Counts a frame lost to a slow consumer or to corruption, and reports it. */
  #dropped(reason: 'queue-full' | 'corrupt', seq: number): void {
    const n = reason === 'corrupt' ? ++this.stats.corrupt : ++this.stats.droppedSlowConsumer;
    this.events.emit('frame.dropped', { streamId: this.streamId, seq, reason, dropped: n });
  }

  #credit(n: number): void {
    if (!this.#control || !this.#blocking) return;
    Atomics.add(this.#control, CREDITS, n);
    Atomics.notify(this.#control, CREDITS);
  }

  #stopWorker(): void {
    if (this.#control) {
      Atomics.store(this.#control, STOP, 1);
      Atomics.notify(this.#control, STOP);
      Atomics.notify(this.#control, CREDITS);
    }
    const w = this.#worker;
    if (w) setTimeout(() => void w.terminate(), 2000).unref();
  }

  /** This source as its supervision sees it (live-supervisor.ts). */
  #supervised(): SupervisedSource {
    const self = this;
    return {
      // a live HLS playlist is known to be live only once opened
      get live() {
        return self.live;
      },
      stats: this.stats,
      events: this.events,
      streamId: this.streamId,
      source: this.source,
      options: this.options,
      signal: this.#abort.signal,
      get transport() {
        return self.#transport;
      },
      set transport(t) {
        self.#transport = t;
      },
      connectOnce: (at, attempt) => this.#connectOnce(at, attempt),
      takeStallEmitted: () => {
        const was = this.#stallEmitted;
        this.#stallEmitted = false;
        return was;
      },
    };
  }

  /** One connection: a worker from open to end, error, stall or stop. */
  #connectOnce(disconnectedAt: number | null, attempt: number): Promise<Outcome> {
    const control = new Int32Array(new SharedArrayBuffer(8));
    const blocking = this.#blocking;
    // lossless: one credit per free queue slot, returned when the consumer takes a frame;
    // otherwise a generous window so that the worker only drops when this thread stops receiving
    Atomics.store(control, CREDITS, blocking ? this.options.queueFrames - this.#queue.size : 1 << 20);
    this.#control = control;
    const job: DecodeJob = {
      url: this.source.url,
      kind: this.source.kind,
      fps: this.options.fps,
      sizes: this.options.sizes,
      resize: this.options.resize,
      fill: this.options.fill,
      sampling: this.options.sampling,
      skipNonReference: this.options.skipNonReference,
      pacing: this.live
        ? blocking
          ? 'fast'
          : 'live'
        : this.options.pacing === 'realtime'
          ? 'realtime'
          : 'fast',
      transport: this.#transport,
      timeoutMs: this.options.timeoutMs,
      stallTimeoutMs: this.options.stallTimeoutMs,
      inputOptions: this.options.inputOptions,
      control: control.buffer as SharedArrayBuffer,
      threads: this.options.threads,
      autorotate: this.options.autorotate,
      startAfterMs: this.live ? -1 : (this.options.startAfterMs ?? -1),
    };
    const worker = new Worker(WORKER, { workerData: job });
    VideoSource.activeWorkers++;
    this.#worker = worker;
    return new Promise<Outcome>((resolve) => {
      let settled: Outcome | null = null;
      const settle = (o: Outcome) => {
        if (settled) return;
        settled = o;
        clearInterval(watchdog);
        Atomics.store(control, STOP, 1);
        Atomics.notify(control, CREDITS);
      };
      // silence is counted on this connection only: from its start, then from its last frame (a connection opened
      // after a long outage is not torn down for the outage)
      const startedAt = Date.now();
      let lastFrameAt: number | null = null;
      let framesHere = 0;
      const watchdog = setInterval(
        () => {
          if (!this.live || settled) return;
          const silent = Date.now() - (lastFrameAt ?? startedAt);
          if (silent > this.options.stallTimeoutMs) {
            if (framesHere > 0) {
              // one `stalled` per silence of a stream that was delivering, not one here and one in the supervisor
              this.stats.stalls++;
              this.#stallEmitted = true;
              this.events.emit('source.stalled', { streamId: this.streamId, silentMs: silent });
            }
            settle({
              kind: 'error',
              error: new LvuError('SOURCE_STALLED', `${this.source.redacted}: no frame for ${silent} ms`, {
                field: 'source',
              }),
            });
            void worker.terminate();
          }
        },
        Math.min(1000, this.options.stallTimeoutMs / 4),
      );
      worker.on('message', (m: WorkerMessage) => {
        if (settled) return;
        switch (m.type) {
          case 'open': {
            this.stats.info = m.info;
            this.stats.durationMs = m.info.durationMs;
            this.stats.connected = true;
            this.stats.connects++;
            if (m.info.liveHls && this.options.live === undefined) this.#live = true;
            this.events.emit('source.connected', {
              streamId: this.streamId,
              url: this.source.redacted,
              // a camera that answered the handshake but has sent no picture yet has no size to report
              ...(m.info.width > 0 && m.info.height > 0
                ? { width: m.info.width, height: m.info.height }
                : {}),
              ...(m.info.fps ? { fps: m.info.fps } : {}),
              ...(this.source.kind === 'rtsp' ? { transport: this.#transport } : {}),
            });
            break;
          }
          case 'frame': {
            lastFrameAt = Date.now();
            if (framesHere++ === 0 && disconnectedAt !== null) {
              // reconnected once frames flow again (a connection that opens and delivers nothing is not one);
              // media time goes on across the outage: this frame lands after the last one plus the gap
              const gap = Math.max(
                1000 / this.options.fps,
                Date.now() - (this.stats.lastFrameWallMs ?? Date.now()),
              );
              this.#rebase = [Number.isFinite(this.#lastPtsMs) ? this.#lastPtsMs + gap : 0, null];
              this.stats.reconnects++;
              this.events.emit('source.reconnected', {
                streamId: this.streamId,
                gapMs: Date.now() - disconnectedAt,
                attempt,
              });
            }
            const images: Record<number, Uint8Array> = {};
            m.sizes.forEach((s, i) => {
              images[s] = new Uint8Array(m.images[i]!);
            });
            let ptsMs = m.ptsMs;
            if (this.#rebase) {
              this.#rebase[1] ??= m.ptsMs;
              ptsMs = this.#rebase[0] + (m.ptsMs - this.#rebase[1]);
            }
            this.#lastPtsMs = ptsMs;
            const frame: SampledFrame = {
              streamId: this.streamId,
              seq: this.#seq++,
              ptsMs,
              wallMs: Date.now(),
              width: m.width,
              height: m.height,
              images,
              ...(this.live ? {} : { positionMs: m.sourcePtsMs }),
            };
            this.stats.sampled++;
            this.stats.lastFrameWallMs = frame.wallMs;
            this.stats.lastError = null;
            const evicted = this.#queue.push(frame, blocking ? 'block' : 'dropOldest');
            if (evicted) this.#dropped('queue-full', evicted.seq);
            break;
          }
          case 'dropped':
            this.#dropped('queue-full', this.#seq);
            break;
          case 'corrupt':
            this.#dropped('corrupt', this.#seq);
            break;
          case 'progress':
            this.stats.positionMs = m.positionMs;
            this.stats.decoded = m.decoded;
            this.stats.skippedNonReference = m.skipped;
            break;
          case 'resized':
            if (this.stats.info) this.stats.info = { ...this.stats.info, width: m.width, height: m.height };
            break;
          case 'truncated': {
            this.stats.truncated = { positionMs: m.positionMs, durationMs: m.durationMs };
            const e = truncatedError(this.source.redacted, m.positionMs, m.durationMs);
            this.events.emit('source.truncated', {
              streamId: this.streamId,
              positionMs: m.positionMs,
              durationMs: m.durationMs,
              code: e.code,
              message: e.message,
              hint: e.hint,
            });
            break;
          }
          case 'end':
            settle({ kind: 'end' });
            break;
          case 'error':
            settle({
              kind: 'error',
              error: new LvuError(m.code as LvuErrorCode, `${this.source.redacted}: ${m.message}`, {
                field: m.code === 'INVALID_CONFIG' ? 'transport' : 'source',
                retriable: m.retriable,
                ...(m.hint ? { hint: m.hint } : {}),
              }),
            });
            break;
        }
      });
      worker.on('error', (err) => {
        settle({
          kind: 'error',
          error: new LvuError('INTERNAL', `decode worker failed: ${err.message}`, {
            cause: err,
            retriable: this.live,
          }),
        });
      });
      worker.on('exit', () => {
        VideoSource.activeWorkers--;
        if (this.#worker === worker) this.#worker = null;
        if (!settled) {
          settle(
            this.#abort.signal.aborted
              ? { kind: 'stopped' }
              : {
                  kind: 'error',
                  error: new LvuError('INTERNAL', 'decode worker exited', { retriable: this.live }),
                },
          );
        }
        resolve(this.#abort.signal.aborted ? { kind: 'stopped' } : settled!);
      });
    });
  }
}

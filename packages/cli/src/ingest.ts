import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { longVuOptions } from '@lvu/compress';
import { EventBus, LvuError, type LvuEvent, redactSource, type SampledFrame } from '@lvu/core';
import { BuiltinFrameEncoder, type OpenedModels, openModels } from '@lvu/engine';
import type { SourceStats } from '@lvu/ffmpeg';
import { KafkajsTransport, parseKafkaUrl } from '@lvu/kafka';
import { loadManifest } from '@lvu/models';
import { keptRow, runWritePath } from '@lvu/operators';
import { EdgePublisher } from '@lvu/worker';
import { concatMap, lastValueFrom } from 'rxjs';
import { numberArg } from './number-arg.js';
import { defaultPlugins } from './plugins.js';
import { bar, clock, ProgressLine, waitingLine } from './progress.js';
import { EXIT_TRUNCATED } from './replay-command.js';

/** The image sizes a worker's encoders take: the model directory's, or the built-in encoder's. */
function workerSizes(models: string | undefined): number[] {
  if (!models) return [...new BuiltinFrameEncoder().imageSizes];
  const m = loadManifest(models).manifest.models;
  return [...new Set([m.dino?.preprocess?.size, m.siglip?.preprocess?.size].filter((s): s is number => !!s))];
}

async function kafkaSink(url: string, timeoutMs: number) {
  const { topic, brokers } = parseKafkaUrl(url);
  const transport = new KafkajsTransport(brokers, 'lvu-ingest');
  await transport.waitForBrokers({ onRetry: waitingLine, timeoutMs });
  return { topic, transport, producer: await transport.producer() };
}

export const INGEST_USAGE = `lvu ingest SOURCE [--to kafka://HOST:PORT/TOPIC] [--fps 1] [--json] [--max-frames N] [--realtime] [--size 384[,378]]
        [--resize pad|stretch|crop] [--sampling exact|keyframes] [--transport auto|tcp|udp] [--timeout-ms 5000]
        [--stall-timeout-ms 10000] [--stream-id ID] [--live] [--models DIR] [--features [--precision float32|float16]]
        [--broker-timeout-ms 30000] [--spool DIR [--spool-max-mb 1024]]
        decode and sample a file, rtsp:// or http(s):// source. --json: one line per sampled frame
        {streamId, seq, ptsMs, wallMs, width, height} and one per source event; otherwise a progress bar (files)
        or a live counter (streams) on stderr. --to publishes every sampled frame (msgpack, raw RGB at each
        --size) to a Kafka topic keyed by stream id, for \`lvu worker\`; the sizes default to what a worker with
        the same --models (none: the built-in encoder) feeds its encoders, so its context equals a replay's.
        Each message carries this edge's epoch (lvu-epoch): a restarted edge continues the stream. --features (with --to): an edge that has
        the models runs DINO, the temporal reduction and SigLIP+SVA+projector itself and publishes each closed
        window's kept frames as one FeatureBatch (Arrow IPC) instead of raw frames; workers need the same models.
        --precision float16 halves the bytes on the wire (grids rounded to 11 significant bits).
        --spool DIR (with --to): what the broker cannot take now (it is down, or slow) waits in DIR — a few
        frames in memory, the rest on disk up to --spool-max-mb — and is sent in order when it can be, so a camera's
        frames are not dropped during a broker outage; files an edge left are sent when it starts again.
        A file that ends before its stated duration: a TRUNCATED_MEDIA warning and exit status 3`;

const EVENT_NAMES: Record<string, string> = {
  'source.connected': 'connected',
  'source.disconnected': 'disconnected',
  'source.reconnected': 'reconnected',
  'source.stalled': 'stalled',
  'source.error': 'error',
  'source.ended': 'ended',
  'source.truncated': 'truncated',
  'source.transport': 'transport',
  'frame.dropped': 'dropped',
};

/** `lvu ingest`'s options (exported so deployment files can be checked against them). */
export const INGEST_OPTIONS = {
  fps: { type: 'string' },
  json: { type: 'boolean', default: false },
  to: { type: 'string' },
  'max-frames': { type: 'string' },
  realtime: { type: 'boolean', default: false },
  size: { type: 'string' },
  resize: { type: 'string' },
  sampling: { type: 'string' },
  transport: { type: 'string' },
  'timeout-ms': { type: 'string' },
  'stall-timeout-ms': { type: 'string' },
  'stream-id': { type: 'string' },
  live: { type: 'boolean' },
  features: { type: 'boolean', default: false },
  models: { type: 'string' },
  precision: { type: 'string', default: 'float32' },
  'broker-timeout-ms': { type: 'string' },
  spool: { type: 'string' },
  'spool-max-mb': { type: 'string' },
} as const;

export async function ingestCommand(args: string[]): Promise<number> {
  const { positionals, values } = parseArgs({ args, allowPositionals: true, options: INGEST_OPTIONS });
  if (values.precision !== 'float32' && values.precision !== 'float16') {
    throw new LvuError(
      'INVALID_ARGUMENT',
      `--precision must be float32 or float16, got "${values.precision}"`,
      {
        field: 'precision',
      },
    );
  }
  const precision = values.precision;
  if (values.features && !values.to) {
    throw new LvuError(
      'INVALID_ARGUMENT',
      '--features publishes to Kafka: give --to kafka://HOST:PORT/TOPIC',
      {
        field: 'to',
      },
    );
  }
  if (values.models && !values.to) {
    throw new LvuError(
      'INVALID_ARGUMENT',
      '--models goes with --to (the sizes a worker needs) or --features',
      {
        field: 'models',
      },
    );
  }
  // an edge with the models runs the write path itself (no engine: no context is kept here); its encoders decide
  // the image sizes
  const models: OpenedModels | null = values.features
    ? await openModels(values.models, {}, defaultPlugins().models)
    : null;
  if (positionals.length !== 1)
    throw new LvuError('INVALID_ARGUMENT', `usage: ${INGEST_USAGE}`, { field: 'SOURCE' });
  const maxFrames = numberArg(values['max-frames'], 'max-frames', 1);
  // the source through the program's source registry, as lvu serve opens a stream's: the factory its scheme names
  // (FFmpeg's for files, RTSP, HLS and lavfi), with its own options schema checking the flags
  const source = positionals[0]!;
  const factory = defaultPlugins().sources.resolve(source);
  const takes = (k: string) => k in factory.options.schema.shape;
  const flags = {
    fps: numberArg(values.fps, 'fps', 0.001),
    resize: values.resize,
    sampling: values.sampling,
    transport: values.transport,
    timeoutMs: numberArg(values['timeout-ms'], 'timeout-ms', 100),
    stallTimeoutMs: numberArg(values['stall-timeout-ms'], 'stall-timeout-ms', 500),
    live: values.live,
    ...(values.realtime ? { pacing: 'realtime' } : {}),
    // one source has the machine to itself: FFmpeg picks the decoder threads (an edge with the models shares it)
    ...(takes('threads') ? { threads: models ? 1 : 0 } : {}),
  };
  const options = factory.options.parse(
    Object.fromEntries(Object.entries(flags).filter(([, v]) => v !== undefined)),
  );
  const streamId = values['stream-id'] ?? redactSource(source);
  const events = new EventBus();
  const src = factory.open(source, options, {
    streamId,
    events,
    // what the edge's encoders take, what a worker's take, or what --size asks for (default 384)
    sizes: models
      ? [...models.vision.imageSizes]
      : (values.size?.split(',').map((s) => Number(s)) ?? (values.to ? workerSizes(values.models) : [384])),
  });
  // the counters of an FFmpeg source (another source's may have none of them)
  const stats = () => (src.stats ?? {}) as Partial<SourceStats>;
  const out = process.stdout;
  const progress = values.json ? null : new ProgressLine();
  const t0 = Date.now();
  events.on((e: LvuEvent) => {
    const name = EVENT_NAMES[e.type];
    if (!name) return;
    if (values.json) {
      const { type: _t, atMs, ...rest } = e;
      out.write(`${JSON.stringify({ event: name, ...rest, wallMs: atMs })}\n`);
    } else if (name === 'truncated') {
      progress!.done();
      const { message, hint } = e as { message: string; hint: string };
      process.stderr.write(`${new Date(e.atMs).toISOString()} truncated: ${message} (${hint})\n`);
    } else if (name !== 'dropped' && name !== 'ended') {
      progress!.done();
      process.stderr.write(`${new Date(e.atMs).toISOString()} ${name} ${JSON.stringify(e).slice(0, 200)}\n`);
    }
  });
  const sink = values.to
    ? await kafkaSink(
        values.to,
        numberArg(values['broker-timeout-ms'], 'broker-timeout-ms', 0) ?? 30_000,
      ).catch(async (err) => {
        await models?.close();
        throw err;
      })
    : null;
  // this edge's session: a worker tells a restarted edge's frames (seq from 0 again) from redeliveries by it
  const spoolMb = numberArg(values['spool-max-mb'], 'spool-max-mb', 1);
  const edge = sink
    ? new EdgePublisher(
        sink.producer,
        sink.topic,
        Date.now(),
        values.spool
          ? { dir: resolve(values.spool), ...(spoolMb ? { maxBytes: spoolMb * 1024 * 1024 } : {}) }
          : undefined,
      )
    : null;
  let n = 0;
  const stopOnSignal = () => void src.stop();
  process.once('SIGINT', stopOnSignal);
  process.once('SIGTERM', stopOnSignal);
  const report = (f: SampledFrame) => {
    if (values.json) {
      out.write(
        `${JSON.stringify({ streamId: f.streamId, seq: f.seq, ptsMs: Math.round(f.ptsMs * 1000) / 1000, wallMs: f.wallMs, width: f.width, height: f.height })}\n`,
      );
      return;
    }
    const s = stats();
    const rate = (n / Math.max(0.001, (Date.now() - t0) / 1000)).toFixed(1);
    const published = models ? `  ${windows} windows (${kept} kept frames) published` : '';
    if (!values.live && s.durationMs) {
      progress!.update(
        `${bar(f.ptsMs / s.durationMs)} ${clock(f.ptsMs)} / ${clock(s.durationMs)}  ${n} frames  ${rate} frames/s${published}`,
      );
    } else {
      const age = s.lastFrameWallMs ? ((Date.now() - s.lastFrameWallMs) / 1000).toFixed(1) : '-';
      progress!.update(
        `${streamId}: ${n} frames  ${s.droppedSlowConsumer} dropped  ${s.reconnects} reconnects  ${s.stalls} stalls  last frame ${age}s ago${published}`,
      );
    }
  };
  let windows = 0;
  let kept = 0;
  let failedFrames = 0;
  try {
    if (models && edge) {
      // edge with the models: the write path (DINO gate, temporal reduction, SigLIP+SVA+projector), each closed
      // window published in order and acknowledged before the next
      const lv = longVuOptions({ dinoThreshold: models.vision.dinoThreshold, ...models.longvu });
      const frames = async function* () {
        for await (const f of src) {
          n++;
          report(f);
          yield f;
          if (maxFrames !== undefined && n >= maxFrames) break;
        }
      };
      await lastValueFrom(
        runWritePath(frames(), {
          streamId,
          windowFrames: lv.dinoWindowFrames,
          threshold: lv.dinoThreshold,
          dino: (f) => models.vision.dino(f),
          encode: (k) => keptRow(models.vision, k, null),
          onFrameError: (f, err) => {
            failedFrames++;
            process.stderr.write(`frame ${f.seq} skipped: ${(err as Error)?.message ?? err}\n`);
          },
        }).pipe(
          concatMap(async (w) => {
            await edge.window(w, precision);
            windows++;
            kept += w.rows.length;
          }),
        ),
        { defaultValue: undefined },
      );
    } else {
      for await (const f of src) {
        n++;
        // edge mode: every sampled frame to Kafka, keyed by stream id (acknowledged before the next is read)
        await edge?.frame(f);
        report(f);
        if (maxFrames !== undefined && n >= maxFrames) break;
      }
      await edge?.end(streamId);
    }
  } finally {
    process.off('SIGINT', stopOnSignal);
    process.off('SIGTERM', stopOnSignal);
    await src.stop();
    await sink?.transport.close();
    await models?.close();
    progress?.done();
  }
  if (!values.json) {
    const s = stats();
    process.stdout.write(
      `${streamId}: ${n} frames sampled at ${(options as { fps?: number }).fps ?? '?'} fps from ${s.decoded ?? '?'} decoded` +
        `${s.info ? ` (${s.info.codec} ${s.info.width}x${s.info.height})` : ''}, ${s.corrupt} corrupt packets skipped, ` +
        `${s.droppedSlowConsumer} dropped, ${s.reconnects} reconnects, ` +
        `${edge?.spool ? `${edge.spool.spooled} spooled to disk while the broker could not take them, ` : ''}` +
        `${models ? `${windows} windows with ${kept} kept frames published as feature batches (${failedFrames} frames failed), ` : ''}` +
        `${((Date.now() - t0) / 1000).toFixed(1)} s\n`,
    );
  }
  return stats().truncated ? EXIT_TRUNCATED : 0;
}

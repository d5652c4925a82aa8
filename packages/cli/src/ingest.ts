import { parseArgs } from 'node:util';
import { LvuError, type LvuEvent } from '@lvu/core';
import { VideoSource } from '@lvu/ffmpeg';
import { encodeFrame, KafkajsTransport, parseKafkaUrl } from '@lvu/kafka';
import { numberArg } from './number-arg.js';
import { bar, clock, ProgressLine } from './progress.js';

async function kafkaSink(url: string) {
  const { topic, brokers } = parseKafkaUrl(url);
  const transport = new KafkajsTransport(brokers, 'lvu-ingest');
  return { topic, transport, producer: await transport.producer() };
}

export const INGEST_USAGE = `lvu ingest SOURCE [--to kafka://HOST:PORT/TOPIC] [--fps 1] [--json] [--max-frames N] [--realtime] [--size 384[,378]]
        [--resize pad|stretch|crop] [--sampling exact|keyframes] [--transport tcp|udp] [--timeout-ms 5000]
        [--stall-timeout-ms 10000] [--stream-id ID] [--live]
        decode and sample a file, rtsp:// or http(s):// source. --json: one line per sampled frame
        {streamId, seq, ptsMs, wallMs, width, height} and one per source event; otherwise a progress bar (files)
        or a live counter (streams) on stderr. --to publishes every sampled frame (msgpack, raw RGB at each
        --size) to a Kafka topic keyed by stream id, for \`lvu worker\``;

const EVENT_NAMES: Record<string, string> = {
  'source.connected': 'connected',
  'source.disconnected': 'disconnected',
  'source.reconnected': 'reconnected',
  'source.stalled': 'stalled',
  'source.error': 'error',
  'source.ended': 'ended',
  'frame.dropped': 'dropped',
};

export async function ingestCommand(args: string[]): Promise<number> {
  const { positionals, values } = parseArgs({
    args,
    allowPositionals: true,
    options: {
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
    },
  });
  if (positionals.length !== 1)
    throw new LvuError('INVALID_ARGUMENT', `usage: ${INGEST_USAGE}`, { field: 'SOURCE' });
  const maxFrames = numberArg(values['max-frames'], 'max-frames', 1);
  const src = new VideoSource(positionals[0]!, {
    fps: numberArg(values.fps, 'fps', 0.001),
    sizes: values.size?.split(',').map((s) => Number(s)),
    resize: values.resize as 'pad' | undefined,
    sampling: values.sampling as 'exact' | undefined,
    transport: values.transport as 'tcp' | undefined,
    timeoutMs: numberArg(values['timeout-ms'], 'timeout-ms', 100),
    stallTimeoutMs: numberArg(values['stall-timeout-ms'], 'stall-timeout-ms', 500),
    streamId: values['stream-id'],
    pacing: values.realtime ? 'realtime' : 'fast',
    ...(values.live === undefined ? {} : { live: values.live }),
  });
  const out = process.stdout;
  const progress = values.json ? null : new ProgressLine();
  const t0 = Date.now();
  src.events.on((e: LvuEvent) => {
    const name = EVENT_NAMES[e.type];
    if (!name) return;
    if (values.json) {
      const { type: _t, atMs, ...rest } = e;
      out.write(`${JSON.stringify({ event: name, ...rest, wallMs: atMs })}\n`);
    } else if (name !== 'dropped' && name !== 'ended') {
      progress!.done();
      process.stderr.write(`${new Date(e.atMs).toISOString()} ${name} ${JSON.stringify(e).slice(0, 200)}\n`);
    }
  });
  const sink = values.to ? await kafkaSink(values.to) : null;
  let n = 0;
  const stopOnSignal = () => void src.stop();
  process.once('SIGINT', stopOnSignal);
  process.once('SIGTERM', stopOnSignal);
  try {
    for await (const f of src) {
      n++;
      // edge mode: every sampled frame to Kafka, keyed by stream id (acknowledged before the next is read)
      if (sink) await sink.producer.send(sink.topic, [{ key: f.streamId, value: encodeFrame(f) }]);
      if (values.json) {
        out.write(
          `${JSON.stringify({ streamId: f.streamId, seq: f.seq, ptsMs: Math.round(f.ptsMs * 1000) / 1000, wallMs: f.wallMs, width: f.width, height: f.height })}\n`,
        );
      } else {
        const s = src.stats;
        const rate = (n / Math.max(0.001, (Date.now() - t0) / 1000)).toFixed(1);
        if (!src.live && s.durationMs) {
          progress!.update(
            `${bar(f.ptsMs / s.durationMs)} ${clock(f.ptsMs)} / ${clock(s.durationMs)}  ${n} frames  ${rate} frames/s`,
          );
        } else {
          const age = s.lastFrameWallMs ? ((Date.now() - s.lastFrameWallMs) / 1000).toFixed(1) : '-';
          progress!.update(
            `${src.streamId}: ${n} frames  ${s.droppedSlowConsumer} dropped  ${s.reconnects} reconnects  ${s.stalls} stalls  last frame ${age}s ago`,
          );
        }
      }
      if (maxFrames !== undefined && n >= maxFrames) break;
    }
  } finally {
    process.off('SIGINT', stopOnSignal);
    process.off('SIGTERM', stopOnSignal);
    await src.stop();
    await sink?.transport.close();
    progress?.done();
  }
  if (!values.json) {
    const s = src.stats;
    process.stdout.write(
      `${src.streamId}: ${n} frames sampled at ${src.options.fps} fps from ${s.decoded} decoded` +
        `${s.info ? ` (${s.info.codec} ${s.info.width}x${s.info.height})` : ''}, ${s.corrupt} corrupt packets skipped, ` +
        `${s.droppedSlowConsumer} dropped, ${s.reconnects} reconnects, ${((Date.now() - t0) / 1000).toFixed(1)} s\n`,
    );
  }
  return 0;
}

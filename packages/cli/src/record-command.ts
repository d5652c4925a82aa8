import { parseArgs } from 'node:util';
import { LvuError } from '@lvu/core';
import { record } from '@lvu/ffmpeg';
import { clock, ProgressLine } from './progress.js';

export const RECORD_USAGE = `lvu record SOURCE OUT.mkv [--duration SECONDS] [--transport tcp|udp] [--json]
        remux a live stream (or any source) into a file without re-encoding, to replay it later as a test;
        stops after --duration seconds of media, at the end of the source, or on Ctrl-C`;

export async function recordCommand(args: string[]): Promise<number> {
  const { positionals, values } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      duration: { type: 'string' },
      transport: { type: 'string' },
      json: { type: 'boolean', default: false },
    },
  });
  if (positionals.length !== 2)
    throw new LvuError('INVALID_ARGUMENT', `usage: ${RECORD_USAGE}`, { field: 'SOURCE' });
  const duration = values.duration === undefined ? undefined : Number(values.duration);
  if (duration !== undefined && !(duration > 0)) {
    throw new LvuError('INVALID_ARGUMENT', '--duration must be a positive number of seconds', {
      field: 'duration',
    });
  }
  if (values.transport !== undefined && values.transport !== 'tcp' && values.transport !== 'udp') {
    throw new LvuError('INVALID_ARGUMENT', '--transport must be tcp or udp', { field: 'transport' });
  }
  const ac = new AbortController();
  const onSignal = () => ac.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const progress = values.json ? null : new ProgressLine();
  try {
    const r = await record(positionals[0]!, positionals[1]!, {
      ...(duration === undefined ? {} : { durationMs: duration * 1000 }),
      ...(values.transport ? { transport: values.transport as 'tcp' | 'udp' } : {}),
      signal: ac.signal,
      onProgress: (p) =>
        progress?.update(
          `recording ${clock(p.mediaMs)}  ${p.packets} packets  ${(p.bytes / 1e6).toFixed(1)} MB`,
        ),
    });
    progress?.done();
    process.stdout.write(
      values.json
        ? `${JSON.stringify(r)}\n`
        : `${r.out}: ${(r.mediaMs / 1000).toFixed(1)} s, ${r.packets} packets, ${(r.bytes / 1e6).toFixed(2)} MB\n`,
    );
    return 0;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

import { Worker } from 'node:worker_threads';
import { LvuError, workerPath } from '@lvu/core';
import type { RecordJob, RecordMessage } from './record-worker.js';
import { parseSource } from './source-url.js';

const WORKER = workerPath(import.meta.url, 'record-worker');

export interface RecordOptions {
  /** Stop after this much media time; default: until the source ends or `signal` aborts. */
  durationMs?: number;
  transport?: 'tcp' | 'udp';
  timeoutMs?: number;
  signal?: AbortSignal;
  onProgress?: (p: { mediaMs: number; packets: number; bytes: number }) => void;
}

export interface RecordResult {
  out: string;
  mediaMs: number;
  packets: number;
  bytes: number;
}

/** Remuxes a source (file, RTSP, HTTP) into `out` (container from its extension, e.g. .mkv) without re-encoding. */
export function record(source: string, out: string, o: RecordOptions = {}): Promise<RecordResult> {
  const src = parseSource(source);
  const control = new SharedArrayBuffer(4);
  const job: RecordJob = {
    url: src.url,
    kind: src.kind,
    out,
    durationMs: o.durationMs ?? null,
    transport: o.transport ?? 'tcp',
    timeoutMs: o.timeoutMs ?? 5000,
    control,
  };
  const worker = new Worker(WORKER, { workerData: job });
  const stop = () => {
    Atomics.store(new Int32Array(control), 0, 1);
  };
  o.signal?.addEventListener('abort', stop, { once: true });
  return new Promise((resolve, reject) => {
    let result: RecordResult | null = null;
    let error: LvuError | null = null;
    worker.on('message', (m: RecordMessage) => {
      if (m.type === 'progress') o.onProgress?.(m);
      else if (m.type === 'done') result = { out, mediaMs: m.mediaMs, packets: m.packets, bytes: m.bytes };
      else if (m.type === 'error') {
        const code = m.phase === 'write' ? 'INVALID_ARGUMENT' : src.live ? 'SOURCE_UNREACHABLE' : 'NOT_FOUND';
        error = new LvuError(code, `record ${src.redacted} → ${out}: ${m.message}`, {
          field: m.phase === 'write' ? 'OUT' : 'SOURCE',
        });
      }
    });
    worker.on('error', (e) => {
      error = new LvuError('INTERNAL', `recorder failed: ${e.message}`, { cause: e });
    });
    worker.on('exit', () => {
      o.signal?.removeEventListener('abort', stop);
      if (result) resolve(result);
      else reject(error ?? new LvuError('INTERNAL', 'recorder exited without a result'));
    });
  });
}

import { FFmpegError } from 'node-av';
import type { DecodeJob } from './worker-protocol.js';

/** Maps an FFmpeg failure to an lvu error code (the main thread builds the LvuError). */
export function classifyDecodeError(
  job: Pick<DecodeJob, 'kind' | 'timeoutMs' | 'transport'>,
  err: unknown,
  phase: 'open' | 'read',
  elapsedMs = 0,
): { code: string; message: string; retriable: boolean; hint?: string } {
  const msg = err instanceof Error ? err.message : String(err);
  const code = err instanceof FFmpegError ? err.code : undefined;
  const live = job.kind === 'rtsp' || job.kind === 'http';
  const m = msg.toLowerCase();
  if (m.includes('401') || m.includes('unauthorized'))
    return { code: 'AUTH_REQUIRED', message: msg, retriable: false };
  if (job.kind === 'rtsp' && phase === 'open' && m.includes('protocol not supported')) {
    // RTSP 461 Unsupported Transport: the server does not take this transport (some accept UDP only)
    return {
      code: 'INVALID_CONFIG',
      message: `the RTSP server refused ${job.transport.toUpperCase()} transport (461 Unsupported Transport)`,
      retriable: false,
      hint: `use --transport ${job.transport === 'tcp' ? 'udp' : 'tcp'} (transport: ${job.transport === 'tcp' ? 'udp' : 'tcp'}), or auto to fall back by itself`,
    };
  }
  if (m.includes('404') || m.includes('not found')) {
    if (job.kind === 'file') return { code: 'NOT_FOUND', message: msg, retriable: false };
    if (m.includes('decoder')) return { code: 'UNSUPPORTED_MEDIA', message: msg, retriable: false };
    return { code: 'NOT_FOUND', message: msg, retriable: live };
  }
  if (m.includes('no such file')) return { code: 'NOT_FOUND', message: msg, retriable: false };
  if (m.includes('connection refused') || m.includes('network is unreachable') || m.includes('no route')) {
    return { code: 'SOURCE_UNREACHABLE', message: msg, retriable: true };
  }
  if (m.includes('timed out') || m.includes('timeout') || code === -110) {
    return { code: 'SOURCE_TIMEOUT', message: msg, retriable: true };
  }
  if (live && phase === 'open' && elapsedMs >= 0.9 * job.timeoutMs) {
    // a server that accepts the connection and never answers: FFmpeg reports what it failed to parse
    return {
      code: 'SOURCE_TIMEOUT',
      message: `no answer within ${(job.timeoutMs / 1000).toFixed(1)} s (FFmpeg: ${msg})`,
      retriable: true,
    };
  }
  if (live)
    return {
      code: phase === 'open' ? 'SOURCE_UNREACHABLE' : 'SOURCE_STALLED',
      message: msg,
      retriable: true,
    };
  if (m.includes('invalid data') || m.includes('invalid argument')) {
    return { code: 'DECODE_FAILED', message: `not a readable media file (${msg})`, retriable: false };
  }
  return { code: 'DECODE_FAILED', message: msg, retriable: false };
}

import './polyfill.js';
import { Demuxer, type FormatContext } from 'node-av';
import type { SourceKind } from './source-url.js';

export interface InputSpec {
  url: string;
  kind: SourceKind;
  transport: 'tcp' | 'udp';
  timeoutMs: number;
  stallTimeoutMs?: number;
  inputOptions?: Record<string, string>;
}

/** The protocols each kind of source needs (FFmpeg's `protocol_whitelist`); a lavfi graph opens none through it. */
export const PROTOCOLS: Record<SourceKind, string> = {
  file: 'file,crypto,data',
  rtsp: 'rtsp,rtsps,rtp,srtp,udp,tcp,tls,crypto',
  http: 'http,https,tcp,tls,crypto,data,httpproxy',
  lavfi: '',
};

/**
 * Opens a source with lvu's network defaults (synchronously: call it in a worker). RTSP: the chosen transport, a
 * socket I/O timeout (a silent or frozen server fails reads instead of hanging) and bounded probing (FFmpeg's 5 s
 * default would delay every reconnection); HTTP: a read/write timeout. Returns the demuxer and its format context,
 * read from directly with a reused packet (see decode-worker.ts for why not `packetsSync`). Throws FFmpeg's error.
 */
export function openInput(spec: InputSpec): { input: Demuxer; fmt: FormatContext } {
  const options: Record<string, string> = { ...spec.inputOptions };
  // what FFmpeg may open on the source's behalf (an HLS playlist naming file:// segments, a playlist that
  // redirects elsewhere): only the protocols of its own kind, whatever the options say
  if (PROTOCOLS[spec.kind]) options.protocol_whitelist = PROTOCOLS[spec.kind];
  else delete options.protocol_whitelist;
  const us = String(Math.round(spec.timeoutMs * 1000));
  if (spec.kind === 'rtsp') {
    options.rtsp_transport ??= spec.transport;
    options.timeout ??= us;
    options.analyzeduration ??= '500000';
    options.probesize ??= '500000';
  } else if (spec.kind === 'http') {
    options.rw_timeout ??= us;
    // a live HLS playlist that stops growing (its publisher died) is reloaded m3u8_hold_counters times before the
    // read ends (FFmpeg's default, 1000, blocks for hours and cannot be interrupted): about one reload a second
    options.m3u8_hold_counters ??= String(Math.max(2, Math.round((spec.stallTimeoutMs ?? 10_000) / 1000)));
  }
  let fmt: FormatContext | null = null;
  const configure = (ctx: FormatContext) => {
    fmt = ctx;
  };
  const input = Demuxer.openSync(
    spec.url,
    spec.kind === 'lavfi' ? { format: 'lavfi', options, configure } : { options, configure },
  );
  return { input, fmt: fmt! };
}

import { LvuError, redactSource } from '@lvu/core';

export type SourceKind = 'file' | 'rtsp' | 'http' | 'lavfi';

export interface ParsedSource {
  kind: SourceKind;
  /** What FFmpeg opens. */
  url: string;
  /** Safe to log: credentials replaced by `***`. */
  redacted: string;
  live: boolean;
}

/**
 * Classifies a source string: `rtsp://` / `rtsps://` (live), `http(s)://` (HLS or files over HTTP; live when the
 * caller says so or the playlist is live), `lavfi:` + a filter graph (generated video, for tests), otherwise a file
 * path (`file://` accepted).
 */
export function parseSource(source: string): ParsedSource {
  const s = source.trim();
  if (s.length === 0) throw new LvuError('INVALID_ARGUMENT', 'the source is empty', { field: 'source' });
  const lower = s.toLowerCase();
  if (lower.startsWith('rtsp://') || lower.startsWith('rtsps://')) {
    return { kind: 'rtsp', url: s, redacted: redactSource(s), live: true };
  }
  if (lower.startsWith('http://') || lower.startsWith('https://')) {
    return { kind: 'http', url: s, redacted: redactSource(s), live: false };
  }
  if (lower.startsWith('lavfi:')) return { kind: 'lavfi', url: s.slice(6), redacted: s, live: false };
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(s) && !lower.startsWith('file://')) {
    throw new LvuError('UNSUPPORTED_MEDIA', `unsupported source scheme in ${redactSource(s)}`, {
      field: 'source',
      hint: 'use a file path, rtsp://, http(s):// or lavfi:',
    });
  }
  const path = lower.startsWith('file://') ? decodeURIComponent(s.slice(7)) : s;
  return { kind: 'file', url: path, redacted: path, live: false };
}

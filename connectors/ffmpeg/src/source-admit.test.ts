import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type LvuError, sourcePolicySchema } from '@lvu/core';
import { describe, expect, it } from 'vitest';
import { admitFfmpegSource, lavfiFilterNames } from './source-admit.js';

const refused = (f: () => void): LvuError => {
  try {
    f();
  } catch (err) {
    return err as LvuError;
  }
  throw new Error('not refused');
};

describe('the FFmpeg source under the API source policy', () => {
  const policy = sourcePolicySchema.parse({});

  it('reads filter names as FFmpeg splits a graph (escapes, quotes, labels, instance names)', () => {
    expect(lavfiFilterNames('testsrc2=size=320x240:rate=25,format=rgb24')).toEqual(['testsrc2', 'format']);
    expect(lavfiFilterNames("color=c=red:s=64x64[a];[a]drawbox@x=t='a,b;c'[out]")).toEqual([
      'color',
      'drawbox',
    ]);
    expect(lavfiFilterNames('testsrc=size=32x32:\\,movie=x')).toEqual(['testsrc']);
    expect(lavfiFilterNames('testsrc,movie=filename=/etc/passwd')).toEqual(['testsrc', 'movie']);
  });

  it('refuses every filter of the probes that read, wrote or connected, and allows generators', () => {
    for (const g of [
      'movie=filename=/etc/passwd:format_name=rawvideo:format_opts=video_size=32x32\\\\\\:pixel_format=gray,scale=384:384',
      'testsrc=d=1,metadata=mode=print:file=/tmp/victim',
      'testsrc=d=1[a];testsrc=d=1[b];[a][b]psnr=stats_file=/tmp/victim',
      'movie=filename=tcp\\://127.0.0.1\\:9',
      'life=filename=/etc/passwd',
      'testsrc,sendcmd=f=/etc/passwd',
      '',
    ]) {
      const e = refused(() => admitFfmpegSource(`lavfi:${g}`, {}, policy));
      expect(e.code, g).toBe('FORBIDDEN');
      expect(e.hint).toMatch(/lavfiFilters/);
    }
    expect(() =>
      admitFfmpegSource('lavfi:testsrc2=size=320x240:rate=25:duration=5,format=rgb24', {}, policy),
    ).not.toThrow();
  });

  it('refuses input options outside the allow-list (listen binds a port, protocol_whitelist widens it)', () => {
    for (const k of ['listen', 'protocol_whitelist', 'rtsp_flags', 'graph_file', 'dumpgraph']) {
      const e = refused(() => admitFfmpegSource('rtsp://cam/x', { inputOptions: { [k]: '1' } }, policy));
      expect(e.code).toBe('FORBIDDEN');
      expect(e.field).toBe('inputOptions');
    }
    expect(() =>
      admitFfmpegSource('rtsp://cam/x', { inputOptions: { rtsp_transport: 'udp', probesize: '32' } }, policy),
    ).not.toThrow();
  });

  it('opens files only inside fileDirs, links resolved, whether the file exists or not', () => {
    const root = mkdtempSync(join(tmpdir(), 'lvu-admit-'));
    const videos = join(root, 'videos');
    mkdirSync(videos);
    writeFileSync(join(videos, 'a.mp4'), 'x');
    writeFileSync(join(root, 'secret'), 'x');
    symlinkSync(join(root, 'secret'), join(videos, 'link.mp4'));
    const p = sourcePolicySchema.parse({ schemes: ['file'], fileDirs: [videos] });
    expect(() => admitFfmpegSource(join(videos, 'a.mp4'), {}, p)).not.toThrow();
    expect(() => admitFfmpegSource(`file://${join(videos, 'a.mp4')}`, {}, p)).not.toThrow();
    for (const s of [
      join(root, 'secret'),
      join(videos, '..', 'secret'),
      join(videos, 'link.mp4'),
      '/etc/passwd',
      join(root, 'missing.mp4'),
    ]) {
      expect(refused(() => admitFfmpegSource(s, {}, p)).code, s).toBe('FORBIDDEN');
    }
    expect(refused(() => admitFfmpegSource(join(videos, 'a.mp4'), {}, policy)).hint).toMatch(/fileDirs/);
  });
});

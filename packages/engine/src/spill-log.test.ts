import { mkdtempSync, readdirSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FeatureRow } from '@lvu/arrow';
import { describe, expect, it } from 'vitest';
import { SpillLog } from './spill-log.js';

const row = (seq: number): FeatureRow => ({
  streamId: 's',
  seq,
  ptsMs: seq * 500,
  wallMs: 1e12 + seq,
  frameH: 180,
  frameW: 320,
  hi: Float32Array.from({ length: 64 }, (_, i) => seq + i / 100),
  lo: Float32Array.from({ length: 16 }, (_, i) => -seq - i / 100),
  thumb: Uint8Array.of(seq & 255),
});

describe('SpillLog', () => {
  it('appends segments, reads time ranges back exactly, reopens from the directory, drops the oldest beyond maxDiskBytes', () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'lvu-spill-')), 's');
    const log = new SpillLog('s', { dir, segmentFrames: 10 });
    for (let i = 0; i < 95; i++) log.append(row(i));
    log.append(row(50)); // at-least-once: ignored
    expect(log.segments).toBe(9);
    const mid = log.read(20_000, 30_000); // seq 40..60
    expect(mid.map((r) => r.seq)).toEqual(Array.from({ length: 21 }, (_, i) => 40 + i));
    expect([...mid[3]!.hi]).toEqual([...row(43).hi]);
    expect(log.read(47_000).map((r) => r.seq)).toEqual([94]); // the unflushed tail too
    log.flush();
    const again = new SpillLog('s', { dir, segmentFrames: 10 });
    expect(again.segments).toBe(10);
    expect(again.lastSeq).toBe(94);
    expect(again.read().map((r) => r.seq)).toEqual(Array.from({ length: 95 }, (_, i) => i));
    const perSegment = again.diskBytes / 10;
    const small = new SpillLog('s', { dir, segmentFrames: 10, maxDiskBytes: Math.ceil(perSegment * 3.5) });
    for (let i = 95; i < 105; i++) small.append(row(i));
    expect(small.segments).toBe(3);
    expect(readdirSync(dir)).toHaveLength(3);
    expect(small.read()[0]!.seq).toBe(80);
  });

  it('writes a summary file beside each segment; summaries read back exactly, or are computed where one is missing', () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'lvu-spill-')), 's');
    const summary = (r: FeatureRow) => Float32Array.of(r.seq, r.lo[0]!, 0.5);
    const log = new SpillLog('s', { dir, segmentFrames: 4, summary });
    for (let i = 0; i < 10; i++) log.append(row(i));
    expect(readdirSync(dir).filter((f) => f.endsWith('.means'))).toHaveLength(2);
    expect(log.pending.map((r) => r.seq)).toEqual([8, 9]);
    const all = [...log.summaries()];
    expect(all.map((x) => x.seq)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]); // pending frames are the caller's
    expect([...all[5]!.summary]).toEqual([...summary(row(5))]);
    expect(all[5]).toMatchObject({ ptsMs: 2500, wallMs: 1e12 + 5 });
    expect(log.rows(all[5]!.segment, new Set([5])).map((r) => r.seq)).toEqual([5]);
    // a segment from before summaries existed: computed from its rows
    unlinkSync(join(dir, all[0]!.segment.replace('.arrow', '.means')));
    const again = new SpillLog('s', { dir, segmentFrames: 4, summary });
    expect([...again.summaries(0, 1000)].map((x) => [...x.summary])).toEqual(
      [0, 1, 2].map((i) => [...summary(row(i))]),
    );
    expect(() => again.rows('../../etc/passwd')).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
    );
  });
});

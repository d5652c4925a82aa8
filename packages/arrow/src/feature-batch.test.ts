import { describe, expect, it } from 'vitest';
import {
  buildFeatureBatch,
  type FeatureRow,
  featureRows,
  featureSchema,
  fromIpc,
  toIpc,
} from './feature-batch.js';

const geometry = { hiValues: 16 * 8, loValues: 4 * 8 };
const row = (seq: number): FeatureRow => ({
  streamId: seq % 2 ? 'cam-b' : 'cam-a',
  seq,
  ptsMs: seq * 1000.5,
  wallMs: 1.7e12 + seq,
  frameH: 720,
  frameW: 1280,
  hi: Float32Array.from({ length: geometry.hiValues }, (_, i) => Math.sin(seq * 100 + i)),
  lo: Float32Array.from({ length: geometry.loValues }, (_, i) => Math.cos(seq * 100 + i)),
  thumb: Uint8Array.from({ length: 12 }, (_, i) => (seq + i) & 255),
});

describe('FeatureBatch', () => {
  it('round-trips rows through Arrow IPC exactly, with zero-copy tensor views into the IPC bytes', () => {
    const schema = featureSchema(geometry, { highGridSide: '4' });
    const rows = [row(0), row(1), row(7)];
    const bytes = toIpc([buildFeatureBatch(rows, schema), buildFeatureBatch([row(9)], schema)], schema);
    const table = fromIpc(bytes);
    expect(table.schema.metadata.get('highGridSide')).toBe('4');
    const back = table.batches.flatMap((b) => featureRows(b));
    expect(back).toHaveLength(4);
    for (const [i, r] of [...rows, row(9)].entries()) {
      const b = back[i]!;
      expect({ ...b, hi: [...b.hi], lo: [...b.lo], thumb: [...b.thumb] }).toEqual({
        ...r,
        hi: [...r.hi],
        lo: [...r.lo],
        thumb: [...r.thumb],
      });
      expect(b.hi.buffer).toBe(bytes.buffer);
      expect(b.lo.buffer).toBe(bytes.buffer);
    }
  });

  it("keeps a detector's objects per row: absent (no detector), none found, and several, in one batch", () => {
    const schema = featureSchema(geometry);
    const objects = Float32Array.from([0, 0.9, 0.1, 0.2, 0.05, 0.3, 2, 0.4, 0.5, 0.5, 0.25, 0.125]);
    const rows = [row(0), { ...row(1), objects: new Float32Array(0) }, { ...row(2), objects }, row(3)];
    const back = fromIpc(toIpc([buildFeatureBatch(rows, schema)], schema)).batches.flatMap((b) =>
      featureRows(b),
    );
    expect(back.map((r) => (r.objects ? [...r.objects] : null))).toEqual([null, [], [...objects], null]);
    // a value that is not 6 floats per object is refused, not misread
    const bad = { ...row(4), objects: new Float32Array(5) };
    const ipc = toIpc([buildFeatureBatch([bad], schema)], schema);
    expect(() => fromIpc(ipc).batches.flatMap((b) => featureRows(b))).toThrow(
      expect.objectContaining({ code: 'MALFORMED_MESSAGE' }),
    );
  });

  it('refuses rows of the wrong size and bytes that are not Arrow', () => {
    const schema = featureSchema(geometry);
    expect(() => buildFeatureBatch([{ ...row(0), hi: new Float32Array(3) }], schema)).toThrow(
      expect.objectContaining({ code: 'SHAPE_MISMATCH' }),
    );
    expect(() => fromIpc(new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]))).toThrow(
      expect.objectContaining({ code: 'MALFORMED_MESSAGE' }),
    );
  });
});

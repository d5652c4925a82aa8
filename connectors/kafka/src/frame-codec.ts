import { LvuError, type SampledFrame } from '@lvu/core';
import { Packr } from 'msgpackr';

/** msgpackr with `moreTypes`, so the frames' Uint8Array images stay typed arrays on the way back. */
const packr = new Packr({ moreTypes: true, useRecords: false });

/** A SampledFrame as a Kafka message value (raw RGB images, msgpack). */
export function encodeFrame(f: SampledFrame): Uint8Array {
  return packr.pack(f);
}

/** The inverse of `encodeFrame`, checking every field: a malformed message is MALFORMED_MESSAGE with the reason. */
export function decodeFrame(bytes: Uint8Array): SampledFrame {
  let v: unknown;
  try {
    v = packr.unpack(bytes);
  } catch (err) {
    throw new LvuError('MALFORMED_MESSAGE', `not a msgpack SampledFrame: ${(err as Error).message}`, {
      field: 'value',
      cause: err,
    });
  }
  const f = v as Partial<SampledFrame> | null;
  const bad = (field: string, why: string) =>
    new LvuError('MALFORMED_MESSAGE', `SampledFrame.${field} ${why}`, { field });
  if (!f || typeof f !== 'object') throw bad('(root)', 'is not an object');
  if (typeof f.streamId !== 'string' || !f.streamId) throw bad('streamId', 'must be a non-empty string');
  for (const k of ['seq', 'ptsMs', 'wallMs', 'width', 'height'] as const) {
    if (typeof f[k] !== 'number' || !Number.isFinite(f[k])) throw bad(k, 'must be a finite number');
  }
  if (!Number.isInteger(f.seq) || f.seq! < 0) throw bad('seq', 'must be a non-negative integer');
  if (!f.images || typeof f.images !== 'object') throw bad('images', 'must be a map of side → RGB bytes');
  for (const [side, img] of Object.entries(f.images)) {
    const s = Number(side);
    if (!(img instanceof Uint8Array)) throw bad(`images.${side}`, 'must be bytes');
    if (!Number.isInteger(s) || s <= 0 || img.length !== s * s * 3) {
      throw bad(`images.${side}`, `must hold ${side}×${side} RGB bytes, has ${img.length}`);
    }
  }
  return f as SampledFrame;
}

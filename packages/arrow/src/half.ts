/**
 * IEEE 754 half precision (binary16) for feature grids on the wire: Node 20 has no Float16Array, so the bits are
 * Uint16Arrays. float32 → float16 rounds to nearest, ties to even (overflow → ±Infinity, NaN stays NaN); float16 →
 * float32 is exact (a 65,536-entry table).
 */
export function toHalf<T extends Uint16Array = Uint16Array<ArrayBuffer>>(
  src: Float32Array,
  out: T = new Uint16Array(src.length) as T,
  at = 0,
): T {
  const u = new Uint32Array(src.buffer, src.byteOffset, src.length);
  for (let i = 0; i < u.length; i++) {
    const b = u[i]!;
    const sign = (b >>> 16) & 0x8000;
    const exp = (b >>> 23) & 0xff;
    let mant = b & 0x7fffff;
    let h: number;
    if (exp === 0xff) h = 0x7c00 | (mant ? 0x200 : 0);
    else {
      const e = exp - 112; // rebias 127 → 15
      if (e >= 0x1f) h = 0x7c00;
      else if (e <= 0) {
        if (e < -10) h = 0;
        else {
          mant |= 0x800000;
          const shift = 14 - e;
          h = mant >>> shift;
          const rem = mant & ((1 << shift) - 1);
          const half = 1 << (shift - 1);
          if (rem > half || (rem === half && h & 1)) h++;
        }
      } else {
        h = (e << 10) | (mant >>> 13);
        const rem = mant & 0x1fff;
        if (rem > 0x1000 || (rem === 0x1000 && h & 1)) h++; // a carry into the exponent is the right rounding
      }
    }
    out[at + i] = sign | h;
  }
  return out;
}

let table: Float32Array | null = null;

function halfTable(): Float32Array {
  if (table) return table;
  table = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const s = h & 0x8000 ? -1 : 1;
    const e = (h >>> 10) & 0x1f;
    const m = h & 0x3ff;
    table[h] =
      e === 0
        ? s * m * 2 ** -24
        : e === 0x1f
          ? m
            ? Number.NaN
            : s * Number.POSITIVE_INFINITY
          : s * (1 + m / 1024) * 2 ** (e - 15);
  }
  return table;
}

export function fromHalf(src: Uint16Array, out = new Float32Array(src.length)): Float32Array {
  const t = halfTable();
  for (let i = 0; i < src.length; i++) out[i] = t[src[i]!]!;
  return out;
}

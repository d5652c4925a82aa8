import type { FloatArray } from '@lvu/core';

// Tight loops over typed arrays with float64 accumulators, unrolled by 4 (V8 keeps the four sums in registers).

export function dot(a: FloatArray, aOff: number, b: FloatArray, bOff: number, n: number): number {
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let i = 0;
  for (; i + 3 < n; i += 4) {
    s0 += a[aOff + i]! * b[bOff + i]!;
    s1 += a[aOff + i + 1]! * b[bOff + i + 1]!;
    s2 += a[aOff + i + 2]! * b[bOff + i + 2]!;
    s3 += a[aOff + i + 3]! * b[bOff + i + 3]!;
  }
  for (; i < n; i++) s0 += a[aOff + i]! * b[bOff + i]!;
  return s0 + s1 + (s2 + s3);
}

export function sumSquares(a: FloatArray, off: number, n: number): number {
  return dot(a, off, a, off, n);
}

/** Whether every element is finite (used only on small tensors: big ones are checked through their norms). */
export function allFinite(a: FloatArray): boolean {
  for (let i = 0; i < a.length; i++) if (!Number.isFinite(a[i]!)) return false;
  return true;
}

/** An array of the same float type as `like`. */
export function allocLike<T extends FloatArray>(like: T, n: number): T {
  return (like instanceof Float64Array ? new Float64Array(n) : new Float32Array(n)) as T;
}

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

export function sum(a: FloatArray, off: number, n: number): number {
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let i = 0;
  for (; i + 3 < n; i += 4) {
    s0 += a[off + i]!;
    s1 += a[off + i + 1]!;
    s2 += a[off + i + 2]!;
    s3 += a[off + i + 3]!;
  }
  for (; i < n; i++) s0 += a[off + i]!;
  return s0 + s1 + (s2 + s3);
}

/**
 * Whether a[0..n) is free of NaN and ±Infinity. A sum is non-finite iff a term is, unless finite terms overflow
 * float64, which only then costs a second, exact pass.
 */
export function allFinite(a: FloatArray, n = a.length): boolean {
  if (Number.isFinite(sum(a, 0, n))) return true;
  for (let k = 0; k < n; k++) if (!Number.isFinite(a[k]!)) return false;
  return true;
}

/** An array of the same float type as `like`. */
export function allocLike<T extends FloatArray>(like: T, n: number): T {
  return (like instanceof Float64Array ? new Float64Array(n) : new Float32Array(n)) as T;
}

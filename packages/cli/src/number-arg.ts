import { LvuError } from '@lvu/core';

/** A numeric command-line option: undefined when absent, an INVALID_ARGUMENT naming it when not a number ≥ min. */
export function numberArg(v: string | undefined, field: string, min: number): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n < min) {
    throw new LvuError('INVALID_ARGUMENT', `--${field} must be a number ≥ ${min}, got "${v}"`, { field });
  }
  return n;
}

/** A TCP port option (0 = any free port). */
export function portArg(v: string, field = 'port'): number {
  const p = Number(v);
  if (!Number.isInteger(p) || p < 0 || p > 65535) {
    throw new LvuError('INVALID_ARGUMENT', `--${field} must be 0–65535, got "${v}"`, { field });
  }
  return p;
}

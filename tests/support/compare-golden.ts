/**
 * Compares `lvu conformance` output with a golden case's `expected`, by the contract of tests/golden/README.md:
 * integers, strings, booleans and lists equal exactly; `visual_checksums` within 1e-6 relative; the diagnostic float
 * lists (`window_scores`, `sim_frame`) within 1e-9 absolute; dumped token/pooled values within 1e-9 relative.
 * Returns the list of differences (empty = conformant).
 */
export function compareGolden(expected: Record<string, unknown>, actual: Record<string, unknown>): string[] {
  const diffs: string[] = [];
  const approx = (a: number, b: number, rel: number, abs: number) =>
    Math.abs(a - b) <= Math.max(abs, rel * Math.max(Math.abs(a), Math.abs(b)));

  const walk = (e: unknown, a: unknown, path: string, mode: 'exact' | 'rel6' | 'abs9' | 'rel9') => {
    if (typeof e === 'number' && typeof a === 'number') {
      const ok =
        mode === 'exact'
          ? Number.isInteger(e)
            ? e === a
            : approx(e, a, 1e-12, 0)
          : mode === 'rel6'
            ? approx(e, a, 1e-6, 1e-12)
            : mode === 'abs9'
              ? approx(e, a, 0, 1e-9)
              : approx(e, a, 1e-9, 1e-12);
      if (!ok) diffs.push(`${path}: expected ${e}, got ${a}`);
      return;
    }
    if (Array.isArray(e)) {
      if (!Array.isArray(a)) {
        diffs.push(`${path}: expected a list, got ${JSON.stringify(a)?.slice(0, 80)}`);
        return;
      }
      if (e.length !== a.length) {
        diffs.push(`${path}: expected ${e.length} items, got ${a.length}`);
        return;
      }
      for (let i = 0; i < e.length; i++) walk(e[i], a[i], `${path}[${i}]`, mode);
      return;
    }
    if (e !== null && typeof e === 'object') {
      if (a === null || typeof a !== 'object') {
        diffs.push(`${path}: expected an object, got ${JSON.stringify(a)}`);
        return;
      }
      for (const [k, v] of Object.entries(e)) {
        const sub =
          k === 'visual_checksums'
            ? 'rel6'
            : k === 'window_scores' || k === 'sim_frame'
              ? 'abs9'
              : k === 'visual_tokens' || k === 'pooled_pre_projector_first_frame'
                ? 'rel9'
                : mode;
        if (!(k in (a as object))) {
          diffs.push(`${path}.${k}: missing`);
          continue;
        }
        walk(v, (a as Record<string, unknown>)[k], `${path}.${k}`, sub);
      }
      return;
    }
    if (e !== a) diffs.push(`${path}: expected ${JSON.stringify(e)}, got ${JSON.stringify(a)}`);
  };
  // Not in the contract: the reference's dump of the pooled grid (an intermediate value); visual_tokens are compared
  // when the output has them (`lvu conformance --tokens`).
  const { pooled_pre_projector_first_frame: _pp, ...rest } = expected;
  if (!('visual_tokens' in actual)) delete rest.visual_tokens;
  walk(rest, actual, '$', 'exact');
  return diffs;
}

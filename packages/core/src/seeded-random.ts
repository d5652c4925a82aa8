/**
 * A small deterministic generator (xorshift32) for synthetic data: the embedded demo, benchmarks and tests.
 * Returns floats in [0, 1). Not for anything that needs statistical quality or security.
 */
export function seededRandom(seed: number): () => number {
  let s = seed >>> 0 || 0x9e3779b9;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 4294967296;
  };
}

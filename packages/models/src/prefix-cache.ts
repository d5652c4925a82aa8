import type { WireTensor } from './session-protocol.js';

/**
 * The KV cache of the last prompt an LLM prefilled, so the next prompt that starts the same way (a standing question
 * over an unchanged context, a follow-up question: LongVU puts the frames before the question) prefills only what
 * differs. Prompts are compared row by row on their exact bits; the cache is reused up to the first differing row,
 * and at most up to the last row (its logits are needed). One prompt is kept: `kvBytes` is what it holds.
 */
export class PrefixCache {
  #embeds: Float32Array | null = null;
  #kv: WireTensor[] | null = null;
  #rows = 0;
  /** Prompts that reused a prefix, and the rows they did not prefill. */
  hits = 0;
  reusedRows = 0;

  get kvBytes(): number {
    return (this.#kv ?? []).reduce((n, t) => n + t.data.byteLength, 0);
  }

  /** Rows at the start of `embeds` (width `H`) equal to the kept prompt's, capped one short of its length. */
  match(embeds: Float32Array, H: number): number {
    const kept = this.#embeds;
    if (!kept || !this.#kv) return 0;
    const rows = Math.min(this.#rows, embeds.length / H - 1);
    const a = new Uint32Array(kept.buffer, kept.byteOffset, rows * H);
    const b = new Uint32Array(embeds.buffer, embeds.byteOffset, rows * H);
    let r = 0;
    outer: for (; r < rows; r++) {
      const base = r * H;
      for (let d = 0; d < H; d++) if (a[base + d] !== b[base + d]) break outer;
    }
    return r;
  }

  /** The kept KV cut to its first `rows` positions ([1, kvHeads, rows, headDim] per tensor, fresh arrays). */
  past(rows: number): WireTensor[] {
    return this.#kv!.map((t) => {
      const [, heads, len, headDim] = t.dims as [number, number, number, number];
      const src = t.data as Float32Array;
      const out = new Float32Array(heads * rows * headDim);
      for (let h = 0; h < heads; h++)
        out.set(src.subarray(h * len * headDim, h * len * headDim + rows * headDim), h * rows * headDim);
      return { type: 'float32', dims: [1, heads, rows, headDim], data: out };
    });
  }

  /** Keeps a prompt and the KV cache its prefill produced (copied: the caller goes on with the originals). */
  store(embeds: Float32Array, kv: readonly WireTensor[]): void {
    this.#embeds = embeds.slice();
    this.#kv = kv.map((t) => ({ ...t, data: (t.data as Float32Array).slice() }));
    this.#rows = Number(kv[0]?.dims[2] ?? 0); // the positions the KV covers (the prompt's rows)
  }
}

import { LvuError, seededRandom } from '@lvu/core';
import type { LoadedManifest } from './model-manifest.js';
import type { PrefixCache } from './prefix-cache.js';
import type { InferencePool } from './session-pool.js';
import type { WireTensor } from './session-protocol.js';

export interface GenerateOptions {
  /** Default 64. */
  maxNewTokens?: number;
  /** 0 (default) = greedy. */
  temperature?: number;
  /** Nucleus sampling mass, default 1. */
  topP?: number;
  seed?: number;
  /**
   * The KV cache of an earlier prompt: the rows this prompt shares with it at its start are not prefilled again
   * (and this prompt's KV is kept in it for the next). Omit to prefill everything.
   */
  prefix?: PrefixCache | null;
  /** Token ids that end generation (not emitted); default: the manifest's stop tokens. */
  stopTokens?: number[];
  signal?: AbortSignal;
}

export interface GeneratedToken {
  id: number;
  /** Position of the token in the sequence. */
  position: number;
}

/**
 * Autoregressive generation from `inputs_embeds` (the visual + text sequence the compression core assembles):
 * prefill once (only past the rows `prefix` already holds), then one token at a time with the KV cache, each new
 * token embedded by the text-embed model.
 * Streams tokens as they come; stops at a stop token, `maxNewTokens`, or when `signal` aborts.
 */
export async function* generate(
  pool: InferencePool,
  m: LoadedManifest,
  inputsEmbeds: Float32Array,
  defaultStops: number[],
  o: GenerateOptions = {},
): AsyncGenerator<GeneratedToken> {
  const llm = m.manifest.llm;
  if (!llm || !pool.loaded.has('llm')) {
    throw new LvuError('MODEL_INVALID', 'no LLM is loaded (manifest models.llm)', { field: 'models.llm' });
  }
  const H = m.manifest.longvu.llmDim;
  if (inputsEmbeds.length === 0 || inputsEmbeds.length % H !== 0) {
    throw new LvuError('SHAPE_MISMATCH', `inputs_embeds must be a non-empty multiple of ${H} values`, {
      field: 'inputs_embeds',
    });
  }
  const seq = inputsEmbeds.length / H;
  const maxNew = o.maxNewTokens ?? 64;
  if (seq + maxNew > llm.contextTokens) {
    throw new LvuError(
      'CONTEXT_OVERFLOW',
      `${seq} prompt tokens + ${maxNew} new tokens exceed the model's context of ${llm.contextTokens}`,
      { field: 'inputs_embeds', hint: 'lower the token budget or maxNewTokens' },
    );
  }
  const stops = new Set(o.stopTokens ?? defaultStops);
  const temperature = o.temperature ?? 0;
  const topP = o.topP ?? 1;
  const rand = seededRandom(o.seed ?? 0);
  const { layers, kvHeads, headDim, vocabSize } = llm;
  const names = Array.from({ length: layers }, (_, i) => [`past.${i}.key`, `past.${i}.value`]).flat();
  // the rows an earlier prompt already prefilled: their KV is reused, the rest is prefilled on top of it
  const reuse = o.prefix?.match(inputsEmbeds, H) ?? 0;
  let past: WireTensor[] =
    reuse > 0
      ? o.prefix!.past(reuse)
      : names.map(() => ({ type: 'float32', dims: [1, kvHeads, 0, headDim], data: new Float32Array(0) }));
  if (reuse > 0) {
    o.prefix!.hits++;
    o.prefix!.reusedRows += reuse;
  }
  let embeds: Float32Array = inputsEmbeds.slice(reuse * H);
  let total = reuse;
  for (let step = 0; step < maxNew; step++) {
    if (o.signal?.aborted) throw new LvuError('CANCELLED', 'generation cancelled');
    const n = embeds.length / H;
    const feeds: Record<string, WireTensor> = {
      inputs_embeds: { type: 'float32', dims: [1, n, H], data: embeds },
      attention_mask: { type: 'int64', dims: [1, total + n], data: new BigInt64Array(total + n).fill(1n) },
      position_ids: {
        type: 'int64',
        dims: [1, n],
        data: BigInt64Array.from({ length: n }, (_, i) => BigInt(total + i)),
      },
    };
    names.forEach((name, i) => {
      feeds[name] = past[i]!;
    });
    const r = await pool.run('llm', feeds, { transfer: true });
    total += n;
    past = names.map((name) => r.outputs[name.replace('past', 'present')]!);
    if (step === 0) o.prefix?.store(inputsEmbeds, past); // the prompt's KV, for the next prompt that starts alike
    const logits = r.outputs.logits!.data as Float32Array;
    const last = logits.subarray((n - 1) * vocabSize, n * vocabSize);
    const id = temperature > 0 ? sample(last, temperature, topP, rand) : argmax(last);
    if (stops.has(id)) return;
    yield { id, position: total };
    const e = await pool.run('text-embed', {
      input_ids: { type: 'int64', dims: [1, 1], data: BigInt64Array.of(BigInt(id)) },
    });
    embeds = e.outputs.embeds!.data as Float32Array;
  }
}

function argmax(x: Float32Array): number {
  let best = 0;
  for (let i = 1; i < x.length; i++) if (x[i]! > x[best]!) best = i;
  return best;
}

/** Temperature softmax, then the smallest set of tokens whose mass reaches topP, sampled with `rand`. */
function sample(logits: Float32Array, temperature: number, topP: number, rand: () => number): number {
  const max = logits.reduce((a, b) => Math.max(a, b), Number.NEGATIVE_INFINITY);
  const p = Array.from(logits, (l, i) => ({ i, p: Math.exp((l - max) / temperature) }));
  const z = p.reduce((a, b) => a + b.p, 0);
  p.sort((a, b) => b.p - a.p || a.i - b.i);
  let mass = 0;
  let k = 0;
  while (k < p.length && mass < topP * z) mass += p[k++]!.p;
  let u = rand() * mass;
  for (let j = 0; j < k; j++) {
    u -= p[j]!.p;
    if (u <= 0) return p[j]!.i;
  }
  return p[k - 1]!.i;
}

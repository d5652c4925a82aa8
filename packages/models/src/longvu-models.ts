import { LvuError } from '@lvu/core';
import { ChatTokenizer } from './chat-tokenizer.js';
import { type GeneratedToken, type GenerateOptions, generate } from './llm-generator.js';
import { microBatcher } from './micro-batcher.js';
import {
  type LoadedManifest,
  loadManifest,
  MODEL_ROLES,
  type ModelRole,
  type Precision,
} from './model-manifest.js';
import { PrefixCache } from './prefix-cache.js';
import { type InferencePool, SessionPool, type SessionPoolOptions } from './session-pool.js';

type FuseInput = [dino: Float32Array, siglip: Float32Array, keyMask: Float32Array | undefined];

export interface LongVuModelsOptions extends SessionPoolOptions {
  /** Roles to load (default: every role the manifest has). */
  roles?: ModelRole[];
  maxBatch?: number;
  maxWaitMs?: number;
  /** Which variant of each network to load (default: the manifest's `precision`). */
  precision?: Precision;
  /** Where the networks run (default: a SessionPool, onnxruntime-node in this process's inference thread). */
  pool?: InferencePool;
}

/**
 * One owned array per item of a batch output: the buffer itself for a batch of one, else a copy of each row, never
 * a view (a view would keep the whole batch alive with it, and posting it to a thread would copy the whole batch).
 */
function ownedRows(out: Float32Array, n: number): Float32Array[] {
  if (n === 1 && out.byteOffset === 0 && out.byteLength === out.buffer.byteLength) return [out];
  const each = out.length / n;
  return Array.from({ length: n }, (_, i) => out.slice(i * each, (i + 1) * each));
}
/**
 * LongVU's networks from a model directory, run in a worker-thread session pool:
 * RGB frames → DINOv2 tokens and SigLIP tokens ((2S)² × hidden each) → SVA queries (S² × svaDim) → projector
 * (LLM width), plus text embeddings. Frame-level calls are micro-batched.
 */
export class LongVuModels {
  readonly m: LoadedManifest;
  readonly pool: InferencePool;
  readonly #dino: (img: Uint8Array) => Promise<Float32Array>;
  readonly #siglip: (img: Uint8Array) => Promise<Float32Array>;
  readonly #fuse: (x: FuseInput) => Promise<Float32Array>;
  /** The LLM's tokenizer and chat template (when the manifest has an LLM). */
  readonly tokenizer: ChatTokenizer | null;

  private constructor(m: LoadedManifest, pool: InferencePool, o: LongVuModelsOptions) {
    this.m = m;
    this.pool = pool;
    this.tokenizer = m.manifest.llm ? new ChatTokenizer(m) : null;
    const b = { maxBatch: o.maxBatch ?? 8, maxWaitMs: o.maxWaitMs ?? 5 };
    this.#dino = microBatcher((imgs) => this.#encode('dino', imgs), b);
    this.#siglip = microBatcher((imgs) => this.#encode('siglip', imgs), b);
    this.#fuse = microBatcher((pairs) => this.#fuseBatch(pairs), b);
  }

  static async open(dir: string, o: LongVuModelsOptions = {}): Promise<LongVuModels> {
    const m = loadManifest(dir, { precision: o.precision });
    const pool = o.pool ?? new SessionPool(o);
    const roles = o.roles ?? MODEL_ROLES.filter((r) => m.manifest.models[r]);
    try {
      for (const r of roles) await pool.load(m, r);
    } catch (err) {
      await pool.close();
      throw err;
    }
    return new LongVuModels(m, pool, o);
  }

  get longvu() {
    return this.m.manifest.longvu;
  }

  /** Square RGB size each vision encoder wants (what the ingest should produce). */
  imageSize(role: 'dino' | 'siglip'): number {
    const p = this.m.manifest.models[role]?.preprocess;
    if (!p)
      throw new LvuError('MODEL_INVALID', `model ${role} has no preprocess section`, {
        field: `models.${role}.preprocess`,
      });
    return p.size;
  }

  /** One RGB24 image (size² · 3) → normalised CHW float32, written at `out[offset]`. */
  #normalise(role: 'dino' | 'siglip', rgb: Uint8Array, out: Float32Array, offset: number): void {
    const p = this.m.manifest.models[role]!.preprocess!;
    const n = p.size * p.size;
    if (rgb.length !== n * 3) {
      throw new LvuError(
        'SHAPE_MISMATCH',
        `${role} needs ${p.size}×${p.size} RGB images (${n * 3} bytes), got ${rgb.length}`,
        {
          field: `${role}.image`,
        },
      );
    }
    for (let c = 0; c < 3; c++) {
      const scale = 1 / (255 * p.std[c]!);
      const shift = p.mean[c]! / p.std[c]!;
      const base = offset + c * n;
      for (let i = 0; i < n; i++) out[base + i] = rgb[i * 3 + c]! * scale - shift;
    }
  }

  async #encode(role: 'dino' | 'siglip', imgs: Uint8Array[]): Promise<Float32Array[]> {
    const size = this.imageSize(role);
    const per = 3 * size * size;
    const px = new Float32Array(imgs.length * per);
    imgs.forEach((img, i) => {
      this.#normalise(role, img, px, i * per);
    });
    const r = await this.pool.run(
      role,
      { pixel_values: { type: 'float32', dims: [imgs.length, 3, size, size], data: px } },
      { transfer: true },
    );
    return ownedRows(r.outputs.tokens!.data as Float32Array, imgs.length);
  }

  async #fuseBatch(pairs: FuseInput[]): Promise<Float32Array[]> {
    const spec = this.m.manifest.models.sva!;
    const [dIn, sIn, maskIn] = spec.inputs;
    const M = Number(dIn!.shape[1]);
    const dn = pairs[0]![0].length;
    const sn = pairs[0]![1].length;
    const d = new Float32Array(pairs.length * dn);
    const s = new Float32Array(pairs.length * sn);
    const mask = new Float32Array(pairs.length * M).fill(1);
    pairs.forEach(([a, b, m], i) => {
      if (a.length !== dn || b.length !== sn) {
        throw new LvuError('SHAPE_MISMATCH', 'SVA inputs of one batch differ in size', { field: 'sva' });
      }
      d.set(a, i * dn);
      s.set(b, i * sn);
      if (m) mask.set(m, i * M);
    });
    const feeds: Record<string, { type: 'float32'; dims: number[]; data: Float32Array }> = {
      [dIn!.name]: { type: 'float32', dims: [pairs.length, M, dn / M], data: d },
      [sIn!.name]: { type: 'float32', dims: [pairs.length, M, sn / M], data: s },
    };
    // exports before the LongVU-structured SVA have no key mask: they see every key
    if (maskIn) feeds[maskIn.name] = { type: 'float32', dims: [pairs.length, M], data: mask };
    const r = await this.pool.run('sva', feeds, { transfer: true });
    return ownedRows(Object.values(r.outputs)[0]!.data as Float32Array, pairs.length);
  }

  /** DINOv2 tokens ((2S)² × hidden) of one frame. */
  encodeDino(rgb: Uint8Array): Promise<Float32Array> {
    return this.#dino(rgb);
  }

  /** SigLIP tokens ((2S)² × hidden) of one frame. */
  encodeSiglip(rgb: Uint8Array): Promise<Float32Array> {
    return this.#siglip(rgb);
  }

  /**
   * SVA fusion of one frame: S² × svaDim. `keyMask` ((2S)² values, 1 = visible; compress's `svaKeyMask`) hides
   * the padding of a pad-to-square frame from the cross-attention, as LongVU does from `image_sizes`; without it
   * every key is visible (a square frame).
   */
  fuse(dinoTokens: Float32Array, siglipTokens: Float32Array, keyMask?: Float32Array): Promise<Float32Array> {
    const M = Number(this.m.manifest.models.sva?.inputs[0]?.shape[1]);
    if (keyMask && keyMask.length !== M) {
      return Promise.reject(
        new LvuError('SHAPE_MISMATCH', `SVA key mask has ${keyMask.length} values, expected ${M}`, {
          field: 'sva.key_mask',
        }),
      );
    }
    return this.#fuse([dinoTokens, siglipTokens, keyMask]);
  }

  /**
   * mm_projector on `rows` × svaDim features → rows × llmDim. `transfer`: the caller hands `features` over (it owns
   * the whole buffer and will not read it again), so it moves to the inference thread instead of being copied.
   */
  async project(features: Float32Array, rows: number, o: { transfer?: boolean } = {}): Promise<Float32Array> {
    const dim = this.longvu.svaDim;
    if (features.length !== rows * dim) {
      throw new LvuError(
        'SHAPE_MISMATCH',
        `projector input has ${features.length} values, expected ${rows}×${dim}`,
        {
          field: 'projector.features',
        },
      );
    }
    const r = await this.pool.run(
      'projector',
      { features: { type: 'float32', dims: [rows, dim], data: features } },
      o,
    );
    return r.outputs.embeds!.data as Float32Array;
  }

  /** Token ids → embeddings (ids.length × llmDim). */
  async embedText(ids: ArrayLike<number>): Promise<Float32Array> {
    const vocab = this.longvu.vocabSize;
    const data = new BigInt64Array(ids.length);
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      if (!Number.isInteger(id) || id < 0 || (vocab !== undefined && id >= vocab)) {
        throw new LvuError('INVALID_ARGUMENT', `token id ${id} is outside the vocabulary (${vocab})`, {
          field: 'input_ids',
        });
      }
      data[i] = BigInt(id);
    }
    const r = await this.pool.run(
      'text-embed',
      { input_ids: { type: 'int64', dims: [1, ids.length], data } },
      { transfer: true },
    );
    return r.outputs.embeds!.data as Float32Array;
  }

  /** The KV cache of the last prompt (`generate` reuses the rows the next prompt starts with). */
  readonly prefix = new PrefixCache();

  /**
   * Streams the LLM's answer to `inputsEmbeds` (seq × llmDim), token by token; the rows it shares at its start with
   * the previous prompt are not prefilled again (`o.prefix: null` prefills everything).
   */
  generate(inputsEmbeds: Float32Array, o: GenerateOptions = {}): AsyncGenerator<GeneratedToken> {
    return generate(this.pool, this.m, inputsEmbeds, this.tokenizer?.stopIds ?? [], {
      ...o,
      prefix: o.prefix === undefined ? this.prefix : o.prefix,
    });
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}

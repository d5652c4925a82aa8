import { createHash } from 'node:crypto';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LvuError } from '@lvu/core';
import { microBatcher } from './micro-batcher.js';
import { resolveModelsDir } from './model-manifest.js';
import { type DetectorManifest, ObjectDetector } from './object-detector.js';
import { SessionPool, type SessionPoolOptions } from './session-pool.js';
import { WordPieceTokenizer } from './wordpiece-tokenizer.js';

/** The manifest `lvu models fetch starter` writes (tools/starter/fetch.py). */
export interface StarterManifest {
  format: 'lvu-starter/1';
  models: {
    classifier: {
      file: string;
      input: string;
      outputs: { features: string; cam: string; logits: string };
      preprocess: { size: number; mean: number[]; std: number[] };
      grid: number;
      labels: string;
    };
    'text-embed': { file: string; tokenizer: string; inputs: string[]; output: string; dim: number };
    /** The COCO object detector, when fetched (`lvu models fetch detector`). */
    detector?: DetectorManifest;
  };
  files: Record<string, { sha256: string }>;
  /** wordnet-hypernyms.json: each class's WordNet lemmas up the tree (from Debian's wordnet-base), when fetched. */
  hypernyms?: string;
  /** The temporal-reduction threshold for these features, and how it was chosen. */
  calibration?: { dinoThreshold: number; how: string; sceneThreshold?: number; sceneHow?: string };
}

/** Whether a model directory (or the name `starter`) holds the starter set. */
export function isStarterDir(dir: string): boolean {
  const f = join(resolveModelsDir(dir), 'manifest.json');
  if (!existsSync(f)) return false;
  try {
    return JSON.parse(readFileSync(f, 'utf8')).format === 'lvu-starter/1';
  } catch {
    return false;
  }
}

export interface ClassifiedFrame {
  /** grid² × 1280: the classifier's last feature map, token-major (the temporal-reduction features). */
  features: Float32Array;
  /** 1000 × grid²: class logits per cell (class-activation maps). */
  cam: Float32Array;
  /** 1000 class logits of the whole picture. */
  logits: Float32Array;
}

/**
 * The starter set's networks in the inference thread: torchvision's MobileNetV2 (ImageNet-1k) at 384 px, whose
 * per-cell class logits make a 12×12 semantic grid, and the all-MiniLM-L6-v2 sentence embedder with its WordPiece
 * tokenizer; the 1000 class names embedded once (cached next to the models).
 */
export class StarterModels {
  readonly dir: string;
  readonly manifest: StarterManifest;
  readonly pool: SessionPool;
  readonly tokenizer: WordPieceTokenizer;
  /** ImageNet class names (the first synonym of each line). */
  readonly labels: string[];
  /** What is embedded for each class: its first three synonyms ("monarch, monarch butterfly, milkweed butterfly"). */
  readonly labelTexts: string[];
  /** labels × dim, each an L2-normalised sentence embedding of its class name. */
  labelEmbeddings: Float32Array = new Float32Array(0);
  readonly dim: number;
  readonly size: number;
  readonly grid: number;
  /** The COCO detector (people, vehicles…), when the set has it. */
  detector: ObjectDetector | null = null;
  /**
   * Each class's WordNet lemmas, its own synset's and every hypernym's (the most general left out), ImageNet's in
   * `labels` order and COCO's in the detector's; null when the set was fetched without WordNet.
   */
  readonly hypernyms: { imagenet: string[][]; coco: string[][] } | null;
  readonly #classify: (img: Uint8Array) => Promise<ClassifiedFrame>;

  private constructor(
    dir: string,
    manifest: StarterManifest,
    pool: SessionPool,
    o: { maxBatch?: number; maxWaitMs?: number },
  ) {
    this.dir = dir;
    this.manifest = manifest;
    this.pool = pool;
    const c = manifest.models.classifier;
    this.size = c.preprocess.size;
    this.grid = c.grid;
    this.dim = manifest.models['text-embed'].dim;
    this.tokenizer = WordPieceTokenizer.fromFile(join(dir, manifest.models['text-embed'].tokenizer));
    const lines = readFileSync(join(dir, c.labels), 'utf8').trim().split('\n');
    this.labels = lines.map((l) => l.split(',')[0]!.trim());
    this.labelTexts = lines.map((l) =>
      l
        .split(',')
        .slice(0, 3)
        .map((x) => x.trim())
        .join(', '),
    );
    this.hypernyms = manifest.hypernyms
      ? (JSON.parse(readFileSync(join(dir, manifest.hypernyms), 'utf8')) as StarterModels['hypernyms'])
      : null;
    this.#classify = microBatcher((imgs) => this.#classifyBatch(imgs), {
      maxBatch: o.maxBatch ?? 8,
      maxWaitMs: o.maxWaitMs ?? 5,
    });
  }

  static async open(
    dir: string,
    o: SessionPoolOptions & { maxBatch?: number; maxWaitMs?: number } = {},
  ): Promise<StarterModels> {
    const root = resolveModelsDir(dir);
    let manifest: StarterManifest;
    try {
      manifest = JSON.parse(readFileSync(join(root, 'manifest.json'), 'utf8'));
    } catch (cause) {
      throw new LvuError('NOT_FOUND', `no readable starter manifest in ${root}`, {
        field: 'modelDir',
        hint: 'run `npx lvu models fetch starter` first',
        cause,
      });
    }
    if (manifest.format !== 'lvu-starter/1') {
      throw new LvuError(
        'MODEL_INVALID',
        `${root} is not a starter set (format ${String(manifest.format)})`,
        {
          field: 'format',
        },
      );
    }
    const detector = manifest.models.detector;
    for (const f of [
      manifest.models.classifier.file,
      manifest.models['text-embed'].file,
      ...(detector ? [detector.file] : []),
    ]) {
      if (!existsSync(join(root, f))) {
        throw new LvuError('MODEL_INVALID', `${f} is missing in ${root}`, {
          field: 'files',
          hint: 'run `npx lvu models fetch starter` again (it resumes)',
        });
      }
    }
    const pool = new SessionPool(o);
    try {
      await pool.loadFile('classifier', join(root, manifest.models.classifier.file));
      await pool.loadFile('text-embed', join(root, manifest.models['text-embed'].file));
      const m = new StarterModels(root, manifest, pool, o);
      if (detector) m.detector = await ObjectDetector.open(root, detector, pool);
      await m.#loadLabelEmbeddings();
      return m;
    } catch (err) {
      await pool.close();
      throw err;
    }
  }

  /** One frame (size² RGB, the picture padded to a square) through the classifier. */
  classify(img: Uint8Array): Promise<ClassifiedFrame> {
    if (img.length !== this.size * this.size * 3) {
      throw new LvuError('SHAPE_MISMATCH', `the classifier needs ${this.size}×${this.size} RGB images`, {
        field: 'classifier.image',
      });
    }
    return this.#classify(img);
  }

  async #classifyBatch(imgs: Uint8Array[]): Promise<ClassifiedFrame[]> {
    const c = this.manifest.models.classifier;
    const n = this.size * this.size;
    const px = new Float32Array(imgs.length * 3 * n);
    imgs.forEach((rgb, k) => {
      for (let ch = 0; ch < 3; ch++) {
        const scale = 1 / (255 * c.preprocess.std[ch]!);
        const shift = c.preprocess.mean[ch]! / c.preprocess.std[ch]!;
        const base = (k * 3 + ch) * n;
        for (let i = 0; i < n; i++) px[base + i] = rgb[i * 3 + ch]! * scale - shift;
      }
    });
    const r = await this.pool.run(
      'classifier',
      { [c.input]: { type: 'float32', dims: [imgs.length, 3, this.size, this.size], data: px } },
      { transfer: true },
    );
    const feats = r.outputs[c.outputs.features]!.data as Float32Array;
    const cam = r.outputs[c.outputs.cam]!.data as Float32Array;
    const logits = r.outputs[c.outputs.logits]!.data as Float32Array;
    const cells = this.grid * this.grid;
    const channels = feats.length / imgs.length / cells;
    return imgs.map((_, k) => {
      // channel-major → token-major (cells × channels), like DINO's patch tokens
      const f = new Float32Array(cells * channels);
      const src = k * channels * cells;
      for (let ch = 0; ch < channels; ch++)
        for (let t = 0; t < cells; t++) f[t * channels + ch] = feats[src + ch * cells + t]!;
      return {
        features: f,
        cam: cam.slice(k * 1000 * cells, (k + 1) * 1000 * cells),
        logits: logits.slice(k * 1000, (k + 1) * 1000),
      };
    });
  }

  /** Per-token hidden states (ids.length × dim) of one token sequence through the sentence embedder. */
  async tokenStates(ids: readonly number[]): Promise<Float32Array> {
    return (await this.#embedBatch([ids]))[0]!;
  }

  /** The L2-normalised sentence embedding (mean of the token states) of each text. */
  async sentences(texts: string[]): Promise<Float32Array[]> {
    const states = await this.#embedBatch(texts.map((t) => this.tokenizer.encode(t)));
    return states.map((s) => meanNormalised(s, this.dim));
  }

  async #embedBatch(seqs: (readonly number[])[]): Promise<Float32Array[]> {
    const t = this.manifest.models['text-embed'];
    const len = Math.max(...seqs.map((s) => s.length));
    const ids = new BigInt64Array(seqs.length * len);
    const mask = new BigInt64Array(seqs.length * len);
    seqs.forEach((s, i) => {
      s.forEach((id, j) => {
        ids[i * len + j] = BigInt(id);
        mask[i * len + j] = 1n;
      });
    });
    const dims = [seqs.length, len];
    const r = await this.pool.run('text-embed', {
      input_ids: { type: 'int64', dims, data: ids },
      attention_mask: { type: 'int64', dims, data: mask },
      token_type_ids: { type: 'int64', dims, data: new BigInt64Array(seqs.length * len) },
    });
    const h = r.outputs[t.output]!.data as Float32Array;
    return seqs.map((s, i) => h.slice(i * len * this.dim, (i * len + s.length) * this.dim));
  }

  /** The class names' embeddings, computed once and cached next to the models (keyed by the files they come from). */
  async #loadLabelEmbeddings(): Promise<void> {
    const key = createHash('sha256')
      .update(this.manifest.files[this.manifest.models['text-embed'].file]?.sha256 ?? '')
      .update(this.labelTexts.join('\n'))
      .digest('hex')
      .slice(0, 16);
    const cache = join(this.dir, `label-embeddings-${key}.f32`);
    const bytes = this.labels.length * this.dim * 4;
    if (existsSync(cache)) {
      const b = readFileSync(cache);
      if (b.byteLength === bytes) {
        this.labelEmbeddings = new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
        return;
      }
    }
    const out = new Float32Array(this.labels.length * this.dim);
    for (let i = 0; i < this.labels.length; i += 50) {
      const e = await this.sentences(this.labelTexts.slice(i, i + 50));
      for (const [k, v] of e.entries()) out.set(v, (i + k) * this.dim);
    }
    this.labelEmbeddings = out;
    try {
      writeFileSync(`${cache}.partial`, Buffer.from(out.buffer));
      renameSync(`${cache}.partial`, cache);
    } catch {
      // a read-only model directory: computed again next time
    }
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}

/** Mean over rows, L2-normalised. */
export function meanNormalised(rows: Float32Array, dim: number): Float32Array {
  const n = rows.length / dim;
  const v = new Float32Array(dim);
  for (let r = 0; r < n; r++) for (let d = 0; d < dim; d++) v[d] = v[d]! + rows[r * dim + d]!;
  let norm = 0;
  for (let d = 0; d < dim; d++) norm += v[d]! * v[d]!;
  norm = Math.sqrt(norm) || 1;
  for (let d = 0; d < dim; d++) v[d] = v[d]! / norm;
  return v;
}

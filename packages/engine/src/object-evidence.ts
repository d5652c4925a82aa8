import type { FeatureRow } from '@lvu/arrow';
import { formatClock } from '@lvu/core';
import { OBJECT_STRIDE } from '@lvu/models';
import { termClasses, VIDEO_WORDS } from './class-words.js';

/** Floats per object in `FeatureRow.objects`: class index, score, x, y, width, height. */
const STRIDE = OBJECT_STRIDE;

/**
 * COCO's supercategories (its 2017 annotations' `categories[].supercategory`), by the class names they hold: a
 * question about "vehicles" asks about all of these classes. Names a question may use for a class ("people",
 * "pedestrians") are in `WORDS`.
 */
const SUPERCATEGORIES: Record<string, string[]> = {
  vehicle: ['bicycle', 'car', 'motorcycle', 'airplane', 'bus', 'train', 'truck', 'boat'],
  animal: ['bird', 'cat', 'dog', 'horse', 'sheep', 'cow', 'elephant', 'bear', 'zebra', 'giraffe'],
  food: ['banana', 'apple', 'sandwich', 'orange', 'broccoli', 'carrot', 'hot dog', 'pizza', 'donut', 'cake'],
  furniture: ['chair', 'couch', 'potted plant', 'bed', 'dining table', 'toilet'],
  electronic: ['tv', 'laptop', 'mouse', 'remote', 'keyboard', 'cell phone'],
};

/** Words for a class (or supercategory) other than its name and plural. */
const WORDS: Record<string, string[]> = {
  person: [
    'people',
    'persons',
    'pedestrian',
    'pedestrians',
    'man',
    'men',
    'woman',
    'women',
    'someone',
    'anyone',
    'anybody',
    'somebody',
    'human',
    'humans',
    'child',
    'children',
    'kid',
    'kids',
    'walker',
    'walkers',
  ],
  bicycle: ['bike', 'bikes', 'cyclist', 'cyclists'],
  motorcycle: ['motorbike', 'motorbikes', 'scooter', 'scooters'],
  airplane: ['plane', 'planes', 'aeroplane', 'aeroplanes', 'aircraft'],
  car: ['automobile', 'automobiles'],
  tv: ['television', 'televisions'],
  'cell phone': ['phone', 'phones', 'smartphone', 'mobile phone'],
  couch: ['sofa', 'sofas'],
  vehicle: ['vehicles'],
  animal: ['animals', 'pet', 'pets'],
};

/** A class (or group of classes) a question names, and the classes it stands for. */
export interface NamedObjects {
  /** The class or supercategory name ("person", "vehicle"). */
  name: string;
  classes: string[];
}

/**
 * The detector's classes a question names: class names, plurals, common words for them, COCO's supercategories and,
 * with `hypernyms` (each class's WordNet lemmas up the tree), any WordNet word above a class ("vehicle", "mammal",
 * "fruit", "someone"), which names all the classes below it.
 */
export function namedObjects(
  question: string,
  classes: readonly string[],
  hypernyms?: readonly (readonly string[])[],
): NamedObjects[] {
  const q = ` ${question
    .toLowerCase()
    .replace(/[^a-z0-9 ]+/g, ' ')
    .replace(/\s+/g, ' ')} `;
  const has = (w: string) => !VIDEO_WORDS.has(w) && q.includes(` ${w} `);
  const plural = (w: string) => (/(s|sh|ch|x)$/.test(w) ? `${w}es` : `${w}s`);
  const known = new Set(classes);
  const out: NamedObjects[] = [];
  for (const [name, members] of Object.entries(SUPERCATEGORIES)) {
    const m = members.filter((c) => known.has(c));
    if (m.length && [name, ...(WORDS[name] ?? [])].some(has)) out.push({ name, classes: m });
  }
  for (const c of classes) {
    if ([c, plural(c), ...(WORDS[c] ?? [])].some(has)) out.push({ name: c, classes: [c] });
  }
  if (!hypernyms) return out;
  const named = (c: string) => out.some((n) => n.classes.length === 1 && n.classes[0] === c);
  for (const [term, idx] of termClasses(question, hypernyms)) {
    const names = idx.map((i) => classes[i]!).filter(Boolean);
    const same = out.find((n) => n.name === term);
    if (same) {
      // COCO's supercategory and WordNet's word: both hierarchies' classes
      same.classes = [...new Set([...same.classes, ...names])].sort(
        (a, b) => classes.indexOf(a) - classes.indexOf(b),
      );
    } else if (names.length === 1) {
      // a synonym of one class ("someone", "automobile"): that class, under its own name
      if (!named(names[0]!)) out.push({ name: names[0]!, classes: names });
    } else if (names.length > 1) {
      out.push({ name: term, classes: names });
    }
  }
  return out;
}

const className = (classes: readonly string[], k: number) => classes[k] ?? `class ${k}`;

/** How many objects of each class a frame holds (objects as `FeatureRow.objects`). */
export function objectCounts(objects: Float32Array, classes: readonly string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (let i = 0; i + STRIDE <= objects.length; i += STRIDE) {
    const name = className(classes, objects[i]!);
    out[name] = (out[name] ?? 0) + 1;
  }
  return out;
}

/** A frame's objects as JSON-friendly boxes: class name, score, box (x, y, w, h in 0..1), to 3 decimals. */
export function objectBoxes(
  objects: Float32Array,
  classes: readonly string[],
): { class: string; score: number; box: [number, number, number, number] }[] {
  const r = (v: number) => Math.round(v * 1000) / 1000;
  const out: { class: string; score: number; box: [number, number, number, number] }[] = [];
  for (let i = 0; i + STRIDE <= objects.length; i += STRIDE) {
    out.push({
      class: className(classes, objects[i]!),
      score: r(objects[i + 1]!),
      box: [r(objects[i + 2]!), r(objects[i + 3]!), r(objects[i + 4]!), r(objects[i + 5]!)],
    });
  }
  return out;
}

/** How many of a frame's objects are of the classes `ids` (indices into the detector's classes). */
export function countOf(objects: Float32Array | undefined, ids: ReadonlySet<number>): number {
  let n = 0;
  for (let i = 0; i + STRIDE <= (objects?.length ?? 0); i += STRIDE) if (ids.has(objects![i]!)) n++;
  return n;
}

/** A frame's count of what a question names. */
export interface CountedFrame {
  streamId: string;
  seq: number;
  ptsMs: number;
  wallMs: number;
  count: number;
}

/** When a named object was seen: a run of consecutive frames (of one stream) that each show at least one. */
export interface PresenceRange {
  streamId: string;
  fromMs: number;
  toMs: number;
  /** Frames of the run, and the most objects one of them shows. */
  frames: number;
  max: number;
}

/**
 * Runs of consecutive frames of one stream (`frames` in time order, streams interleaved) for which `count(i)` is
 * positive, longest first (then most frames, then earliest); `members` are the run's frame indices.
 */
export function presenceRuns(
  frames: readonly { streamId: string; ptsMs: number }[],
  count: (i: number) => number,
): (PresenceRange & { members: number[] })[] {
  const runs: (PresenceRange & { members: number[] })[] = [];
  const open = new Map<string, (typeof runs)[number]>();
  frames.forEach((f, i) => {
    const c = count(i);
    const r = open.get(f.streamId);
    if (c <= 0) {
      open.delete(f.streamId);
    } else if (r) {
      r.toMs = f.ptsMs;
      r.frames++;
      r.max = Math.max(r.max, c);
      r.members.push(i);
    } else {
      const nr = { streamId: f.streamId, fromMs: f.ptsMs, toMs: f.ptsMs, frames: 1, max: c, members: [i] };
      runs.push(nr);
      open.set(f.streamId, nr);
    }
  });
  return runs.sort(
    (a, b) => b.toMs - b.fromMs - (a.toMs - a.fromMs) || b.frames - a.frames || a.fromMs - b.fromMs,
  );
}

/** What the frames show of one named class (or group): counts, when, for how long. */
export interface ObjectEvidence extends NamedObjects {
  /** Frames the detector looked at (frames kept without a detector do not count), and those showing one or more. */
  framesSeen: number;
  framesWith: number;
  /** The frames showing the most of them, most first (then earliest): where they are, with counts. */
  top: CountedFrame[];
  /** Runs of one stream's frames showing them, longest first: each run's media time range. */
  ranges: PresenceRange[];
  /** Seconds covered by the ranges (each frame's run counts from its first to its last frame). */
  seconds: number;
  /** The count at the time the question names ("how many cars at 01:32"): the frame nearest it. */
  at?: CountedFrame;
}

/**
 * The object evidence of a question: for each class (or COCO supercategory) it names, the frames that show it with
 * counts, the time ranges they cover and, when the question names a time (`at 01:32`, media time), the count there.
 * Frames without detector output are not counted; none at all, or no class named, gives [].
 */
export function objectEvidence(
  question: string,
  frames: readonly FeatureRow[],
  classes: readonly string[] | undefined,
  o: { top?: number; hypernyms?: readonly (readonly string[])[] } = {},
): ObjectEvidence[] {
  if (!classes?.length) return [];
  const seen = frames.filter((f) => f.objects);
  if (!seen.length) return [];
  const named = namedObjects(question, classes, o.hypernyms);
  const at = askedTime(question);
  return named.map((n) => {
    const ids = new Set(n.classes.map((c) => classes.indexOf(c)));
    const counted: CountedFrame[] = seen.map((f) => ({
      streamId: f.streamId,
      seq: f.seq,
      ptsMs: f.ptsMs,
      wallMs: f.wallMs,
      count: countOf(f.objects, ids),
    }));
    const ranges: PresenceRange[] = presenceRuns(seen, (i) => counted[i]!.count).map(
      ({ members: _, ...r }) => r,
    );
    const top = counted
      .filter((c) => c.count > 0)
      .sort((a, b) => b.count - a.count || a.ptsMs - b.ptsMs)
      .slice(0, o.top ?? 5);
    const nearest =
      at === null
        ? undefined
        : counted.reduce((best, c) => (Math.abs(c.ptsMs - at) < Math.abs(best.ptsMs - at) ? c : best));
    return {
      ...n,
      framesSeen: seen.length,
      framesWith: counted.filter((c) => c.count > 0).length,
      top,
      ranges,
      seconds: ranges.reduce((s, r) => s + (r.toMs - r.fromMs) / 1000, 0),
      ...(nearest ? { at: nearest } : {}),
    };
  });
}

/** A media time the question names: "at 01:32", "at 1:02:03" (ms), or null. */
export function askedTime(question: string): number | null {
  const m = /\b(?:at|around|by)\s+(?:(\d+):)?(\d{1,2}):(\d{2})\b/i.exec(question);
  if (!m) return null;
  return ((Number(m[1] ?? 0) * 60 + Number(m[2])) * 60 + Number(m[3])) * 1000;
}

/** The evidence in words: "person: 7 at most (00:42), seen in 80 of 95 frames, 00:00–01:35 …". */
export function describeObjects(ev: readonly ObjectEvidence[], multi: boolean): string {
  return ev
    .map((e) => {
      if (e.framesWith === 0) return `${e.name}: none seen in ${e.framesSeen} frames`;
      const best = e.top[0]!;
      const where = (s: string, ms: number) => (multi ? `${s} ${formatClock(ms)}` : formatClock(ms));
      const ranges = e.ranges
        .slice(0, 3)
        .map((r) =>
          r.fromMs === r.toMs
            ? where(r.streamId, r.fromMs)
            : `${where(r.streamId, r.fromMs)}–${formatClock(r.toMs)} (up to ${r.max})`,
        );
      const at = e.at ? `${e.at.count} at ${formatClock(e.at.ptsMs)}; ` : '';
      return `${e.name}: ${at}${best.count} at most (${where(best.streamId, best.ptsMs)}), seen in ${e.framesWith} of ${e.framesSeen} frames, ${ranges.join(', ')}`;
    })
    .join('; ');
}

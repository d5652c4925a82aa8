/**
 * `npm run bench -- engine --json`: the streaming engine.
 * 1. replay of a 10-minute 720p file (fast pacing) with the `small` models: end-to-end wall time against the larger
 *    of the isolated ingest of that file and the isolated inference of the same frames, measured in the same run;
 * 2. a 24-hour stream at accelerated time (synthetic 1 fps frames, tiny models): RSS at hour 1 and hour 24, retained
 *    frames and question tokens every hour against the budget;
 * 3. question latency without LLM decoding (text embeddings → inputs_embeds ready) over a full 8,192-token context
 *    at width 3,584: p50 / p95;
 * 4. live: concurrent 1 fps RTSP streams from real gst-rtsp-server processes with the tiny models: drops and
 *    last-frame age p99 per stream count.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { createEngine } from '@lvu/cli';
import { longVuOptions, StreamingTemporalReducer } from '@lvu/compress';
import type { SampledFrame } from '@lvu/core';
import {
  answerQuestion,
  cachedNorms,
  NoneBackend,
  OnnxFrameEncoder,
  type RetainedFrame,
  SpillLog,
  StcCache,
  type TextEncoder,
} from '@lvu/engine';
import { VideoSource } from '@lvu/ffmpeg';
import { LongVuModels } from '@lvu/models';
import { ensureSmallModels, ensureSmallVariants, ensureVideos, freePort } from './fixtures.js';
import type { BenchOptions, BenchRow } from './run.js';
import { median } from './stats.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const TINY = join(root, 'tests/fixtures/models/tiny');
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const rssMb = () => {
  gc();
  return Math.round(process.memoryUsage().rss / 2 ** 20);
};
const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))]!;
};

async function replayCase(quick: boolean): Promise<BenchRow> {
  const { ten } = ensureVideos(quick ? 1 : 10);
  const small = ensureSmallModels();
  // 1. isolated ingest: decode + sample + preprocess, frames kept in memory for the inference run
  const sizes = [224];
  let t = performance.now();
  const frames: SampledFrame[] = [];
  for await (const f of new VideoSource(ten, { fps: 1, sizes })) frames.push(f);
  const ingestMs = performance.now() - t;
  // 2. isolated inference of the same frames: DINO on all, the temporal reduction, SigLIP + SVA + projector on kept
  const models = await LongVuModels.open(small, { roles: ['dino', 'siglip', 'sva', 'projector'] });
  const enc = new OnnxFrameEncoder(models, { padded: true, unpad: 'official' });
  const o = longVuOptions({ dinoThreshold: models.longvu.dinoThreshold ?? 0.83 });
  t = performance.now();
  const reducer = new StreamingTemporalReducer<{ f: SampledFrame; d: Float32Array }>(
    o.dinoWindowFrames,
    o.dinoThreshold,
  );
  let kept = 0;
  const keep = async (w: ReturnType<typeof reducer.push>) => {
    for (const k of w?.kept ?? []) {
      await enc.features(k.item.f, k.item.d);
      kept++;
    }
  };
  for (const f of frames) {
    const d = await enc.dino(f);
    await keep(reducer.push(d, { f, d }));
  }
  await keep(reducer.flush());
  const inferenceMs = performance.now() - t;
  await models.close();
  frames.length = 0;
  // 3. end to end: the engine on the file
  const engine = await createEngine({ models: small, backend: 'none' });
  t = performance.now();
  engine.addStream({ id: 'replay', source: ten });
  await engine.whenDone('replay');
  const e2eMs = performance.now() - t;
  const s = engine.status('replay');
  await engine.close();
  return {
    bench: 'engine',
    case: `replay ${quick ? '1' : '10'}-minute 1280×720 H.264, small models, fps 1, fast pacing`,
    sampled: s.counters.sampled,
    kept: s.counters.kept,
    keptIsolated: kept,
    ingestMs: Math.round(ingestMs),
    inferenceMs: Math.round(inferenceMs),
    endToEndMs: Math.round(e2eMs),
    ratio: Number((e2eMs / Math.max(ingestMs, inferenceMs)).toFixed(3)),
    noOverlapRatio: Number(((ingestMs + inferenceMs) / Math.max(ingestMs, inferenceMs)).toFixed(3)),
    target: '≤ 1.15',
    baseline: 'max(isolated ingest, isolated inference of the same frames), same run',
  };
}

/** 1 fps synthetic frames: a scene that changes every 1–120 s, at the tiny models' input sizes. */
async function* syntheticDay(
  hours: number,
  onHour: (h: number) => Promise<void>,
): AsyncGenerator<SampledFrame> {
  let s = 12345;
  const rnd = () => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return s / 2 ** 32;
  };
  const scenes = Array.from({ length: 32 }, () => [rnd() * 255, rnd() * 255, rnd() * 255]);
  let scene = 0;
  let until = 0;
  const t0 = Date.now();
  for (let seq = 0; seq < hours * 3600; seq++) {
    if (seq >= until) {
      scene = Math.floor(rnd() * scenes.length);
      until = seq + 1 + Math.floor(rnd() * 120);
    }
    const images: Record<number, Uint8Array> = {};
    for (const side of [112, 128]) {
      const img = new Uint8Array(side * side * 3);
      const [r = 0, g = 0, b = 0] = scenes[scene]!;
      for (let i = 0; i < side * side; i++) {
        const n = (i * 7 + seq) % 31;
        img[i * 3] = r + n;
        img[i * 3 + 1] = g + n;
        img[i * 3 + 2] = b + n;
      }
      images[side] = img;
    }
    yield { streamId: 'day', seq, ptsMs: seq * 1000, wallMs: t0 + seq, width: 1280, height: 720, images };
    if ((seq + 1) % 3600 === 0) await onHour((seq + 1) / 3600);
  }
}

async function dayCase(quick: boolean): Promise<BenchRow> {
  const hours = quick ? 3 : 24;
  const engine = await createEngine({ models: TINY, backend: 'none', maxWaitMs: 0 });
  const perHour: {
    hour: number;
    rssMb: number;
    retainedFrames: number;
    retainedTokens: number;
    questionTokens: number;
  }[] = [];
  const t = performance.now();
  engine.addStream({
    id: 'day',
    source: syntheticDay(hours, async (hour) => {
      const s = engine.status('day');
      const r = await engine.query('day', { question: 'What happened in the last hour?' });
      perHour.push({
        hour,
        rssMb: rssMb(),
        retainedFrames: s.store.retainedFrames,
        retainedTokens: s.retainedTokens,
        questionTokens: r.totalTokens,
      });
    }),
  });
  await engine.whenDone('day');
  const wallMs = performance.now() - t;
  const s = engine.status('day');
  const budget = engine.longvu.contextTokens;
  await engine.close();
  const h1 = perHour[0]!.rssMb;
  const last = perHour.at(-1)!.rssMb;
  return {
    bench: 'engine',
    case: `${hours}-hour stream at accelerated time (synthetic 1 fps, tiny models, pyramid retention, 400 frames)`,
    sampled: s.counters.sampled,
    kept: s.counters.kept,
    evicted: s.store.evictedTotal,
    wallMs: Math.round(wallMs),
    mediaSpeedup: Math.round((hours * 3600_000) / wallMs),
    rssHour1Mb: h1,
    rssLastHourMb: last,
    rssRatio: Number((last / h1).toFixed(3)),
    rssTarget: 'within 10% (0.9–1.1)',
    maxQuestionTokens: Math.max(...perHour.map((h) => h.questionTokens)),
    budgetTokens: budget,
    maxRetainedFrames: Math.max(...perHour.map((h) => h.retainedFrames)),
    perHour,
  };
}

/**
 * Search over a day of spill: a synthetic day (as `day`) with every kept frame spilled, then `GET …/search` over
 * the whole day through the `.means` summaries, against the baseline of the same ranking from the spilled rows
 * themselves (every segment read back and every frame scored from its low-resolution grid), same run.
 */
async function searchCase(quick: boolean, runs: number): Promise<BenchRow> {
  const hours = quick ? 3 : 24;
  const dir = mkdtempSync(join(tmpdir(), 'lvu-bench-search-'));
  const engine = await createEngine({
    models: TINY,
    backend: 'none',
    maxWaitMs: 0,
    spill: { dir, segmentFrames: 64 },
  });
  try {
    engine.addStream({ id: 'day', source: syntheticDay(hours, async () => {}) });
    await engine.whenDone('day');
    const kept = engine.status('day').counters.kept;
    const q = 'a dark blue scene';
    gc();
    const rss0 = rssMb();
    const times: number[] = [];
    let r = await engine.search(['day'], { q, limit: 10 });
    let peak = rssMb();
    for (let i = 0; i < runs; i++) {
      const t = performance.now();
      r = await engine.search(['day'], { q, limit: 10 });
      times.push(performance.now() - t);
      peak = Math.max(peak, rssMb());
    }
    // baseline: the same scores from the rows on disk
    const score = await engine.frameScorer(q);
    const spill = new SpillLog('day', { dir: join(dir, 'day') });
    const base: number[] = [];
    let baseBest = Number.NEGATIVE_INFINITY;
    let basePeak = 0;
    for (let i = 0; i < Math.min(runs, 3); i++) {
      gc();
      const t = performance.now();
      for (const row of spill.read()) baseBest = Math.max(baseBest, score.row(row));
      base.push(performance.now() - t);
      basePeak = Math.max(basePeak, rssMb());
    }
    const diskMb = spill.diskBytes / 2 ** 20;
    const meansMb =
      readdirSync(join(dir, 'day'))
        .filter((f) => f.endsWith('.means'))
        .reduce((a, f) => a + statSync(join(dir, 'day', f)).size, 0) /
      2 ** 20;
    return {
      bench: 'engine',
      case: `search over a ${hours}-hour spill (synthetic 1 fps, tiny models, limit 10)`,
      keptFrames: kept,
      scanned: r.scanned,
      searchMsMedian: Math.round(median(times)),
      fullReadMsMedian: Math.round(median(base)),
      ratio: Number((median(times) / median(base)).toFixed(3)),
      bestScore: r.ranges[0]!.score,
      fullReadBestScore: baseBest,
      rssBeforeMb: rss0,
      rssPeakSearchMb: peak,
      rssPeakFullReadMb: basePeak,
      spillMb: Math.round(diskMb),
      meansMb: Math.round(meansMb),
      baseline: 'ranking the same frames from the spilled rows (every segment read), same run',
    };
  } finally {
    await engine.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

class RandomTextEncoder implements TextEncoder {
  readonly description = 'random embedding table (width 3584)';
  readonly #table: Float32Array;
  constructor(readonly dim: number) {
    let s = 7;
    this.#table = Float32Array.from({ length: 1024 * dim }, () => {
      s = (Math.imul(s, 1103515245) + 12345) >>> 0;
      return (s / 2 ** 32 - 0.5) * 0.05;
    });
  }
  prompt(q: string) {
    const ids = [...q].map((c) => c.charCodeAt(0) % 1024);
    return { pre: Array.from({ length: 20 }, (_, i) => i), post: [...ids, 2, 5, 7] };
  }
  async embed(ids: readonly number[]) {
    const out = new Float32Array(ids.length * this.dim);
    ids.forEach((id, i) => {
      out.set(this.#table.subarray(id * this.dim, (id + 1) * this.dim), i * this.dim);
    });
    return out;
  }
}

async function questionCase(frames: number, runs: number): Promise<BenchRow> {
  const dim = 3584;
  const o = longVuOptions({});
  let s = 99;
  const rnd = () => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return s / 2 ** 32 - 0.5;
  };
  const stored: RetainedFrame[] = Array.from({ length: frames }, (_, i) => ({
    streamId: 'q',
    seq: i,
    ptsMs: i * 1000,
    wallMs: i,
    frameH: 720,
    frameW: 1280,
    hi: Float32Array.from({ length: 144 * dim }, rnd),
    lo: Float32Array.from({ length: 64 * dim }, rnd),
    thumb: new Uint8Array(0),
    ordinal: i,
  }));
  const vision = { dim, newline: Float32Array.from({ length: dim }, rnd), description: 'synthetic' };
  const text = new RandomTextEncoder(dim);
  const backend = new NoneBackend();
  const scratch = new Float32Array(o.contextTokens * dim); // as Engine.query reuses its buffers
  // as the engine does: the stream's STC chunks are prepared when frames are stored (timed apart: write-path work)
  const cache = new StcCache();
  const norms = (g: Float32Array | Float64Array) => cachedNorms(g, dim);
  let t0 = performance.now();
  await cache.prepare(() => stored, o, dim, vision.newline, norms);
  const prepareMs = performance.now() - t0;
  // one more window of kept frames (7 of 16, the share the gate keeps) evicting as many of the oldest
  const more = Array.from({ length: 7 }, (_, k) => ({
    ...stored[k]!,
    seq: frames + k,
    ptsMs: (frames + k) * 1000,
  }));
  const next = [...stored.slice(7), ...more];
  t0 = performance.now();
  await cache.prepare(() => next, o, dim, vision.newline, norms);
  const windowPrepareMs = performance.now() - t0;
  const ask = async (withCache: boolean) => {
    const times: number[] = [];
    let last = null as Awaited<ReturnType<typeof answerQuestion>> | null;
    for (let i = 0; i < runs + 2; i++) {
      const t = performance.now();
      last = await answerQuestion({
        streamId: 'q',
        frames: next,
        vision,
        text,
        backend,
        longvu: o,
        input: {
          question: 'What happened near the loading dock after the truck arrived?',
          scratch,
          ...(withCache ? { stcCache: cache } : {}),
        },
      });
      if (i >= 2) times.push(performance.now() - t);
    }
    return { times, last: last! };
  };
  const recomputed = await ask(false);
  const { times, last } = await ask(true);
  // the same decisions with and without the prepared chunks
  const same =
    JSON.stringify(last.evidence) === JSON.stringify(recomputed.last.evidence) &&
    last.totalTokens === recomputed.last.totalTokens;
  return {
    bench: 'engine',
    case: `question latency without decoding: ${frames} retained frames at width ${dim}, 16:9, budget 8192`,
    mode: last!.mode,
    totalTokens: last!.totalTokens,
    highResFrames: last!.evidence.highRes.length,
    p50Ms: Number(median(times).toFixed(1)),
    p95Ms: Number(pct(times, 0.95).toFixed(1)),
    baseline: 'the same questions recomputing STC at question time (as before the prepared chunks)',
    recomputedP95Ms: Number(pct(recomputed.times, 0.95).toFixed(1)),
    sameDecisions: same,
    prepareMs: Number(prepareMs.toFixed(1)),
    windowPrepareMs: Number(windowPrepareMs.toFixed(1)),
    runs,
    target: 'p95 ≤ 100 ms',
  };
}

/**
 * The models of the live case (`LVU_BENCH_LIVE_MODELS`): tiny (default), small, small-int8 (its int8 variants),
 * starter (`.cache/models/starter`, as the accuracy benchmark fetches it).
 */
function liveModels(): { label: string; config: { models: string; precision?: 'int8' } } {
  const which = process.env.LVU_BENCH_LIVE_MODELS ?? 'tiny';
  if (which === 'small') return { label: 'small models', config: { models: ensureSmallModels() } };
  if (which === 'small-int8')
    return {
      label: 'small models, int8 variants',
      config: { models: ensureSmallVariants(), precision: 'int8' },
    };
  if (which === 'starter')
    return { label: 'starter models', config: { models: join(root, '.cache/models/starter') } };
  return { label: 'tiny models', config: { models: TINY } };
}

async function liveCase(streams: number, seconds: number): Promise<BenchRow> {
  const servers: ChildProcess[] = [];
  const ports: number[] = [];
  for (let i = 0; i < streams; i++) {
    const port = await freePort();
    ports.push(port);
    servers.push(
      spawn('/usr/bin/python3', [join(root, 'tools/rtsp/serve.py'), '--port', String(port), '--fps', '10'], {
        stdio: 'ignore',
      }),
    );
  }
  await new Promise((r) => setTimeout(r, 2000));
  const { label, config } = liveModels();
  const engine = await createEngine({ ...config, backend: 'none' });
  const ages: number[] = [];
  let drops = 0;
  engine.events.on((e) => {
    if (e.type === 'frame.dropped') drops++;
  });
  try {
    ports.forEach((port, i) => {
      engine.addStream({
        id: `cam-${i}`,
        source: `rtsp://127.0.0.1:${port}/stream`,
        sourceOptions: { fps: 1 },
      });
    });
    await new Promise((r) => setTimeout(r, 5000)); // connect and warm up
    const t0 = Date.now();
    while (Date.now() - t0 < seconds * 1000) {
      await new Promise((r) => setTimeout(r, 500));
      for (const s of engine.listStreams()) {
        if (s.counters.lastFrameWallMs !== null) ages.push((Date.now() - s.counters.lastFrameWallMs) / 1000);
      }
    }
    const st = engine.listStreams();
    return {
      bench: 'engine',
      case: `live: ${streams} concurrent 1 fps RTSP streams (gst-rtsp-server, 320×240 10 fps H.264), ${label}, ${seconds} s`,
      streams,
      sampled: st.reduce((a, s) => a + s.counters.sampled, 0),
      drops,
      reconnects: st.reduce((a, s) => a + ((s.source_stats as { reconnects?: number })?.reconnects ?? 0), 0),
      lastFrameAgeP99S: Number(pct(ages, 0.99).toFixed(2)),
      target: 'no drops and last-frame age p99 ≤ 2 s',
      sustained: drops === 0 && pct(ages, 0.99) <= 2,
    };
  } finally {
    await engine.close();
    for (const s of servers) s.kill('SIGKILL');
  }
}

export async function run(opts: BenchOptions): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const only = process.env.LVU_BENCH_CASES?.split(',');
  const want = (c: string) => !only || only.includes(c);
  if (want('question')) for (const n of [100, 400]) rows.push(await questionCase(n, opts.quick ? 5 : 20));
  if (want('replay')) rows.push(await replayCase(opts.quick));
  if (want('day')) rows.push(await dayCase(opts.quick));
  if (want('search')) rows.push(await searchCase(opts.quick, opts.quick ? 3 : 5));
  if (want('live')) {
    const seconds = opts.quick ? 20 : 300;
    for (const n of (process.env.LVU_BENCH_STREAMS ?? (opts.quick ? '2,4' : '4,8,16'))
      .split(',')
      .map(Number)) {
      const r = await liveCase(n, seconds);
      rows.push(r);
      if (!r.sustained) break;
    }
  }
  return rows;
}

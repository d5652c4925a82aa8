/**
 * What lvu's compression costs in accuracy, on real footage nobody here wrote and with ground truth: compilations
 * with hard cuts of three Debian packages' photos and videos (opencv-doc: a baboon, a squirrel, a butterfly, a
 * soccer player, pedestrians…; python3-skimage: a cat, coffee, a rocket, a motorcycle, the moon…;
 * tuxpaint-stamps-default: an elephant, a pineapple, a zebra, a pizza…), 40 questions whose answer is where that
 * content is on screen, and the starter models
 * (real pretrained weights). For each question: evidence recall@1 and @3 (a best-scoring frame inside the answer
 * interval) and temporal IoU (the best evidence range against the answer interval), with the tokens used, for
 * (a) no compression: every sampled frame at 12×12, no budget;
 * (b) LongVU compat: the DINO gate, LongVU's 400-frame cap, at budgets 2k, 4k and 8k;
 * and whether a frame of the answer is among those the budget gives 12×12 tokens (high-resolution recall: what
 * the budget changes; the evidence scores themselves are computed on the retained frames' 8×8 grids);
 * (c) lvu streaming with each retention policy (a 48-frame memory, as if hours had passed) at 2k, 4k and 8k.
 * Writes bench/out/accuracy.svg (recall@1 against tokens).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defaultPlugins } from '@lvu/cli';
import { formatClock } from '@lvu/core';
import {
  contentSimilarity,
  Engine,
  evidenceRanges,
  type ImagePlan,
  OpenAiBackend,
  openAiOptionsSchema,
  openAiSides,
  type RetentionInput,
  STARTER_SCENE_THRESHOLD,
} from '@lvu/engine';
import { COMPILATIONS, compilation, starter } from './compilations.js';
import type { BenchOptions, BenchRow } from './run.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

interface Config {
  name: string;
  budget: number | null;
  gate: boolean;
  retention: RetentionInput;
}

const inside = (ms: number, iv: [number, number][]) => iv.some(([a, b]) => ms >= a && ms < b);
const overlap = (a: [number, number], b: [number, number]) =>
  Math.max(0, Math.min(a[1], b[1]) - Math.max(a[0], b[0]));

export async function run(o: BenchOptions): Promise<BenchRow[]> {
  const models = starter();
  const clips = COMPILATIONS.map((c) => ({ c, ...compilation(c) }));
  const budgets = o.quick ? [8192] : [2048, 4096, 8192];
  const configs: Config[] = [
    {
      name: 'no compression',
      budget: null,
      gate: false,
      retention: { policy: 'uniform', maxFrames: 100_000 },
    },
    ...budgets.map((b) => ({
      name: 'LongVU compat',
      budget: b,
      gate: true,
      retention: { policy: 'uniform' as const, maxFrames: 400 },
    })),
    // baseline at equal tokens: uniform sampling of the stream without the DINO gate, the same 48-frame memory
    ...budgets.map((b) => ({
      name: 'uniform, no gate',
      budget: b,
      gate: false,
      retention: { policy: 'uniform' as const, maxFrames: 48 },
    })),
    ...(['pyramid', 'uniform', 'recent'] as const).flatMap((policy) =>
      budgets.map((b) => ({
        name: `streaming ${policy}`,
        budget: b,
        gate: true,
        retention: { policy, maxFrames: 48 },
      })),
    ),
  ];
  const rows: BenchRow[] = [];
  for (const c of configs) {
    // what the openai backend would send a Qwen2-VL server for each question (its plan; nothing is sent): a backend
    // plug-in that keeps the plan and answers nothing
    let plan: ImagePlan | null = null;
    const plugins = defaultPlugins();
    plugins.backends.register({
      name: 'openai-plan',
      description: "the openai backend's plan for a Qwen2-VL server, kept, not sent",
      options: openAiOptionsSchema,
      images: (o) => openAiSides(openAiOptionsSchema.parse(o)),
      create(ctx) {
        const openai = new OpenAiBackend(ctx.options as ConstructorParameters<typeof OpenAiBackend>[0]);
        return {
          name: 'openai-plan',
          answer: async (req) => {
            plan = openai.plan(req);
            return null;
          },
        };
      },
    });
    const engine = await Engine.create({
      plugins,
      models,
      backend: 'openai-plan',
      'openai-plan': { url: 'http://127.0.0.1:9/v1', model: 'qwen2-vl', family: 'qwen2-vl' },
      retention: c.retention,
      longvu: {
        contextTokens: c.budget ?? 10_000_000,
        ...(c.gate ? {} : { dinoThreshold: 2 }), // sim < 2 always: every sampled frame is kept
      },
    } as Parameters<typeof Engine.create>[0]);
    try {
      let r1 = 0;
      let r3 = 0;
      let rh = 0;
      let iou = 0;
      let iouRuns = 0;
      let share = 0;
      let openaiHigh = 0;
      let openaiAny = 0;
      let openaiImages = 0;
      let tokens = 0;
      let sampled = 0;
      let kept = 0;
      let retained = 0;
      const perQuestion: Record<string, unknown>[] = [];
      for (const { c: clip, file, truth } of clips) {
        engine.addStream({ id: clip.name, source: file });
        await engine.whenDone(clip.name);
        const st = engine.status(clip.name);
        sampled += st.counters.sampled;
        kept += st.counters.kept;
        retained += st.store.retainedFrames;
        for (const [question, segs] of clip.questions) {
          const iv = segs.flatMap((s) => truth.get(s)!);
          const r = await engine.query(clip.name, { question, allScores: true });
          const all = r.evidence.all!;
          const top = [...all].sort((a, b) => b.score! - a.score! || a.seq - b.seq);
          const hit1 = inside(top[0]!.ptsMs, iv);
          const hit3 = top.slice(0, 3).some((f) => inside(f.ptsMs, iv));
          // the best evidence range, extended over its scene as the evidence backend does (and, the baseline, the run
          // of high scores alone), each frame standing for the time until the next retained frame
          const frames = engine.frames(clip.name);
          const scene = {
            similarity: contentSimilarity(frames, engine.vision.dim),
            threshold: STARTER_SCENE_THRESHOLD,
          };
          const rangeIoU = (extend: boolean): [number, [number, number]] => {
            const range = evidenceRanges(
              all.map((f) => f.ptsMs),
              all.map((f) => f.score!),
              extend ? scene : undefined,
            )[0]!;
            const next = all.find((f) => f.ptsMs > range.toMs)?.ptsMs ?? range.toMs + 1000;
            const pred: [number, number] = [range.fromMs, next];
            const inter = iv.reduce((a, x) => a + overlap(pred, x), 0);
            const union = pred[1] - pred[0] + iv.reduce((a, x) => a + x[1] - x[0], 0) - inter;
            return [union > 0 ? inter / union : 0, pred];
          };
          const [q, pred] = rangeIoU(true);
          iouRuns += rangeIoU(false)[0];
          // what an LLM would see best: a frame of the answer among those given 12×12 tokens (all, outside mix mode)
          const hitHigh = r.evidence.highRes.some((f) => inside(f.ptsMs, iv));
          // what the budget leaves of the answer: its frames' tokens in the sequence the LLM gets (after STC), as a
          // share of the visual tokens
          const sent = all.reduce((a, f) => a + f.tokens!, 0);
          if (sent !== r.visualTokens)
            throw new Error(`frame tokens ${sent} ≠ visual tokens ${r.visualTokens}`);
          const answerTokens = all.filter((f) => inside(f.ptsMs, iv)).reduce((a, f) => a + f.tokens!, 0);
          share += sent ? answerTokens / sent : 0;
          // an answer frame among the images the openai backend would send (at high resolution, or at all)
          const images = (plan as ImagePlan | null)?.images ?? [];
          const sentHigh = images.some((p) => p.high && inside(p.frame.ptsMs, iv));
          const sentAny = images.some((p) => inside(p.frame.ptsMs, iv));
          openaiHigh += sentHigh ? 1 : 0;
          openaiAny += sentAny ? 1 : 0;
          openaiImages += images.length;
          rh += hitHigh ? 1 : 0;
          r1 += hit1 ? 1 : 0;
          r3 += hit3 ? 1 : 0;
          iou += q;
          tokens += r.totalTokens;
          perQuestion.push({
            compilation: clip.name,
            question,
            best: formatClock(top[0]!.ptsMs),
            range: `${formatClock(pred[0])}–${formatClock(pred[1])}`,
            hit1,
            hitHigh,
            mode: r.mode,
            iou: Number(q.toFixed(3)),
          });
        }
      }
      const n = perQuestion.length;
      rows.push({
        bench: 'accuracy',
        case: `${c.name}${c.budget ? `, budget ${c.budget}` : ''}`,
        config: c.name,
        budgetTokens: c.budget,
        sampledFrames: sampled,
        keptFrames: kept,
        retainedFrames: retained,
        meanTokens: Math.round(tokens / n),
        recallAt1: Number((r1 / n).toFixed(3)),
        recallAt3: Number((r3 / n).toFixed(3)),
        meanIoU: Number((iou / n).toFixed(3)),
        // the same ranges without the scene extension (only the run of high scores): the baseline of meanIoU
        meanIoUScoreRuns: Number((iouRuns / n).toFixed(3)),
        highResRecall: Number((rh / n).toFixed(3)),
        answerTokenShare: Number((share / n).toFixed(3)),
        // the openai backend's plan for a Qwen2-VL server at the same budget: an answer frame among its images at
        // high resolution, among its images at all, and the images per question
        openaiHighRecall: Number((openaiHigh / n).toFixed(3)),
        openaiRecall: Number((openaiAny / n).toFixed(3)),
        openaiImages: Math.round(openaiImages / n),
        questions: n,
        perQuestion,
        baseline: 'no compression (every sampled frame, no budget), same run',
        footage: clips
          .map(
            ({ c: clip }) =>
              `${clip.name} (Debian ${clip.package}): ${clip.segments.length} segments, ${clip.segments.reduce((a, [, s]) => a + s, 0)} s`,
          )
          .join('; '),
        models: 'starter set (MobileNetV2 ImageNet + all-MiniLM-L6-v2)',
      });
    } finally {
      await engine.close();
    }
  }
  writePlot(rows);
  return rows;
}

/** Recall@1 and mean temporal IoU against mean tokens per question, one colour per configuration. */
export function writePlot(rows: BenchRow[]): void {
  const PW = 420;
  const H = 340;
  const pad = 50;
  const maxT = Math.max(...rows.map((r) => r.meanTokens as number));
  const colours: Record<string, string> = {
    'no compression': '#000',
    'uniform, no gate': '#8c564b',
    'LongVU compat': '#d62728',
    'streaming pyramid': '#1f77b4',
    'streaming uniform': '#2ca02c',
    'streaming recent': '#ff7f0e',
  };
  const byConfig = new Map<string, BenchRow[]>();
  for (const r of rows) byConfig.set(r.config as string, [...(byConfig.get(r.config as string) ?? []), r]);
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${2 * PW + 170}" height="${H}" font-family="sans-serif" font-size="12">`,
    '<title>lvu accuracy benchmark: evidence recall@1 and temporal IoU against tokens per question</title>',
    `<rect width="${2 * PW + 170}" height="${H}" fill="white"/>`,
  ];
  const panel = (x0: number, metric: 'recallAt1' | 'meanIoU', title: string) => {
    const x = (t: number) =>
      x0 + pad + ((Math.log10(Math.max(t, 1000)) - 3) / (Math.log10(maxT * 1.3) - 3)) * (PW - 1.5 * pad);
    const y = (v: number) => H - pad - v * (H - 2 * pad);
    parts.push(
      `<text x="${x0 + PW / 2}" y="20" text-anchor="middle" font-weight="bold">${title}</text>`,
      `<line x1="${x0 + pad}" y1="${H - pad}" x2="${x0 + PW - pad / 2}" y2="${H - pad}" stroke="#333"/>`,
      `<line x1="${x0 + pad}" y1="${pad}" x2="${x0 + pad}" y2="${H - pad}" stroke="#333"/>`,
      `<text x="${x0 + PW / 2}" y="${H - 12}" text-anchor="middle">mean tokens per question (log scale)</text>`,
    );
    for (const v of [0, 0.25, 0.5, 0.75, 1]) {
      parts.push(`<text x="${x0 + pad - 6}" y="${y(v) + 4}" text-anchor="end">${v}</text>`);
      parts.push(
        `<line x1="${x0 + pad}" y1="${y(v)}" x2="${x0 + PW - pad / 2}" y2="${y(v)}" stroke="#eee"/>`,
      );
    }
    for (const t of [2000, 4000, 8000, 16000, 32000]) {
      if (t > maxT * 1.3) continue;
      parts.push(`<text x="${x(t)}" y="${H - pad + 16}" text-anchor="middle">${t / 1000}k</text>`);
    }
    [...byConfig].forEach(([name, rs], k) => {
      const c = colours[name] ?? '#999';
      const off = (k - 2) * 0.008; // configurations with equal values stay visible side by side
      const pts = rs.map((r) => `${x(r.meanTokens as number)},${y((r[metric] as number) + off)}`);
      if (pts.length > 1)
        parts.push(`<polyline points="${pts.join(' ')}" fill="none" stroke="${c}" stroke-width="2"/>`);
      for (const r of rs)
        parts.push(
          `<circle cx="${x(r.meanTokens as number)}" cy="${y((r[metric] as number) + off)}" r="4" fill="${c}"/>`,
        );
    });
  };
  panel(0, 'recallAt1', 'evidence recall@1');
  panel(PW, 'meanIoU', 'temporal IoU of the best evidence range');
  [...byConfig.keys()].forEach((name, k) => {
    const ly = 60 + 18 * k;
    parts.push(
      `<rect x="${2 * PW + 10}" y="${ly - 9}" width="10" height="10" fill="${colours[name] ?? '#999'}"/><text x="${2 * PW + 25}" y="${ly}">${name}</text>`,
    );
  });
  parts.push('</svg>');
  mkdirSync(join(root, 'bench/out'), { recursive: true });
  writeFileSync(join(root, 'bench/out/accuracy.svg'), parts.join('\n'));
}

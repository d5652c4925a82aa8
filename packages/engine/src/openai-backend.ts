import { formatClock as clock, defineSchema, z } from '@lvu/core';
import type { RetainedFrame } from './context-store.js';
import {
  defaultSides,
  estimateTextTokens,
  IMAGE_FAMILIES,
  type ImageFamily,
  type ImageTokenCost,
  imageTokenCostSchema,
  imageTokens,
  jpegSize,
} from './image-token-cost.js';
import type { AnswerOptions, AnswerRequest, BackendUsage, LlmBackend } from './llm-backend.js';
import { streamCompletion } from './served-llm.js';

const families = Object.keys(IMAGE_FAMILIES) as [ImageFamily, ...ImageFamily[]];

export const openAiOptionsSchema = defineSchema(
  'openai',
  z.strictObject({
    url: z.url().describe('base URL of an OpenAI-compatible server, e.g. http://127.0.0.1:8000/v1 (vLLM)'),
    model: z.string().min(1).describe('model name the server knows'),
    apiKey: z.string().optional().describe('sent as a bearer token'),
    family: z
      .union([z.enum(families), imageTokenCostSchema])
      .default('qwen2-vl')
      .describe(
        "how the server's model counts image tokens: qwen2-vl (Qwen2/2.5-VL: 28-pixel patches), qwen3-vl (32), " +
          'llava-onevision (729 per 384² tile), gemma3 (256 per image), or a formula ({patch, merge}, ' +
          '{tileSide, tileTokens} or {fixed})',
      ),
    imageSide: z
      .int()
      .min(28)
      .max(2048)
      .optional()
      .describe(
        'side of the high-resolution JPEGs (default: what gives LongVU 12×12 tokens in the family, 336 for qwen2-vl)',
      ),
    thumbSide: z
      .int()
      .min(28)
      .max(1024)
      .optional()
      .describe('side of the low-resolution JPEGs (default: 8×8 tokens, 224 for qwen2-vl)'),
    maxImages: z
      .int()
      .min(1)
      .max(1024)
      .default(256)
      .describe("images per question at most (the server's limit, e.g. vLLM --limit-mm-per-prompt)"),
    textBytesPerToken: z
      .number()
      .min(1)
      .max(8)
      .default(3)
      .describe(
        "how lvu counts the text's tokens without the server's tokenizer: UTF-8 bytes per token (3: a safe estimate " +
          'for English with a large vocabulary; 1: a strict bound for byte-level BPE tokenizers)',
      ),
    maxTokens: z.int().min(1).default(256),
    temperature: z.number().min(0).default(0),
    seed: z.int().optional(),
    timeoutMs: z.int().min(100).default(120_000),
    extra: z
      .record(z.string(), z.unknown())
      .optional()
      .describe(
        "fields added to every request as they are (the server's own: top_k, logit_bias, chat_template_kwargs…); " +
          "lvu's own fields win",
      ),
    system: z
      .string()
      .default(
        'You watch a video stream. You are given frames in time order, each preceded by its timestamp; answer the ' +
          'question about them and cite timestamps.',
      ),
  }),
);
export type OpenAiOptions = z.output<typeof openAiOptionsSchema.schema>;
export type OpenAiInput = z.input<typeof openAiOptionsSchema.schema>;

/** The image-token arithmetic of `o.family`. */
export function familyCost(o: Pick<OpenAiOptions, 'family'>): ImageTokenCost {
  return typeof o.family === 'string' ? IMAGE_FAMILIES[o.family] : o.family;
}

/** The JPEG sides kept per retained frame for these options. */
export function openAiSides(o: OpenAiOptions): { side: number; thumbSide: number } {
  const d = defaultSides(familyCost(o));
  return { side: o.imageSide ?? d.side, thumbSide: o.thumbSide ?? d.thumbSide };
}

/** One image of the prompt: a frame at high or low resolution, its label and what it costs. */
export interface PlannedImage {
  frame: RetainedFrame;
  high: boolean;
  label: string;
  tokens: number;
}

/** What a question sends: its images in time order and the prompt tokens counted for them and the text. */
export interface ImagePlan {
  images: PlannedImage[];
  /** Text (system, header, labels, question, template) and image tokens: never over the budget. */
  tokens: number;
  imageTokens: number;
  budget: number;
  /** Frames of the context left out because the budget or maxImages had no room (time-bucketed, even). */
  dropped: number;
}

/** Tokens a chat template adds per message (role markers; Qwen2's <|im_start|>role\n … <|im_end|>\n is 5). */
const TEMPLATE_TOKENS_PER_MESSAGE = 8;

/**
 * Answers through any OpenAI-compatible chat server with image input (vLLM, llama.cpp's server, Ollama, NIM),
 * following LongVU's read path within the token budget, counted as the server's model counts it (`family`): the
 * N_h frames the read path chose for 12×12 tokens go at the model's high resolution (best query scores first, if
 * even they do not all fit), the rest of the retained context at low resolution, thinned by time buckets of 2^k
 * seconds until it fits (so the frames chosen for old minutes stay the same as new frames arrive), all in time
 * order, each after its timestamp. The layout is prefix-stable — system prompt, a fixed header, frames in time
 * order, the question last — so a server's prefix cache serves a follow-up question up to the first frame whose
 * resolution the new question changes. The answer streams back (`stream: true`), with the server's usage.
 */
export class OpenAiBackend implements LlmBackend {
  readonly name = 'openai';
  readonly options: OpenAiOptions;
  readonly cost: ImageTokenCost;

  constructor(o: OpenAiInput) {
    this.options = openAiOptionsSchema.parse(o);
    this.cost = familyCost(this.options);
  }

  #header(req: AnswerRequest): string {
    const multi = (req.streams?.length ?? 0) > 1;
    return multi
      ? `Frames from streams ${req.streams!.join(', ')}, interleaved by wall-clock time, each after its [stream time]:`
      : 'Frames of the video in time order, each after its [time]:';
  }

  #label(req: AnswerRequest, f: RetainedFrame): string {
    return (req.streams?.length ?? 0) > 1 ? `[${f.streamId} ${clock(f.ptsMs)}]` : `[${clock(f.ptsMs)}]`;
  }

  /** Which frames go, at which resolution, within the budget (exposed for tests and logs). */
  plan(req: AnswerRequest): ImagePlan {
    const o = this.options;
    const budget = req.budgetTokens;
    const text = (t: string) => estimateTextTokens(t, o.textBytesPerToken);
    const fixed =
      text(o.system) + text(this.#header(req)) + text(req.question) + 2 * TEMPLATE_TOKENS_PER_MESSAGE + 4;
    let room = budget - fixed;
    const key = (f: { streamId: string; seq: number }) => `${f.streamId}\u0000${f.seq}`;
    const cost = (img: Uint8Array | undefined): number | null => {
      if (!img?.length) return null;
      const wh = jpegSize(img);
      return wh ? imageTokens(this.cost, wh[0], wh[1]) : null;
    };
    const chosen = new Map<string, PlannedImage>();
    // 1. the read path's high-resolution frames, best query score first
    const byKey = new Map(req.frames.map((f) => [key(f), f]));
    const high = [...req.highRes].sort((x, y) => (y.score ?? 0) - (x.score ?? 0) || x.seq - y.seq);
    for (const e of high) {
      const f = byKey.get(key(e));
      const t = cost(f?.jpeg);
      if (!f || t === null || chosen.size >= o.maxImages) continue;
      const label = this.#label(req, f);
      const need = t + text(label);
      if (need > room) continue;
      room -= need;
      chosen.set(key(f), { frame: f, high: true, label, tokens: t });
    }
    // 2. the rest at low resolution, in time buckets of 2^k s until they fit (each frame's cost counted once)
    const time =
      (req.streams?.length ?? 0) > 1 ? (f: RetainedFrame) => f.wallMs : (f: RetainedFrame) => f.ptsMs;
    const rest: PlannedImage[] = req.frames.flatMap((f) => {
      const t = chosen.has(key(f)) ? null : cost(f.jpegSmall);
      return t === null ? [] : [{ frame: f, high: false, label: this.#label(req, f), tokens: t }];
    });
    const needs = new Map(rest.map((p) => [p, p.tokens + text(p.label)]));
    const need = (p: PlannedImage) => needs.get(p)!;
    const pick = (bucketMs: number): PlannedImage[] => {
      if (bucketMs === 0) return rest;
      const seen = new Set<number>();
      return rest.filter((p) => {
        const b = Math.floor(time(p.frame) / bucketMs);
        if (seen.has(b)) return false;
        seen.add(b);
        return true;
      });
    };
    const span = rest.length ? time(rest.at(-1)!.frame) - time(rest[0]!.frame) : 0;
    let low = pick(0);
    for (let bucket = 1000; ; bucket *= 2) {
      const total = low.reduce((s, p) => s + need(p), 0);
      if ((total <= room && low.length <= o.maxImages - chosen.size) || low.length === 0) break;
      low = bucket > 2 * span + 1000 ? [] : pick(bucket);
    }
    for (const p of low) {
      room -= need(p);
      chosen.set(key(p.frame), p);
    }
    const images = req.frames.flatMap((f) => {
      const p = chosen.get(key(f));
      return p ? [p] : [];
    });
    const imageTok = images.reduce((s, p) => s + p.tokens, 0);
    return {
      images,
      tokens: budget - room,
      imageTokens: imageTok,
      budget,
      dropped: req.frames.length - images.length,
    };
  }

  /** The chat request for one question (exposed for tests and logs). */
  request(req: AnswerRequest, plan = this.plan(req)): Record<string, unknown> {
    const o = this.options;
    const content: Record<string, unknown>[] = [{ type: 'text', text: this.#header(req) }];
    for (const p of plan.images) {
      const img = p.high ? p.frame.jpeg! : p.frame.jpegSmall!;
      content.push({ type: 'text', text: p.label });
      content.push({
        type: 'image_url',
        image_url: {
          url: `data:image/jpeg;base64,${Buffer.from(img).toString('base64')}`,
          detail: p.high ? 'high' : 'low',
        },
      });
    }
    content.push({ type: 'text', text: req.question });
    return {
      ...o.extra,
      model: o.model,
      messages: [
        { role: 'system', content: o.system },
        { role: 'user', content },
      ],
      stream: true,
      stream_options: { include_usage: true },
      max_tokens: o.maxTokens,
      temperature: o.temperature,
      ...(o.seed === undefined ? {} : { seed: o.seed }),
    };
  }

  async answer(req: AnswerRequest, a: AnswerOptions): Promise<string> {
    const o = this.options;
    const plan = this.plan(req);
    const high = plan.images.filter((p) => p.high).length;
    const usage: BackendUsage = {
      lvuPromptTokens: plan.tokens,
      images: { high, low: plan.images.length - high, tokens: plan.imageTokens },
    };
    let answer = '';
    const t = { url: o.url, apiKey: o.apiKey, timeoutMs: o.timeoutMs, field: 'openai' };
    for await (const piece of streamCompletion(
      t,
      '/chat/completions',
      JSON.stringify(this.request(req, plan)),
      a,
      usage,
    )) {
      answer += piece;
      a.onText?.(piece);
    }
    return answer;
  }
}

import { formatClock as clock, defineSchema, LvuError, sseEvents, z } from '@lvu/core';
import type { AnswerOptions, AnswerRequest, LlmBackend } from './llm-backend.js';

export const openAiOptionsSchema = defineSchema(
  'openai',
  z.strictObject({
    url: z.url().describe('base URL of an OpenAI-compatible server, e.g. http://127.0.0.1:8000/v1 (vLLM)'),
    model: z.string().min(1).describe('model name the server knows'),
    apiKey: z.string().optional().describe('sent as a bearer token'),
    maxImages: z
      .int()
      .min(1)
      .max(256)
      .default(16)
      .describe('images per question, high-resolution ones first'),
    maxHighResImages: z
      .int()
      .min(0)
      .max(256)
      .default(8)
      .describe('of those, full-size JPEGs (the rest thumbnails)'),
    imageSide: z.int().min(64).max(2048).default(384).describe('side of the full-size JPEGs kept per frame'),
    thumbSide: z.int().min(32).max(512).default(128).describe('side of the thumbnail JPEGs'),
    maxTokens: z.int().min(1).default(256),
    temperature: z.number().min(0).default(0),
    seed: z.int().optional(),
    timeoutMs: z.int().min(100).default(120_000),
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

/**
 * Answers through any OpenAI-compatible chat server with image input (vLLM, Ollama, llama.cpp server): the
 * frames the LongVU read path chose at high resolution go as full-size JPEGs with their timestamps, other frames
 * of the context as thumbnails, evenly spread, inside `maxImages`; the answer streams back (`stream: true`).
 */
export class OpenAiBackend implements LlmBackend {
  readonly name = 'openai';
  readonly options: OpenAiOptions;

  constructor(o: OpenAiInput) {
    this.options = openAiOptionsSchema.parse(o);
  }

  /** The chat request for one question (exposed for tests and logs). */
  request(req: AnswerRequest): Record<string, unknown> {
    const o = this.options;
    // the best-scoring of the frames the read path gave 12×12 tokens
    // a frame is (stream, seq): a question over several streams mixes their seqs
    const key = (f: { streamId: string; seq: number }) => `${f.streamId}\u0000${f.seq}`;
    const hiKeys = new Set(
      [...req.highRes]
        .sort((x, y) => (y.score ?? 0) - (x.score ?? 0) || x.seq - y.seq)
        .slice(0, Math.min(o.maxHighResImages, o.maxImages))
        .map(key),
    );
    const rest = req.frames.filter((f) => !hiKeys.has(key(f)) && (f.jpegSmall?.length ?? 0) > 0);
    const room = o.maxImages - hiKeys.size;
    const thumbs = new Set<string>();
    for (let i = 0; i < Math.min(room, rest.length); i++)
      thumbs.add(key(rest[Math.floor((i * rest.length) / Math.min(room, rest.length))]!));
    const multi = (req.streams?.length ?? 0) > 1;
    const content: Record<string, unknown>[] = [
      {
        type: 'text',
        text: multi
          ? `${req.frames.length} frames from streams ${req.streams!.join(', ')}, interleaved by wall-clock time, each labelled [stream media-time]:`
          : `${req.frames.length} frames from ${clock(req.frames[0]?.ptsMs ?? 0)} to ${clock(req.frames.at(-1)?.ptsMs ?? 0)}:`,
      },
    ];
    for (const f of req.frames) {
      const hi = hiKeys.has(key(f));
      const img = hi ? f.jpeg : thumbs.has(key(f)) ? f.jpegSmall : undefined;
      if (!img?.length) continue;
      content.push({
        type: 'text',
        text: multi ? `[${f.streamId} ${clock(f.ptsMs)}]` : `[${clock(f.ptsMs)}]`,
      });
      content.push({
        type: 'image_url',
        image_url: {
          url: `data:image/jpeg;base64,${Buffer.from(img).toString('base64')}`,
          detail: hi ? 'high' : 'low',
        },
      });
    }
    content.push({ type: 'text', text: req.question });
    return {
      model: o.model,
      messages: [
        { role: 'system', content: o.system },
        { role: 'user', content },
      ],
      stream: true,
      max_tokens: o.maxTokens,
      temperature: o.temperature,
      ...(o.seed === undefined ? {} : { seed: o.seed }),
    };
  }

  async answer(req: AnswerRequest, a: AnswerOptions): Promise<string> {
    const o = this.options;
    const signal = a.signal
      ? AbortSignal.any([a.signal, AbortSignal.timeout(o.timeoutMs)])
      : AbortSignal.timeout(o.timeoutMs);
    const url = `${o.url.replace(/\/$/, '')}/chat/completions`;
    let r: Response;
    try {
      r = await fetch(url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'text/event-stream',
          ...(o.apiKey ? { authorization: `Bearer ${o.apiKey}` } : {}),
        },
        body: JSON.stringify(this.request(req)),
        signal,
      });
    } catch (err) {
      throw new LvuError('TRANSPORT_UNAVAILABLE', `LLM server ${url}: ${(err as Error).message}`, {
        field: 'openai.url',
        cause: err,
      });
    }
    if (!r.ok) {
      const text = (await r.text().catch(() => '')).slice(0, 500);
      throw new LvuError(
        r.status >= 500 ? 'TRANSPORT_UNAVAILABLE' : 'INFERENCE_FAILED',
        `LLM server ${url} answered ${r.status}: ${text}`,
        { field: 'openai', retriable: r.status >= 500 },
      );
    }
    let answer = '';
    if (!(r.headers.get('content-type') ?? '').includes('text/event-stream')) {
      const j = (await r.json()) as { choices?: { message?: { content?: string } }[] };
      answer = j.choices?.[0]?.message?.content ?? '';
      a.onText?.(answer);
      return answer;
    }
    for await (const { data } of sseEvents(r.body!)) {
      if (data === '[DONE]') break;
      let piece: string | undefined;
      try {
        piece = (JSON.parse(data) as { choices?: { delta?: { content?: string } }[] }).choices?.[0]?.delta
          ?.content;
      } catch {
        throw new LvuError(
          'MALFORMED_MESSAGE',
          `LLM server sent a chunk that is not JSON: ${data.slice(0, 100)}`,
          {
            field: 'openai',
          },
        );
      }
      if (piece) {
        answer += piece;
        a.onText?.(piece);
      }
    }
    return answer;
  }
}

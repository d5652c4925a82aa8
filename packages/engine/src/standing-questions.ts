import { defineSchema, LvuError, retry, z } from '@lvu/core';
import { Subject } from 'rxjs';
import type { QueryResult } from './answer-question.js';
import type { Engine } from './engine.js';

export const standingQuestionSchema = defineSchema(
  'standing',
  z
    .object({
      stream: z.string().min(1).describe('stream id'),
      question: z.string().min(1).describe('what to ask'),
      everySeconds: z.number().positive().optional().describe('ask on this period'),
      onSceneChange: z
        .boolean()
        .default(false)
        .describe(
          'also ask when a window keeps sceneChangeRatio of its frames or more (the DINO gate says the scene changed)',
        ),
      sceneChangeRatio: z.number().min(0).max(1).default(0.5),
      sinceSeconds: z.number().positive().optional().describe('ask about the last N seconds only'),
      webhook: z.url().optional().describe('POST each answer here as JSON'),
    })
    .refine((s) => s.everySeconds !== undefined || s.onSceneChange, {
      message: 'a standing question needs everySeconds or onSceneChange',
      path: ['everySeconds'],
    }),
);
export type StandingQuestion = z.output<typeof standingQuestionSchema.schema>;
export type StandingQuestionInput = z.input<typeof standingQuestionSchema.schema>;

export interface StandingAnswer {
  id: number;
  stream: string;
  trigger: 'period' | 'scene-change';
  atMs: number;
  result: QueryResult | null;
  error: { code: string; message: string } | null;
}

/**
 * Questions asked by themselves: every N seconds and/or when the stream's kept-frame ratio jumps (a scene change as
 * the temporal reduction measures it). Answers go to `answers$` (the HTTP server streams them as server-sent
 * events) and to the question's webhook (retried with backoff; a dead webhook never stops the questions).
 */
export class StandingQuestions {
  readonly answers$ = new Subject<StandingAnswer>();
  readonly #engine: Engine;
  /** Per question id: what stops it (its timer and its scene-change subscription). */
  readonly #stops = new Map<number, { stream: string; stop: () => void }>();
  readonly #busy = new Set<number>();
  #next = 1;
  #closed = false;

  constructor(engine: Engine) {
    this.#engine = engine;
  }

  add(input: StandingQuestionInput): StandingQuestion {
    const q = standingQuestionSchema.parse(input);
    const id = this.#next++;
    const stops: (() => void)[] = [];
    if (q.everySeconds !== undefined) {
      const t = setInterval(() => void this.#ask(id, q, 'period'), q.everySeconds * 1000);
      t.unref();
      stops.push(() => clearInterval(t));
    }
    if (q.onSceneChange) {
      const sub = this.#engine.windows$(q.stream).subscribe((w) => {
        if (w.frames > 0 && w.rows.length / w.frames >= q.sceneChangeRatio)
          void this.#ask(id, q, 'scene-change');
      });
      stops.push(() => sub.unsubscribe());
    }
    this.#stops.set(id, {
      stream: q.stream,
      stop: () => {
        for (const f of stops) f();
      },
    });
    return q;
  }

  /** Stops every standing question about `stream` (a stream removed, or moved to another worker). */
  removeStream(stream: string): void {
    for (const [id, s] of this.#stops) {
      if (s.stream !== stream) continue;
      s.stop();
      this.#stops.delete(id);
    }
  }

  async #ask(id: number, q: StandingQuestion, trigger: StandingAnswer['trigger']): Promise<void> {
    if (this.#closed || this.#busy.has(id)) return; // one answer at a time per question
    this.#busy.add(id);
    const answer: StandingAnswer = {
      id,
      stream: q.stream,
      trigger,
      atMs: Date.now(),
      result: null,
      error: null,
    };
    try {
      const last = this.#engine.status(q.stream).counters.lastPtsMs;
      answer.result = await this.#engine.query(q.stream, {
        question: q.question,
        ...(q.sinceSeconds !== undefined && last !== null ? { sinceMs: last - q.sinceSeconds * 1000 } : {}),
      });
    } catch (err) {
      const e = err instanceof LvuError ? err : new LvuError('INTERNAL', String(err), { cause: err });
      answer.error = { code: e.code, message: e.message };
    } finally {
      this.#busy.delete(id);
    }
    if (this.#closed || !this.#stops.has(id)) return; // removed while answering
    this.answers$.next(answer);
    if (q.webhook) void this.#post(q.webhook, answer);
  }

  async #post(url: string, answer: StandingAnswer): Promise<void> {
    try {
      await retry(
        async () => {
          let r: Response;
          try {
            r = await fetch(url, {
              method: 'POST',
              headers: { 'content-type': 'application/json' },
              body: JSON.stringify(answer),
              signal: AbortSignal.timeout(5000),
            });
          } catch (err) {
            // fetch fails with a TypeError, which retry() never retries: the network is worth retrying here
            throw new LvuError('TRANSPORT_UNAVAILABLE', `webhook ${url}: ${(err as Error).message}`, {
              cause: err,
            });
          }
          if (!r.ok) {
            throw new LvuError('TRANSPORT_UNAVAILABLE', `webhook ${url} answered ${r.status}`, {
              retriable: r.status >= 500,
            });
          }
        },
        { maxAttempts: 4, initialDelayMs: 200, maxDelayMs: 2000 },
      );
    } catch {
      // counted by the caller's logs; the next answer tries again
    }
  }

  close(): void {
    this.#closed = true;
    for (const s of this.#stops.values()) s.stop();
    this.#stops.clear();
    this.answers$.complete();
  }
}

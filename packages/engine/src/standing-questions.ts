import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { defineSchema, LvuError, retry, z } from '@lvu/core';
import { Subject } from 'rxjs';
import type { QueryResult } from './answer-question.js';
import type { Engine } from './engine.js';
import { countOf, namedObjects } from './object-evidence.js';

/** A frame's count of `cls` (a class or a group the detector's classes make up), as an alert's score. */
function objectCounter(
  vision: Pick<Engine['vision'], 'objectClasses' | 'objectHypernyms'>,
  cls: string,
): { row: (r: { objects?: Float32Array }) => number } {
  const classes = vision.objectClasses;
  const hypernyms = vision.objectHypernyms;
  if (!classes?.length) {
    throw new LvuError('INVALID_ARGUMENT', `a count alert needs an object detector; these models have none`, {
      field: 'when.count',
      hint: 'run `npx lvu models fetch detector` and start with --models starter',
    });
  }
  const named = namedObjects(cls, classes, hypernyms);
  const ids = new Set(named.flatMap((n) => n.classes.map((c) => classes.indexOf(c))));
  if (!ids.size) {
    throw new LvuError('INVALID_ARGUMENT', `the detector does not know "${cls}"`, {
      field: 'when.count.class',
      hint: `name one of its classes (${classes.slice(0, 12).join(', ')}, …) or vehicle, animal, food`,
    });
  }
  return { row: (r) => countOf(r.objects, ids) };
}

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
      when: z
        .strictObject({
          scoreAbove: z
            .number()
            .finite()
            .optional()
            .describe("fire when a new window's best query score rises above this"),
          count: z
            .strictObject({
              class: z
                .string()
                .min(1)
                .describe(
                  'what the object detector counts: a COCO class (person, car), or vehicle, animal, food…',
                ),
              above: z.int().min(0).default(0).describe('fire when a kept frame shows more than this many'),
            })
            .optional()
            .describe(
              "an alert on the object detector's counts instead of the query score (lvu models fetch detector)",
            ),
          clearBelow: z
            .number()
            .finite()
            .optional()
            .describe('re-arm only once windows score below this (default scoreAbove)'),
          quietWindows: z
            .int()
            .min(1)
            .default(2)
            .describe('consecutive windows below clearBelow (or without a kept frame) that re-arm it'),
        })
        .optional()
        .describe(
          'an alert: silent until a window scores above scoreAbove (or a frame counts more than count.above), then ' +
            'fires once, with its evidence, until re-armed',
        ),
    })
    .refine((s) => !s.when || (s.when.scoreAbove === undefined) !== (s.when.count === undefined), {
      message: 'when needs scoreAbove or count, not both',
      path: ['when'],
    })
    .refine((s) => s.everySeconds !== undefined || s.onSceneChange || s.when !== undefined, {
      message: 'a standing question needs everySeconds, onSceneChange or when',
      path: ['everySeconds'],
    })
    .refine(
      (s) =>
        s.when?.scoreAbove === undefined ||
        s.when.clearBelow === undefined ||
        s.when.clearBelow <= s.when.scoreAbove,
      {
        message: 'when.clearBelow must not exceed when.scoreAbove',
        path: ['when', 'clearBelow'],
      },
    ),
);
export type StandingQuestion = z.output<typeof standingQuestionSchema.schema>;
export type StandingQuestionInput = z.input<typeof standingQuestionSchema.schema>;

export interface StandingAnswer {
  id: number;
  stream: string;
  question: string;
  trigger: 'period' | 'scene-change' | 'alert';
  atMs: number;
  /**
   * Only for `alert`: the window's best frame and its score, which crossed `when.scoreAbove`; a count alert's `score`
   * is the frame's count of `class`, `scoreAbove` its `count.above`.
   */
  alert?: {
    score: number;
    scoreAbove: number;
    seq: number;
    ptsMs: number;
    wallMs: number;
    window: number;
    class?: string;
  };
  result: QueryResult | null;
  error: { code: string; message: string } | null;
}

/** An alert's state: armed (waiting for a window above scoreAbove) or fired (waiting for quiet windows). */
interface AlertState {
  fired: boolean;
  quiet: number;
  lastFiredAtMs: number | null;
}

/** What `stateFile` keeps: each alert's state by (stream, question), and the answers' numbering. */
interface SavedStanding {
  next: number;
  alerts: Record<string, AlertState>;
}

/**
 * Questions asked by themselves: every N seconds, when the stream's kept-frame ratio jumps (a scene change as
 * the temporal reduction measures it), and/or as an alert (`when`): silent until a new window's best query score
 * crosses `scoreAbove`, then once, until `quietWindows` windows below `clearBelow` re-arm it. Answers go to `answers$` (the HTTP server streams them as server-sent
 * events) and to the question's webhook (retried with backoff; a dead webhook never stops the questions).
 */
export class StandingQuestions {
  readonly answers$ = new Subject<StandingAnswer>();
  /** The latest answers, newest last (the timeline page draws the alerts among them). */
  readonly recent: StandingAnswer[] = [];
  readonly #engine: Engine;
  readonly #stateFile: string | null;
  readonly #alerts = new Map<string, AlertState>();
  /** Per question id: what stops it (its timer and its scene-change subscription). */
  readonly #stops = new Map<number, { stream: string; stop: () => void }>();
  readonly #busy = new Set<number>();
  #next = 1;
  #closed = false;

  /**
   * With `stateFile` (durable memory: `STATEDIR/standing.json`), each alert's state survives restarts, so an event
   * under way when the server stopped does not fire again when it comes back.
   */
  constructor(engine: Engine, o: { stateFile?: string } = {}) {
    this.#engine = engine;
    this.#stateFile = o.stateFile ?? null;
    if (this.#stateFile && existsSync(this.#stateFile)) {
      try {
        const saved = JSON.parse(readFileSync(this.#stateFile, 'utf8')) as SavedStanding;
        this.#next = saved.next;
        for (const [k, v] of Object.entries(saved.alerts)) this.#alerts.set(k, v);
      } catch {
        // an unreadable state file: alerts start armed
      }
    }
  }

  #save(): void {
    if (!this.#stateFile) return;
    const saved: SavedStanding = { next: this.#next, alerts: Object.fromEntries(this.#alerts) };
    try {
      mkdirSync(dirname(this.#stateFile), { recursive: true });
      writeFileSync(`${this.#stateFile}.tmp`, JSON.stringify(saved));
      renameSync(`${this.#stateFile}.tmp`, this.#stateFile);
    } catch {
      // the state is saved again on the next change
    }
  }

  /** An alert's state: what it was before a restart, else armed. */
  alertState(stream: string, question: string): AlertState {
    const key = `${stream}\u0000${question}`;
    let a = this.#alerts.get(key);
    if (!a) {
      a = { fired: false, quiet: 0, lastFiredAtMs: null };
      this.#alerts.set(key, a);
    }
    return a;
  }

  add(input: StandingQuestionInput): StandingQuestion {
    const q = standingQuestionSchema.parse(input);
    // a count alert needs a detector that knows the class: refused now, not silent forever
    const counter = q.when?.count ? objectCounter(this.#engine.vision, q.when.count.class) : null;
    const id = this.#next++;
    this.#save();
    const stops: (() => void)[] = [];
    if (q.when) {
      const when = q.when;
      // a count alert fires above count.above and is quiet at or below it
      const above = when.count ? when.count.above : when.scoreAbove!;
      const clear = when.count ? when.count.above + 0.5 : (when.clearBelow ?? above);
      const state = this.alertState(q.stream, q.question);
      const scorer = counter ? Promise.resolve(counter) : this.#engine.frameScorer(q.question);
      scorer.catch(() => {}); // a text-encoder failure shows when the first window is scored
      let chain = Promise.resolve();
      const sub = this.#engine.windows$(q.stream).subscribe((w) => {
        // windows are judged one at a time, in order
        chain = chain
          .then(async () => {
            if (this.#closed) return;
            const score = await scorer;
            let best = Number.NEGATIVE_INFINITY;
            let at = -1;
            w.rows.forEach((r, i) => {
              const v = score.row(r);
              if (v > best) [best, at] = [v, i];
            });
            if (!state.fired) {
              if (at < 0 || best <= above) return;
              state.fired = true;
              state.quiet = 0;
              state.lastFiredAtMs = Date.now();
              this.#save();
              const r = w.rows[at]!;
              void this.#ask(id, q, 'alert', {
                score: best,
                scoreAbove: above,
                seq: r.seq,
                ptsMs: r.ptsMs,
                wallMs: r.wallMs,
                window: w.window,
                ...(when.count ? { class: when.count.class } : {}),
              });
            } else {
              // hysteresis: fired once, it re-arms only after quietWindows windows below clearBelow
              state.quiet = at < 0 || best < clear ? state.quiet + 1 : 0;
              if (state.quiet >= when.quietWindows) {
                state.fired = false;
                state.quiet = 0;
              }
              this.#save();
            }
          })
          .catch(() => {});
      });
      stops.push(() => sub.unsubscribe());
    }
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

  async #ask(
    id: number,
    q: StandingQuestion,
    trigger: StandingAnswer['trigger'],
    alert?: StandingAnswer['alert'],
  ): Promise<void> {
    // one answer at a time per question (an alert is never dropped: it fired once and will not again)
    if (this.#closed || (this.#busy.has(id) && trigger !== 'alert')) return;
    this.#busy.add(id);
    const answer: StandingAnswer = {
      id,
      stream: q.stream,
      question: q.question,
      trigger,
      atMs: Date.now(),
      ...(alert ? { alert } : {}),
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
    this.recent.push(answer);
    if (this.recent.length > 200) this.recent.splice(0, this.recent.length - 200);
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

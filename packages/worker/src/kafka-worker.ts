import type { FeatureWindow } from '@lvu/arrow';
import { BoundedQueue, isStreamId, LvuError, type SampledFrame, type SnapshotStore } from '@lvu/core';
import {
  Checkpointer,
  ContextStore,
  DirSnapshotStore,
  downscaleRgb,
  type Engine,
  type QueryResult,
  type QuestionInput,
  type StandingAnswer,
  type StandingQuestionInput,
  StandingQuestions,
} from '@lvu/engine';
import type { IncomingMessage, KafkaTransport, TransportConsumer, TransportProducer } from '@lvu/kafka';
import { type EdgeDecision, EdgeSessions } from './edge-sessions.js';
import { KafkaCounters } from './kafka-counters.js';
import { decodeMessage, EPOCH_HEADER, type WireMessage } from './wire-format.js';

export interface KafkaWorkerOptions {
  topic: string;
  group: string;
  /** Where malformed messages go, with the reason in headers (default `<topic>.dead-letter`). */
  deadLetterTopic?: string;
  /** Messages larger than this are dead-lettered unread (default 32 MiB). */
  maxMessageBytes?: number;
  /**
   * Crash-safe mode: each stream's context is checkpointed (Arrow IPC) in this store — a directory (path), or a
   * compacted Kafka topic (`KafkaSnapshotStore`) so workers on other machines can restore it — and a partition's
   * offset is committed only past frames a durable checkpoint covers; a restarted worker restores the checkpoints
   * and replays the rest, ending with the context an uninterrupted worker builds. Without it, offsets are committed
   * as frames are handed over.
   */
  snapshots?: SnapshotStore | string;
  /** Standing questions asked about every stream this worker owns, while it owns it (`stream` is filled in). */
  standing?: Omit<StandingQuestionInput, 'stream'>[];
  /** Topic the standing answers are published to (JSON, keyed by stream id); none by default. */
  answersTopic?: string;
  /** How often checkpoints are taken and offsets committed (default 1000 ms). */
  checkpointIntervalMs?: number;
  /** Partitions of the input topic when the worker has to create it (it does not exist yet): default 6. */
  partitions?: number;
}

export interface KafkaWorkerStats {
  messages: number;
  frames: number;
  /** Feature windows from edges that run the models (`lvu ingest --features`). */
  windows: number;
  duplicates: number;
  /** Messages from an edge session older than the stream's current one (dead-lettered). */
  staleFrames: number;
  /** Edges that restarted (a new epoch for a stream). */
  edgeRestarts: number;
  deadLetters: number;
  streams: number;
  /** Offset commits the group refused (during rebalances, after a broker restart); retried at the next checkpoint. */
  commitErrors: number;
  /** Times the Kafka consumer stopped on an error its client deems final and was reconnected. */
  consumerRestarts: number;
  /** Standing answers published to the answers topic, and those that could not be (broker down past retries). */
  answers: number;
  answerErrors: number;
}

/** A stream of a partition this worker owns, and its bookkeeping. */
interface OwnedStream {
  /** Its messages on their way to the engine's write path (holds the partition when the stream is slow). */
  queue: BoundedQueue<SampledFrame | FeatureWindow>;
  /** Sampled frames, or feature windows from an edge with the models. */
  kind: 'frame' | 'window';
  /** The partition (`topic/partition`) its messages arrive on. */
  part: string;
  /** With a snapshot store: the messages taken and not yet covered by a saved checkpoint, in order. */
  pending: { seq: number; part: string; offset: bigint }[];
  /** The seq the last saved checkpoint covers (−1: none). */
  savedSeq: number;
}

/** A window of a restarted edge moved into the stream's seq and media time. */
function shiftWindow(w: FeatureWindow, base: number, ptsShiftMs: number): FeatureWindow {
  if (base === 0 && ptsShiftMs === 0) return w;
  return {
    ...w,
    start: w.start + base,
    lastSeq: w.lastSeq + base,
    lastPtsMs: w.lastPtsMs + ptsShiftMs,
    rows: w.rows.map((r) => ({ ...r, seq: r.seq + base, ptsMs: r.ptsMs + ptsShiftMs })),
  };
}

/**
 * `lvu worker`: consumes SampledFrames from a topic with a consumer group and runs the engine's write path for the
 * streams of the partitions it owns (one engine stream per stream id, created on its first frame); a stream whose
 * edge runs the models arrives as feature windows (FeatureBatches of each window's kept frames, checked against this
 * worker's geometry), which go straight into its context. Malformed,
 * truncated or oversized messages go to the dead-letter topic with the reason and never stop the partition;
 * each stream's frames are identified by the publishing edge's epoch and seq (EdgeSessions): redelivered frames
 * are skipped, a restarted edge's frames continue the stream, a stale edge's are dead-lettered, each counted.
 * Without a snapshot store, offsets are committed once a batch's frames are handed to their streams; with one, only
 * past frames a durable checkpoint covers. Standing questions follow the streams the worker owns; their answers go
 * to the answers topic.
 */
export class KafkaWorker {
  readonly stats: KafkaWorkerStats = {
    messages: 0,
    frames: 0,
    windows: 0,
    duplicates: 0,
    staleFrames: 0,
    edgeRestarts: 0,
    deadLetters: 0,
    streams: 0,
    commitErrors: 0,
    consumerRestarts: 0,
    answers: 0,
    answerErrors: 0,
  };
  readonly #engine: Engine;
  readonly #transport: KafkaTransport;
  readonly #o: Required<Omit<KafkaWorkerOptions, 'snapshots' | 'answersTopic'>> & { answersTopic?: string };
  /** The standing questions of the owned streams (their answers also go to `answersTopic`). */
  readonly standing: StandingQuestions;
  /** Per owned stream: messages that never reached its context, and edge restarts. */
  readonly counters: KafkaCounters;
  readonly #snapshots: SnapshotStore | null;
  /** The checkpointer lvu serve's durable memory uses too: what advanced, built at once, saved in order. */
  readonly #checkpointer: Checkpointer | null;
  /** The streams of the partitions this worker owns, each with all its bookkeeping. */
  readonly #streams = new Map<string, OwnedStream>();
  /** Per partition (`topic/partition`): the next offset after the last message taken, and what is committed. */
  readonly #delivered = new Map<string, bigint>();
  readonly #committed = new Map<string, bigint>();
  #assigned: Set<string> | null = null;
  /** Streams being removed from the engine after a rebalance (a frame of a regained partition waits for it). */
  readonly #removing = new Map<string, Promise<void>>();
  #timer: NodeJS.Timeout | null = null;
  #checkpointing: Promise<void> | null = null;
  /** Per stream: which edge session publishes it and how its seqs map (see EdgeSessions). */
  readonly #edges: EdgeSessions;
  #consumer: TransportConsumer | null = null;
  #producer: TransportProducer | null = null;

  constructor(engine: Engine, transport: KafkaTransport, { snapshots, ...o }: KafkaWorkerOptions) {
    this.#engine = engine;
    this.#transport = transport;
    this.#o = {
      deadLetterTopic: `${o.topic}.dead-letter`,
      maxMessageBytes: 32 * 1024 ** 2,
      checkpointIntervalMs: 1000,
      partitions: 6,
      standing: [],
      ...o,
    };
    this.standing = new StandingQuestions(engine);
    this.counters = new KafkaCounters(engine.events);
    if (o.answersTopic) this.standing.answers$.subscribe((a) => void this.#publishAnswer(a));
    this.#snapshots = typeof snapshots === 'string' ? new DirSnapshotStore(snapshots) : (snapshots ?? null);
    this.#checkpointer = this.#snapshots ? new Checkpointer(this.#snapshots) : null;
    this.#edges = new EdgeSessions({ history: this.#snapshots !== null });
  }

  /** The partitions (`topic/partition`) this member owns since the group's last rebalance (null before the first). */
  get assignment(): ReadonlySet<string> | null {
    return this.#assigned;
  }

  /** Whether `start` created the input topic (it did not exist yet: a worker started before its edges). */
  createdTopic = false;

  async start(): Promise<void> {
    // the input topic (a worker may start before any edge: waiting on a topic that does not exist would fail) and
    // the topics this worker writes, unless they exist (brokers often do not create topics on first use)
    this.createdTopic = (await this.#transport.createTopic(this.#o.topic, this.#o.partitions)) === true;
    for (const topic of [this.#o.deadLetterTopic, this.#o.answersTopic]) {
      if (topic) await this.#transport.createTopic(topic, 6);
    }
    await this.#snapshots?.open?.(); // before consuming: restores then do not hold a batch (and its heartbeats)
    this.#producer = await this.#transport.producer();
    const c = await this.#transport.consumer(this.#o.group);
    this.#consumer = c;
    await c.run([this.#o.topic], {
      onBatch: async (msgs) => {
        for (const m of msgs) {
          const part = `${m.topic}/${m.partition}`;
          // a batch fetched before a rebalance that took the partition away: its new owner reads these frames
          if (this.#assigned && !this.#assigned.has(part)) return;
          await this.#take(m);
          this.#delivered.set(part, BigInt(m.offset) + 1n);
        }
        const last = msgs.at(-1);
        if (last && !this.#snapshots) {
          try {
            await c.commit(last.topic, last.partition, String(BigInt(last.offset) + 1n));
          } catch {
            this.stats.commitErrors++; // the next batch's commit covers these offsets too
          }
        }
      },
      onError: () => {
        this.stats.consumerRestarts++;
      },
      onAssigned: (parts) => this.#assign(parts),
    });
    if (this.#snapshots) {
      this.#timer = setInterval(() => {
        this.#checkpointing ??= this.checkpoint()
          .catch((err) => {
            // a snapshot that could not be written: no commit this round, the next tick tries again
            this.#engine.events.emit('stream.failed', {
              streamId: '(checkpoint)',
              code: (err as LvuError).code ?? 'INTERNAL',
              message: String((err as Error).message ?? err),
            });
          })
          .finally(() => {
            this.#checkpointing = null;
          });
      }, this.#o.checkpointIntervalMs);
    }
  }

  /**
   * After a rebalance: streams of partitions this worker lost are dropped (their new owner restores them from the
   * checkpoints), and nothing is committed for those partitions any more. The bookkeeping is synchronous, so a batch
   * of the new generation never sees half of it.
   */
  #assign(parts: { topic: string; partition: number }[]): void {
    const now = new Set(parts.map((p) => `${p.topic}/${p.partition}`));
    const before = this.#assigned;
    this.#assigned = now;
    if (!before) return;
    for (const part of before) {
      if (now.has(part)) continue;
      this.#delivered.delete(part);
      this.#committed.delete(part);
      for (const [id, owned] of [...this.#streams]) {
        if (owned.part !== part) continue;
        this.#streams.delete(id);
        this.#edges.delete(id);
        this.counters.delete(id);
        owned.queue.close();
        this.stats.streams--;
        this.standing.removeStream(id);
        const removal = this.#engine
          .removeStream(id, { purge: true })
          .catch(() => {})
          .finally(() => this.#removing.delete(id));
        this.#removing.set(id, removal);
      }
    }
  }

  /** Saves the checkpoints that advanced, then commits each partition past what they cover. */
  async checkpoint(): Promise<void> {
    if (!this.#checkpointer) return;
    for (const [id, owned] of [...this.#streams]) {
      // only streams whose covered seq moved on: no snapshot is built for the others
      const saved = await this.#checkpointer!.save(
        id,
        this.#engine.checkpoint(
          id,
          (seq): Record<string, string> => {
            const edge = this.#edges.stateAt(id, seq);
            const kafka = this.counters.saved(id);
            return { ...(edge ? { edge } : {}), ...(kafka ? { kafka } : {}) };
          },
          owned.savedSeq,
        ),
      );
      if (saved === null) continue;
      if (this.#streams.get(id) !== owned) continue; // dropped by a rebalance meanwhile
      owned.savedSeq = saved;
      const pending = owned.pending;
      while (pending.length && pending[0]!.seq <= saved) pending.shift();
    }
    // What to commit is decided in one synchronous step: frames keep arriving while commits are awaited, and a
    // partition's delivered offset read later could pass frames no checkpoint covers yet.
    const floor = new Map<string, bigint>();
    for (const { pending } of this.#streams.values()) {
      const first = pending[0];
      if (first && (floor.get(first.part) ?? first.offset + 1n) > first.offset)
        floor.set(first.part, first.offset);
    }
    const commits = [...this.#delivered].map(([part, next]) => [part, floor.get(part) ?? next] as const);
    for (const [part, offset] of commits) {
      if (!this.#delivered.has(part)) continue; // lost in a rebalance meanwhile
      if (offset > (this.#committed.get(part) ?? -1n)) {
        const i = part.lastIndexOf('/');
        try {
          await this.#consumer!.commit(part.slice(0, i), Number(part.slice(i + 1)), String(offset));
          this.#committed.set(part, offset);
        } catch {
          // refused during a rebalance (stale generation): the partition's new owner commits from here on, or
          // this worker retries at the next checkpoint if it keeps the partition
          this.stats.commitErrors++;
        }
      }
    }
  }

  async #take(m: IncomingMessage): Promise<void> {
    this.stats.messages++;
    let item: WireMessage;
    try {
      item = decodeMessage(m, this.#o.maxMessageBytes);
      if (item.kind === 'end') {
        await this.#sessionEnd(item.streamId, item.epoch);
        return;
      }
      if (item.kind === 'window') item.w = this.#checkWindow(item.w);
      const kind = this.#streams.get(item.streamId)?.kind;
      if (kind && kind !== item.kind) {
        throw new LvuError(
          'MALFORMED_MESSAGE',
          `stream ${item.streamId} takes ${kind}s; got a ${item.kind}`,
          {
            field: 'content-type',
          },
        );
      }
    } catch (err) {
      await this.#deadLetter(m, err);
      return;
    }
    const epoch = item.epoch;
    const id = item.kind === 'frame' ? item.f.streamId : item.w.streamId;
    await this.#removing.get(id); // dropped by a rebalance and now regained: removed first
    const owned = this.#streams.get(id) ?? (await this.#open(id, item.kind, `${m.topic}/${m.partition}`)); // restores its checkpoint
    const q = owned.queue;
    const [first, last, firstPts, lastPts, wall] =
      item.kind === 'frame'
        ? [item.f.seq, item.f.seq, item.f.ptsMs, item.f.ptsMs, item.f.wallMs]
        : [
            item.w.lastSeq - item.w.frames + 1,
            item.w.lastSeq,
            item.w.rows[0]?.ptsMs ?? item.w.lastPtsMs,
            item.w.lastPtsMs,
            item.w.lastWallMs,
          ];
    const d = this.#edges.decide(id, epoch, first, last, firstPts, wall);
    if (d.kind !== 'take') {
      await this.#skip(m, id, epoch, d, last);
      return;
    }
    if (d.restartedFrom !== undefined) {
      this.stats.edgeRestarts++;
      this.counters.edgeRestarted(id, epoch, d.restartedFrom ?? 0, last + d.base);
    }
    this.#edges.take(id, epoch, d, last, lastPts, wall);
    if (item.kind === 'frame')
      item.f = { ...item.f, seq: item.f.seq + d.base, ptsMs: item.f.ptsMs + d.ptsShiftMs };
    else item.w = shiftWindow(item.w, d.base, d.ptsShiftMs);
    const seq = last + d.base;
    owned.part = `${m.topic}/${m.partition}`;
    if (this.#snapshots) owned.pending.push({ seq, part: owned.part, offset: BigInt(m.offset) });
    await q.waitForSpace(); // a slow stream holds its partition, not the process
    if (item.kind === 'frame') {
      q.push(this.#adapt(item.f));
      this.stats.frames++;
    } else {
      q.push(item.w);
      this.stats.windows++;
    }
  }

  /** The edge now publishing a stream ended its session: the stream's open window closes (frame streams). */
  async #sessionEnd(id: string, epoch: number): Promise<void> {
    const owned = this.#streams.get(id);
    if (owned?.kind !== 'frame' || !this.#edges.isCurrent(id, epoch)) return;
    await owned.queue.waitForSpace();
    owned.queue.push({
      streamId: id,
      seq: this.#edges.lastSeq(id),
      ptsMs: 0,
      wallMs: Date.now(),
      width: 0,
      height: 0,
      images: {},
      sessionEnd: true,
    });
  }

  /** A message that does not reach the context: counted on its stream; a stale or jumping one is dead-lettered. */
  async #skip(
    m: IncomingMessage,
    id: string,
    epoch: number,
    d: Exclude<EdgeDecision, { kind: 'take' }>,
    seq: number,
  ) {
    if (d.kind === 'duplicate') {
      this.stats.duplicates++; // redelivered, or covered by the restored checkpoint
      this.counters.skipped(id, 'duplicate', seq);
      return;
    }
    if (d.kind === 'stale') this.stats.staleFrames++;
    const err =
      d.kind === 'stale'
        ? new LvuError(
            'MALFORMED_MESSAGE',
            `stream ${id}: message of edge session ${epoch}, older than the session ${d.current} now publishing it`,
            {
              field: EPOCH_HEADER,
              hint: 'two edges publish this stream id, or old messages were replayed: give each edge its own --stream-id',
            },
          )
        : new LvuError(
            'MALFORMED_MESSAGE',
            `stream ${id}: seq jumps ahead by ${d.frames} frames in ${Math.round(d.mediaMs)} ms of media time`,
            { field: 'seq', hint: 'seq must count the frames of one edge session: check the producer' },
          );
    this.counters.skipped(id, d.kind === 'stale' ? 'stale-epoch' : 'dead-letter', seq);
    await this.#deadLetter(m, err, false);
  }

  /**
   * A window from an edge: its grids must have this worker's geometry (same models); they are copied out of the
   * message, whose buffer the Kafka client shares with the rest of its fetch.
   */
  #checkWindow(w: FeatureWindow): FeatureWindow {
    const dim = this.#engine.vision.dim;
    const { highGridSide: h, lowGridSide: l } = this.#engine.longvu;
    for (const r of w.rows) {
      if (r.hi.length !== h * h * dim || r.lo.length !== l * l * dim) {
        throw new LvuError(
          'SHAPE_MISMATCH',
          `frame ${r.seq}: grids of ${r.hi.length} and ${r.lo.length} values, this worker's models need ${h}²×${dim} and ${l}²×${dim} (publish with the same models)`,
          { field: 'hi' },
        );
      }
    }
    return {
      ...w,
      rows: w.rows.map((r) => ({ ...r, hi: r.hi.slice(), lo: r.lo.slice(), thumb: r.thumb.slice() })),
    };
  }

  /** Frames published at other sizes: each size the encoders need is box-downscaled from a larger image. */
  #adapt(f: SampledFrame): SampledFrame {
    const have = Object.keys(f.images).map(Number);
    for (const need of this.#engine.vision.imageSizes) {
      if (f.images[need]) continue;
      const from = have.filter((s) => s >= need).sort((a, b) => a - b)[0];
      if (from !== undefined) f.images[need] = downscaleRgb(f.images[from]!, from, need);
    }
    return f;
  }

  /** A stream seen for the first time (or regained): restored from its latest checkpoint when there is one. */
  async #open(streamId: string, kind: 'frame' | 'window', part: string): Promise<OwnedStream> {
    const restore = (await this.#snapshots?.load(streamId)) ?? undefined;
    const owned: OwnedStream = {
      queue: new BoundedQueue<SampledFrame | FeatureWindow>(64),
      kind,
      part,
      pending: [],
      savedSeq: -1,
    };
    this.#streams.set(streamId, owned);
    this.counters.open(streamId, restore ? ContextStore.snapshotMeta(restore).kafka : undefined);
    this.#engine.addStream({
      id: streamId,
      source:
        kind === 'frame'
          ? (owned.queue as BoundedQueue<SampledFrame>)
          : { windows: owned.queue as BoundedQueue<FeatureWindow> },
      ...(restore ? { restore } : {}),
    });
    if (restore) {
      const seq = Number(ContextStore.snapshotMeta(restore).checkpointSeq ?? -1);
      this.#edges.restore(streamId, ContextStore.snapshotMeta(restore).edge, seq);
      owned.savedSeq = seq;
    }
    this.stats.streams++;
    for (const t of this.#o.standing) this.standing.add({ ...t, stream: streamId });
    return owned;
  }

  async #publishAnswer(a: StandingAnswer): Promise<void> {
    // an answer about a stream that moved away meanwhile is its new owner's to give
    if (a.error?.code === 'STREAM_NOT_FOUND') return;
    try {
      await this.#producer!.send(this.#o.answersTopic!, [
        {
          key: a.stream,
          value: new TextEncoder().encode(JSON.stringify(a)),
          headers: { 'lvu-trigger': a.trigger, 'content-type': 'application/json' },
        },
      ]);
      this.stats.answers++;
    } catch {
      this.stats.answerErrors++; // the broker is down past the producer's retries; the next answer tries again
    }
  }

  async #deadLetter(m: IncomingMessage, err: unknown, count = true): Promise<void> {
    const e = err instanceof LvuError ? err : new LvuError('MALFORMED_MESSAGE', String(err), { cause: err });
    this.stats.deadLetters++;
    // counted on the stream its key names when this worker runs it; always in the worker's stats and as an event
    if (count) this.counters.skipped(m.key ?? '(unknown)', 'dead-letter', -1);
    await this.#producer!.send(this.#o.deadLetterTopic, [
      {
        key: m.key ?? '',
        value: m.value,
        headers: {
          'lvu-error': e.code,
          'lvu-reason': e.message.slice(0, 500),
          'lvu-source': `${m.topic}/${m.partition}/${m.offset}`,
        },
      },
    ]);
  }

  /**
   * A question about a stream this worker does not own, answered from the owner's latest checkpoint in the shared
   * snapshot store (STREAM_NOT_FOUND when there is none).
   */
  async queryFromSnapshot(
    id: string,
    input: QuestionInput,
  ): Promise<QueryResult & { servedFrom: 'snapshot' }> {
    const snapshot = this.#snapshots && isStreamId(id) ? await this.#snapshots.load(id) : null;
    if (!snapshot) {
      throw new LvuError(
        'STREAM_NOT_FOUND',
        `no stream ${id} here and no checkpoint of it in ${this.#snapshots?.location ?? 'a snapshot store (none configured)'}`,
        {
          field: 'id',
        },
      );
    }
    const r = await this.#engine.queryStore(ContextStore.restore(snapshot), input);
    return { ...r, servedFrom: 'snapshot' };
  }

  /**
   * What an HTTP server in front of this worker needs (the options of `@lvu/server`'s `createHttpServer`): questions
   * about other workers' streams answered from their checkpoints, the standing answers, and the worker's counters
   * with each stream's status (`kafka`) and on /metrics.
   */
  httpOptions() {
    return {
      fallbackQuery: (id: string, input: QuestionInput) => this.queryFromSnapshot(id, input),
      standing: this.standing,
      streamDetails: (id: string) => {
        const kafka = this.counters.of(id);
        return kafka && { kafka };
      },
      metrics: () => this.counters.metrics(),
    };
  }

  async close(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.standing.close();
    await this.#checkpointing;
    await this.#consumer?.close();
    for (const { queue } of this.#streams.values()) queue.close();
    await this.#producer?.close();
    await this.#snapshots?.close();
  }
}

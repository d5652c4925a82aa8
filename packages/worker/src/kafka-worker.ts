import type { FeatureWindow } from '@lvu/arrow';
import { BoundedQueue, LvuError, type SampledFrame, type SnapshotStore } from '@lvu/core';
import {
  Checkpointer,
  ContextStore,
  DirSnapshotStore,
  type Engine,
  type QueryResult,
  type QuestionInput,
  type StandingAnswer,
  StandingQuestions,
} from '@lvu/engine';
import type { IncomingMessage, KafkaTransport, TransportConsumer, TransportProducer } from '@lvu/kafka';
import { CommitFloor } from './commit-floor.js';
import { type EdgeDecision, EdgeSessions } from './edge-sessions.js';
import { KafkaCounters } from './kafka-counters.js';
import {
  emptyWorkerStats,
  type KafkaWorkerOptions,
  type KafkaWorkerStats,
  type OwnedStream,
} from './kafka-worker-options.js';
import {
  adaptFrame,
  answerFromCheckpoint,
  answerMessage,
  checkWindow,
  deadLetter,
  sessionEndFrame,
  shiftWindow,
  skipError,
} from './message-intake.js';
import { decodeMessage, type WireMessage } from './wire-format.js';

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
  readonly stats: KafkaWorkerStats = emptyWorkerStats();
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
  /** Per partition (`topic/partition`): what was delivered, what is committed, what to commit. */
  readonly #offsets = new CommitFloor();
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
          this.#offsets.delivered(part, m.offset);
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
      this.#offsets.drop(part);
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
    const due = this.#offsets.due(
      [...this.#streams.values()].flatMap(({ pending }) => (pending[0] ? [pending[0]] : [])),
    );
    for (const [part, offset] of due) {
      if (!this.#offsets.owns(part)) continue; // lost in a rebalance meanwhile
      const i = part.lastIndexOf('/');
      try {
        await this.#consumer!.commit(part.slice(0, i), Number(part.slice(i + 1)), String(offset));
        this.#offsets.committed(part, offset);
      } catch {
        // refused during a rebalance (stale generation): the partition's new owner commits from here on, or this
        // worker retries at the next checkpoint if it keeps the partition
        this.stats.commitErrors++;
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
      if (item.kind === 'window')
        item.w = checkWindow(item.w, { ...this.#engine.longvu, ...this.#engine.vision });
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
      q.push(adaptFrame(item.f, this.#engine.vision.imageSizes));
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
    owned.queue.push(sessionEndFrame(id, this.#edges.lastSeq(id)));
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
    const err = skipError(id, epoch, d);
    this.counters.skipped(id, d.kind === 'stale' ? 'stale-epoch' : 'dead-letter', seq);
    await this.#deadLetter(m, err, false);
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
      await this.#producer!.send(this.#o.answersTopic!, [answerMessage(a)]);
      this.stats.answers++;
    } catch {
      this.stats.answerErrors++; // the broker is down past the producer's retries; the next answer tries again
    }
  }

  async #deadLetter(m: IncomingMessage, err: unknown, count = true): Promise<void> {
    this.stats.deadLetters++;
    // counted on the stream its key names when this worker runs it; always in the worker's stats and as an event
    if (count) this.counters.skipped(m.key ?? '(unknown)', 'dead-letter', -1);
    await this.#producer!.send(this.#o.deadLetterTopic, [deadLetter(m, err)]);
  }

  /**
   * A question about a stream this worker does not own, answered from the owner's latest checkpoint in the shared
   * snapshot store (STREAM_NOT_FOUND when there is none).
   */
  queryFromSnapshot(id: string, input: QuestionInput): Promise<QueryResult & { servedFrom: 'snapshot' }> {
    return answerFromCheckpoint(this.#engine, this.#snapshots, id, input);
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

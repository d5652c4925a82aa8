import { existsSync, readFileSync, renameSync, rmSync } from 'node:fs';
import type { Registry } from '@lvu/core';
import { Checkpointer } from './checkpointer.js';
import { ContextStore } from './context-store.js';
import { type DurabilityWarning, DurableMemory } from './durable-memory.js';
import type { RetentionPolicy } from './retention-policies.js';
import type { StreamState } from './stream-pipeline.js';
import type { SavedState, StreamEntry, StreamRegistry, StreamSpec } from './stream-registry.js';

/** A context saved in stateDir with the state it was saved in. */
export interface Saved {
  bytes: Uint8Array;
  state: SavedState;
}

/**
 * Durable memory, the engine's third service: with `stateDir`, every stream's context and state saved (every
 * `checkpointSeconds` when it changed, when a stream ends or is removed, at shutdown), restored at start
 * (`resume`), and forgotten after `keepEndedFor`; without it, only the forgetting.
 */
export class StreamMemory {
  /** The state directory's store, lock and seq leases, or null without `stateDir`. */
  readonly durable: DurableMemory | null;
  /** Saves to the state directory: the checkpointer the Kafka worker uses too. */
  readonly #checkpointer: Checkpointer | null;
  /** Without a state directory: the deletions of forgotten streams' spill, in order. */
  #work: Promise<void> = Promise.resolve();
  #timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly d: {
      registry: StreamRegistry;
      stateDir: string | null;
      checkpointSeconds: number;
      checkpointMs: number;
      closeWindows: boolean;
      keepEndedMs: number;
      retentionPolicies: Registry<RetentionPolicy>;
    },
  ) {
    this.durable = d.stateDir ? new DurableMemory(d.stateDir, d.registry.events) : null;
    this.#checkpointer = this.durable ? new Checkpointer(this.durable.store) : null;
    if (this.durable || d.keepEndedMs > 0) {
      // checkpoints that advanced, and kept streams past keepEndedFor forgotten
      this.#timer = setInterval(() => void this.tick(), Math.min(d.checkpointSeconds * 1000, 60_000));
      this.#timer.unref();
    }
  }

  /** A stream's saved context and state from `stateDir`; an unreadable file is set aside (`.unreadable`) and reported. */
  loadSaved(id: string): Saved | null {
    if (!this.durable) return null;
    const file = this.durable.store.file(id);
    if (!existsSync(file)) return null;
    try {
      const bytes = readFileSync(file);
      const meta = ContextStore.snapshotMeta(bytes)['lvu-state'];
      if (!meta) throw new Error('no lvu-state metadata');
      const state = JSON.parse(meta) as SavedState;
      // the snapshot itself must restore too
      ContextStore.restore(bytes, undefined, this.d.retentionPolicies);
      return { bytes, state };
    } catch (err) {
      const aside = `${file}.unreadable-${Date.now()}`;
      try {
        renameSync(file, aside);
      } catch {
        // gone meanwhile
      }
      this.d.registry.events.emit('state.unreadable', {
        streamId: id,
        file: aside,
        message: (err as Error).message,
      });
      return null;
    }
  }

  /**
   * Saves a stream's context and state to `stateDir` when its covered seq or state changed since the last save
   * (atomically: a reader or a SIGKILL never sees half a file). Saves run one at a time, in order.
   */
  save(id: string, state?: StreamState): Promise<void> {
    const e = this.d.registry.get(id);
    const durable = this.durable;
    if (!durable || !e) return this.#settled();
    const st = state ?? e.pipeline.state;
    const meta: SavedState = {
      state: st,
      spec: e.spec,
      counters: e.pipeline.counters,
      lastFrame: e.pipeline.lastFrame,
      covered: e.pipeline.coveredFrame,
      endedAtMs: st === 'running' || st === 'starting' ? null : e.endedAtMs,
    };
    const after = e.saved && e.saved.state === st ? e.saved.seq : Number.NEGATIVE_INFINITY;
    const cp = e.pipeline.checkpoint(() => ({ 'lvu-state': JSON.stringify(meta) }), after);
    if (!cp) return this.#settled();
    e.saved = { seq: cp.seq, state: st };
    void this.#checkpointer!.save(id, cp).then(
      () => durable.saved(id),
      (err: unknown) => {
        // the last good file is kept; reported (event, /readyz, /metrics, log) and tried again next time
        if (e.saved?.seq === cp.seq) e.saved = null;
        durable.failed(id, err);
      },
    );
    return this.#settled();
  }

  /** Resolves when every save and deletion queued so far is done. */
  async #settled(): Promise<void> {
    await this.#checkpointer?.flush();
    await this.#work;
  }

  /** Every checkpointSeconds: contexts that changed saved; held streams past keepEndedFor forgotten. */
  async tick(): Promise<void> {
    const now = Date.now();
    for (const [id, e] of this.d.registry.entries()) {
      const s = e.pipeline.state;
      if (s === 'running' || s === 'starting') {
        const since = e.pipeline.openSinceWallMs;
        // a recording (its frames have a position) is read again from its covered frame after a crash: its
        // windows stay whole; a live source's cannot be read again
        const live = e.pipeline.lastFrame?.positionMs === undefined;
        if (
          this.durable &&
          this.d.closeWindows &&
          live &&
          since !== null &&
          now - since >= this.d.checkpointMs
        ) {
          // the open window is closed so that this checkpoint covers every frame taken (a SIGKILL then loses at
          // most checkpointSeconds of frames)
          void e.pipeline.closeOpenWindow().then(() => this.save(id));
        } else void this.save(id);
      } else if (e.endedAtMs !== null && e.endedAtMs + this.d.keepEndedMs < now) {
        this.d.registry.delete(id);
        this.forget(id, e);
        this.d.registry.events.emit('stream.removed', { streamId: id });
      }
    }
    await this.#settled();
  }

  /** Waits for the saves under way (tests, and shutdown). */
  async flushState(): Promise<void> {
    for (const id of this.d.registry.ids()) void this.save(id);
    await this.#settled();
  }

  /**
   * At start with `stateDir`: the declared streams continue their saved contexts (seqs and media time going on),
   * except those saved as ended or removed, which are held as they were (a restart never replays a file that
   * ended); saved streams not declared come back as they were — those added at runtime and still running reopen
   * their source, the others are held, queryable until `keepEndedFor`.
   */
  resume(
    declared: readonly StreamSpec[],
    streams: { add: (spec: StreamSpec) => void; hold: (id: string, s: Saved) => void },
  ): { resumed: string[]; held: string[]; started: string[] } {
    const out = { resumed: [] as string[], held: [] as string[], started: [] as string[] };
    const saved = new Map<string, Saved>();
    for (const id of this.durable?.store.list() ?? []) {
      const s = this.loadSaved(id);
      if (s) saved.set(id, s);
    }
    const hold = (id: string, s: Saved) => {
      const ended = s.state.endedAtMs ?? Date.now();
      if (this.d.keepEndedMs >= 0 && ended + this.d.keepEndedMs < Date.now()) {
        this.forget(id, null);
        return;
      }
      streams.hold(id, s);
      out.held.push(id);
    };
    for (const d of declared) {
      const s = saved.get(d.id);
      saved.delete(d.id);
      if (s && (s.state.state === 'ended' || s.state.state === 'removed')) hold(d.id, s);
      else {
        streams.add({ ...d, continue: true });
        (s ? out.resumed : out.started).push(d.id);
      }
    }
    for (const [id, s] of saved) {
      if (
        (s.state.state === 'running' || s.state.state === 'starting' || s.state.state === 'failed') &&
        s.state.spec
      ) {
        streams.add({ id, ...s.state.spec, continue: true });
        out.resumed.push(id);
      } else hold(id, s);
    }
    return out;
  }

  /** A stream's saved state and spilled frames deleted (after a purge or its keepEndedFor). */
  forget(id: string, e: StreamEntry | null): void {
    const work = async () => {
      await this.durable?.store.remove(id);
      this.durable?.forget(id);
      if (e?.pipeline.spill) rmSync(e.pipeline.spill.dir, { recursive: true, force: true });
    };
    if (this.#checkpointer) void this.#checkpointer.run(work).catch(() => {});
    else this.#work = this.#work.then(work, work);
  }

  /** What is wrong with durable memory or the spill now (checkpoints failing, spill turned off), per stream. */
  warnings(): DurabilityWarning[] {
    const out = this.durable?.warnings() ?? [];
    for (const [id, e] of this.d.registry.entries()) {
      const f = e.pipeline.spill?.failed;
      if (f)
        out.push({ streamId: id, kind: 'spill', code: f.code, message: f.message, sinceMs: 0, failures: 1 });
    }
    return out;
  }

  /** Checkpoints that failed since start, per stream (`lvu_checkpoint_failures_total`). */
  get checkpointFailures(): ReadonlyMap<string, number> {
    return this.durable?.failuresTotal ?? new Map();
  }

  /**
   * At shutdown: every stream stopped and, with `stateDir`, saved in the state it was in (a running stream as
   * running, so a restart continues it) after the frames of its open window went into its context (bounded, so a
   * stuck model cannot hold the shutdown).
   */
  async close(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    const entries = this.d.registry.entries();
    if (this.durable) {
      await Promise.all(
        entries.map(([, e]) =>
          Promise.race([e.pipeline.closeOpenWindow(), new Promise((r) => setTimeout(r, 10_000).unref())]),
        ),
      );
    }
    for (const [id, e] of entries) {
      const was = e.pipeline.state;
      e.pipeline.stop();
      await e.video?.stop();
      void this.save(id, was);
      const last = e.pipeline.lastFrame;
      if (this.durable && last) this.durable.stopped(id, last.seq);
    }
    await this.#settled();
    this.durable?.close();
    this.d.registry.clear();
  }
}

import { closeSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { type EventBus, LvuError } from '@lvu/core';
import type { LastFrame } from './frame-continuity.js';
import { DirSnapshotStore } from './snapshot-store.js';

/** Seqs reserved ahead of the frames taken: one small durable write per this many frames. */
export const SEQ_LEASE = 1000;

/** Something wrong with durable memory or the spill that an operator must see (`/readyz`, logs, metrics). */
export interface DurabilityWarning {
  streamId: string;
  kind: 'checkpoint' | 'spill';
  code: string;
  message: string;
  /** When it began (ms since the epoch), and the failures in a row (checkpoints). */
  sinceMs: number;
  failures: number;
}

/**
 * Takes `DIR/lock` for this process: a second lvu on the same state directory is refused before it opens a source
 * or writes a file. A lock left by a process that is gone (same host, pid not running) is taken over.
 */
export function lockStateDir(dir: string): () => void {
  const file = join(dir, 'lock');
  const me = `${process.pid} ${hostname()}\n`;
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(file, 'wx');
      writeSync(fd, me);
      closeSync(fd);
      return () => {
        try {
          if (readFileSync(file, 'utf8') === me) rmSync(file, { force: true });
        } catch {
          // already gone
        }
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw new LvuError(
          'INVALID_CONFIG',
          `cannot lock the state directory ${dir}: ${(err as Error).message}`,
          {
            field: 'stateDir',
            cause: err,
            hint: 'choose a writable directory for engine.stateDir (--state-dir)',
          },
        );
      }
      let owner = '';
      try {
        owner = readFileSync(file, 'utf8');
      } catch {
        continue; // released meanwhile
      }
      const [pid, host] = owner.trim().split(' ');
      if (host === hostname() && pid && alive(Number(pid))) {
        throw new LvuError('INVALID_CONFIG', `the state directory ${dir} is in use by lvu process ${pid}`, {
          field: 'stateDir',
          hint: 'stop that process first, or give this one its own --state-dir; two writers would overwrite each other',
        });
      }
      if (host !== hostname() && host) {
        throw new LvuError(
          'INVALID_CONFIG',
          `the state directory ${dir} is locked by process ${pid} on ${host}`,
          {
            field: 'stateDir',
            hint: `if that process is gone, delete ${file}`,
          },
        );
      }
      rmSync(file, { force: true }); // its owner is gone
    }
  }
  throw new LvuError('INVALID_CONFIG', `cannot lock the state directory ${dir}`, { field: 'stateDir' });
}

/** Whether a process of this host runs with that pid (EPERM: it runs, as another user). */
function alive(pid: number): boolean {
  if (pid === process.pid) return true;
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Durable memory's bookkeeping around the snapshot store: the directory's lock and write check at start, the
 * health of each stream's checkpoints (a failure is an event, a warning and a metric until a save works again),
 * and seq reservations, so that after a crash a stream continues past every seq it may have shown.
 */
export class DurableMemory {
  readonly store: DirSnapshotStore;
  readonly #events: EventBus;
  readonly #unlock: () => void;
  readonly #health = new Map<string, DurabilityWarning>();
  readonly #reserved = new Map<string, number>();
  /** Checkpoints that failed, per stream, since start (the metric `lvu_checkpoint_failures_total`). */
  readonly failuresTotal = new Map<string, number>();

  constructor(stateDir: string, events: EventBus) {
    this.#events = events;
    this.store = new DirSnapshotStore(join(stateDir, 'streams'));
    this.store.checkWritable();
    this.#unlock = lockStateDir(stateDir);
  }

  /** A checkpoint of `id` was written. */
  saved(id: string): void {
    const h = this.#health.get(id);
    if (!h) return;
    this.#health.delete(id);
    this.#events.emit('checkpoint.recovered', { streamId: id, failures: h.failures });
  }

  /** A checkpoint of `id` failed: reported, and retried at the next one. */
  failed(id: string, err: unknown): void {
    const e =
      err instanceof LvuError ? err : new LvuError('STORAGE_FAILED', String((err as Error)?.message ?? err));
    const h = this.#health.get(id);
    const failures = (h?.failures ?? 0) + 1;
    this.#health.set(id, {
      streamId: id,
      kind: 'checkpoint',
      code: e.code,
      message: e.message,
      sinceMs: h?.sinceMs ?? Date.now(),
      failures,
    });
    this.failuresTotal.set(id, (this.failuresTotal.get(id) ?? 0) + 1);
    this.#events.emit('checkpoint.failed', { streamId: id, code: e.code, message: e.message, failures });
  }

  /** Streams whose checkpoints are failing now. */
  warnings(): DurabilityWarning[] {
    return [...this.#health.values()];
  }

  /** A frame of `id` with this seq was taken: seqs are reserved ahead of it, durably. */
  taken(id: string, seq: number): void {
    if (seq <= (this.#reserved.get(id) ?? -1)) return;
    this.#reserved.set(id, seq + SEQ_LEASE); // not retried each frame when the disk fails
    try {
      this.store.reserveSeq(id, seq + SEQ_LEASE);
    } catch (err) {
      this.failed(id, err);
    }
  }

  /** At a clean stop: the reservation is brought back to the last seq taken (no gap after a restart). */
  stopped(id: string, lastSeq: number): void {
    try {
      this.store.reserveSeq(id, lastSeq);
      this.#reserved.set(id, lastSeq);
    } catch (err) {
      this.failed(id, err);
    }
  }

  /** Where a continued stream's seqs go on from: after its saved last frame and every seq reserved for it. */
  continueAfter(id: string, last: LastFrame | null): LastFrame | null {
    const reserved = this.store.reservedSeq(id);
    if (reserved < 0) return last;
    if (!last) return { seq: reserved, ptsMs: 0, wallMs: Date.now() };
    return reserved > last.seq ? { ...last, seq: reserved } : last;
  }

  forget(id: string): void {
    this.#health.delete(id);
    this.#reserved.delete(id);
  }

  close(): void {
    this.#unlock();
  }
}

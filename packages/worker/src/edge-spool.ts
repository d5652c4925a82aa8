import { readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { backoffDelayMs, isRetriable, LvuError } from '@lvu/core';

const RETRY = { initialDelayMs: 250, maxDelayMs: 5000, factor: 2, jitter: 0.2 };

import { makeDir, writeFileDurably } from '@lvu/engine';
import type { OutgoingMessage } from '@lvu/kafka';

/** Encodes a message as one spool file: 4 bytes of JSON length, `{key, headers}` as JSON, then the value. */
function encode(m: OutgoingMessage): Uint8Array {
  const head = new TextEncoder().encode(JSON.stringify({ key: m.key, headers: m.headers ?? {} }));
  const out = new Uint8Array(4 + head.length + m.value.byteLength);
  new DataView(out.buffer).setUint32(0, head.length);
  out.set(head, 4);
  out.set(m.value, 4 + head.length);
  return out;
}

function decode(bytes: Uint8Array): OutgoingMessage {
  const n = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(0);
  const head = JSON.parse(new TextDecoder().decode(bytes.subarray(4, 4 + n))) as {
    key: string;
    headers: Record<string, string>;
  };
  return { key: head.key, headers: head.headers, value: bytes.subarray(4 + n) };
}

export interface EdgeSpoolOptions {
  /** Directory of the spooled messages (one file each, in order; kept across edge restarts). */
  dir: string;
  /** Messages held in memory before they go to disk (default 8). */
  memoryMessages?: number;
  /** Bytes on disk at most; past it `push` waits for the broker (default 1 GiB). */
  maxBytes?: number;
}

/**
 * An edge's outbox: what it publishes is handed over at once and sent in order by one sender; while the broker is
 * down the messages wait — a few in memory, the rest in files on disk (`maxBytes`) — instead of a camera's frames
 * being dropped by a full queue. Files left by an edge that died are sent first when it starts again (their epoch
 * tells the worker they come from that earlier session). Only when the disk spool is full does `push` wait, so the
 * source's own queue and drop policy act again.
 */
export class EdgeSpool {
  readonly dir: string;
  readonly #send: (m: OutgoingMessage) => Promise<void>;
  readonly #memory: OutgoingMessage[] = [];
  readonly #memoryMax: number;
  readonly #maxBytes: number;
  /** Spool files on disk, oldest first, with their sizes. */
  readonly #files: { name: string; bytes: number }[] = [];
  #bytes = 0;
  #next = 0;
  #running: Promise<void> | null = null;
  #error: unknown = null;
  #spaceWaiters: (() => void)[] = [];
  #idleWaiters: (() => void)[] = [];
  /** Messages that went to disk, and that were sent from it (the edge's summary). */
  spooled = 0;
  sentFromDisk = 0;
  /** Sends tried again because the broker was unavailable. */
  retries = 0;

  constructor(send: (m: OutgoingMessage) => Promise<void>, o: EdgeSpoolOptions) {
    this.#send = send;
    this.dir = o.dir;
    this.#memoryMax = o.memoryMessages ?? 8;
    this.#maxBytes = o.maxBytes ?? 1024 ** 3;
    try {
      makeDir(this.dir);
    } catch (err) {
      throw new LvuError(
        'INVALID_CONFIG',
        `cannot create the spool directory ${this.dir}: ${(err as Error).message}`,
        {
          field: 'spool',
          cause: err,
        },
      );
    }
    for (const name of readdirSync(this.dir)
      .filter((f) => /^\d{12}\.msg$/.test(f))
      .sort()) {
      const bytes = statSync(join(this.dir, name)).size;
      this.#files.push({ name, bytes });
      this.#bytes += bytes;
      this.#next = Number(name.slice(0, 12)) + 1;
    }
    if (this.#files.length) this.#kick();
  }

  /** Messages waiting (memory and disk). */
  get waiting(): number {
    return this.#memory.length + this.#files.length;
  }

  /**
   * Hands a message over: sent in order after those before it. Resolves at once, unless the disk spool is full
   * (then when there is room again); rejects if sending failed for good (the transport gave up).
   */
  async push(m: OutgoingMessage): Promise<void> {
    if (this.#error) throw this.#error;
    if (this.#files.length === 0 && this.#memory.length < this.#memoryMax) this.#memory.push(m);
    else {
      while (this.#bytes >= this.#maxBytes && !this.#error)
        await new Promise<void>((r) => this.#spaceWaiters.push(r));
      if (this.#error) throw this.#error;
      const name = `${String(this.#next++).padStart(12, '0')}.msg`;
      const bytes = encode(m);
      writeFileDurably(join(this.dir, name), bytes, this.dir);
      this.#files.push({ name, bytes: bytes.byteLength });
      this.#bytes += bytes.byteLength;
      this.spooled++;
    }
    this.#kick();
  }

  /** Resolves once every message handed over has been sent (or rejects with the send's error). */
  async drain(): Promise<void> {
    while (this.waiting > 0 || this.#running) {
      if (this.#error) throw this.#error;
      await new Promise<void>((r) => this.#idleWaiters.push(r));
    }
    if (this.#error) throw this.#error;
  }

  #kick(): void {
    this.#running ??= this.#run().finally(() => {
      this.#running = null;
      for (const w of this.#idleWaiters.splice(0)) w();
      if (this.waiting > 0 && !this.#error) this.#kick();
    });
  }

  /** Sends one message, again and again while the broker is unavailable (the spool holds what comes meanwhile). */
  async #sendRetrying(m: OutgoingMessage): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.#send(m);
        return;
      } catch (err) {
        if (!isRetriable(err)) throw err;
        this.retries++;
        await new Promise((r) => setTimeout(r, backoffDelayMs(RETRY, attempt)));
      }
    }
  }

  async #run(): Promise<void> {
    try {
      for (;;) {
        // memory holds the older messages: disk is written only once memory is full
        const m = this.#memory[0];
        if (m) {
          await this.#sendRetrying(m);
          this.#memory.shift();
          continue;
        }
        const f = this.#files[0];
        if (!f) return;
        await this.#sendRetrying(decode(readFileSync(join(this.dir, f.name))));
        rmSync(join(this.dir, f.name), { force: true });
        this.#files.shift();
        this.#bytes -= f.bytes;
        this.sentFromDisk++;
        for (const w of this.#spaceWaiters.splice(0)) w();
      }
    } catch (err) {
      this.#error = err;
      for (const w of this.#spaceWaiters.splice(0)) w();
    }
  }
}

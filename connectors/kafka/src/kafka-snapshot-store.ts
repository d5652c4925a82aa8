import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isStreamId, LvuError, type SnapshotStore } from '@lvu/core';
import type { KafkaTransport, TransportConsumer, TransportProducer } from './kafka-transport.js';

export interface KafkaSnapshotStoreOptions {
  /** Chunk size: each message stays under brokers' default 1 MB limit (default 900 KiB). */
  chunkBytes?: number;
  /** Partitions of the topic when this store creates it (default 6). */
  partitions?: number;
  /** How long `load` waits to catch up with the topic's end (default 30 s). */
  catchUpTimeoutMs?: number;
  /**
   * Where the latest snapshot of each stream read from the topic is kept (default: a private temporary directory,
   * removed on close): on disk, so a worker's memory does not grow with the number of streams in the topic.
   */
  cacheDir?: string;
}

interface Manifest {
  version: string;
  slot: 0 | 1;
  chunks: number;
  bytes: number;
}

interface StreamState {
  /** The file holding the latest complete snapshot, and its slot (the next save writes the other one). */
  latest: string | null;
  slot: 0 | 1;
  /** Chunks of versions whose manifest has not arrived yet (at most two versions kept). */
  incoming: Map<string, (Uint8Array | undefined)[]>;
}

/**
 * Checkpoints in a compacted Kafka topic, so workers on different machines restore each other's streams without a
 * shared disk. A snapshot is written as chunks keyed `ID#SLOT#I` and then a manifest keyed `ID` naming the version,
 * slot and chunk count, all to the stream's one partition (so readers see chunks before their manifest); slots
 * alternate, so compaction (latest value per key) always leaves the chunks of the
 * latest manifest whole even if a writer dies halfway through the next snapshot. Each store reads the whole topic
 * with a private consumer group and keeps the latest complete snapshot of every stream in a local cache directory
 * (memory holds only chunks whose manifest has not arrived); `load` first
 * catches up with the topic's end offsets, so it sees every snapshot acknowledged before it was called.
 */
export class KafkaSnapshotStore implements SnapshotStore {
  readonly location: string;
  readonly #transport: KafkaTransport;
  readonly #topic: string;
  readonly #o: Required<Omit<KafkaSnapshotStoreOptions, 'cacheDir'>>;
  readonly #cacheDir: string;
  readonly #cacheError = new Map<string, Error>();
  readonly #ownCache: boolean;
  readonly #streams = new Map<string, StreamState>();
  /** Next offset to read per partition. */
  readonly #position = new Map<number, bigint>();
  #producer: TransportProducer | null = null;
  #partitions = 1;
  #consumer: TransportConsumer | null = null;
  #started: Promise<void> | null = null;

  constructor(transport: KafkaTransport, topic: string, o: KafkaSnapshotStoreOptions = {}) {
    this.#transport = transport;
    this.#topic = topic;
    this.location = `kafka://${transport.brokers.join(',')}/${topic}`;
    const { cacheDir, ...rest } = o;
    this.#o = { chunkBytes: 900 * 1024, partitions: 6, catchUpTimeoutMs: 30_000, ...rest };
    this.#ownCache = !cacheDir;
    this.#cacheDir = cacheDir ?? mkdtempSync(join(tmpdir(), 'lvu-snapshot-cache-'));
  }

  #start(): Promise<void> {
    this.#started ??= (async () => {
      await this.#transport.createTopic(this.#topic, this.#o.partitions, {
        'cleanup.policy': 'compact',
        'max.message.bytes': String(Math.max(1_048_588, this.#o.chunkBytes + 64 * 1024)),
      });
      this.#partitions = Math.max(1, (await this.#transport.endOffsets(this.#topic)).size);
      this.#producer ??= await this.#transport.producer();
      await this.#consumer?.close(); // a reader left by a failed start
      const c = await this.#transport.consumer(`lvu-snapshots-${randomUUID()}`);
      this.#consumer = c;
      await c.run([this.#topic], {
        onBatch: async (msgs) => {
          for (const m of msgs) {
            if (m.key) this.#read(m.key, m.value, m.headers);
            this.#position.set(m.partition, BigInt(m.offset) + 1n);
          }
        },
      });
    })().catch((err) => {
      this.#started = null; // the next call tries again
      throw err;
    });
    return this.#started;
  }

  #state(id: string): StreamState {
    let s = this.#streams.get(id);
    if (!s) this.#streams.set(id, (s = { latest: null, slot: 1, incoming: new Map() }));
    return s;
  }

  #read(key: string, value: Uint8Array, headers: Record<string, string>): void {
    const chunk = /^(.+)#([01])#(\d+)$/.exec(key);
    if (chunk) {
      const s = this.#state(chunk[1]!);
      const version = headers['lvu-snapshot-version'] ?? '';
      let parts = s.incoming.get(version);
      if (!parts) {
        if (s.incoming.size >= 2) s.incoming.delete(s.incoming.keys().next().value!);
        s.incoming.set(version, (parts = []));
      }
      parts[Number(chunk[3])] = value.slice();
      return;
    }
    let m: Manifest;
    try {
      m = JSON.parse(new TextDecoder().decode(value)) as Manifest;
    } catch {
      return; // not ours
    }
    const s = this.#state(key);
    const parts = s.incoming.get(m.version);
    s.incoming.delete(m.version);
    if (!parts || parts.length !== m.chunks || parts.some((p) => !p)) return; // chunks compacted by a newer write
    const out = new Uint8Array(m.bytes);
    let at = 0;
    for (const p of parts as Uint8Array[]) {
      out.set(p, at);
      at += p.byteLength;
    }
    if (at !== m.bytes) return;
    if (!isStreamId(key)) return; // not a stream's manifest
    const file = join(this.#cacheDir, `${key}.arrow`);
    try {
      writeFileSync(`${file}.tmp`, out);
      renameSync(`${file}.tmp`, file);
    } catch (err) {
      // the local cache is unwritable (disk full?): loads of this stream fail loudly until a later snapshot fits
      this.#cacheError.set(key, err as Error);
      return;
    }
    this.#cacheError.delete(key);
    s.latest = file;
    s.slot = m.slot;
  }

  /** Waits until every message in the topic when called has been read. */
  async #catchUp(): Promise<void> {
    await this.#start();
    const end = await this.#transport.endOffsets(this.#topic);
    const deadline = Date.now() + this.#o.catchUpTimeoutMs;
    const behind = () => [...end].some(([p, e]) => e > 0n && (this.#position.get(p) ?? 0n) < e);
    while (behind()) {
      if (Date.now() > deadline) {
        throw new LvuError(
          'TRANSPORT_UNAVAILABLE',
          `could not read snapshot topic ${this.#topic} to its end within ${this.#o.catchUpTimeoutMs} ms`,
          { field: 'snapshots' },
        );
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Starts the reader and reads the topic to its end, so a worker's first restore does not wait for it. */
  async open(): Promise<void> {
    await this.#catchUp();
  }

  async save(id: string, snapshot: Uint8Array): Promise<void> {
    await this.#start();
    const s = this.#state(id);
    const slot: 0 | 1 = s.slot === 0 ? 1 : 0;
    const version = randomUUID();
    const size = this.#o.chunkBytes;
    const chunks = Math.max(1, Math.ceil(snapshot.byteLength / size));
    const partition = partitionOf(id, this.#partitions);
    for (let i = 0; i < chunks; i++) {
      await this.#producer!.send(this.#topic, [
        {
          key: `${id}#${slot}#${i}`,
          value: snapshot.subarray(i * size, Math.min(snapshot.byteLength, (i + 1) * size)),
          headers: { 'lvu-snapshot-version': version },
          partition,
        },
      ]);
    }
    const manifest: Manifest = { version, slot, chunks, bytes: snapshot.byteLength };
    await this.#producer!.send(this.#topic, [
      { key: id, value: new TextEncoder().encode(JSON.stringify(manifest)), partition },
    ]);
    // our own reader sees it soon; until then the next save must still pick the other slot
    s.slot = slot;
  }

  async load(id: string): Promise<Uint8Array | null> {
    await this.#catchUp();
    const failed = this.#cacheError.get(id);
    if (failed) {
      throw new LvuError(
        'INTERNAL',
        `cannot keep the snapshot of ${id} in ${this.#cacheDir}: ${failed.message}`,
        {
          field: 'cacheDir',
          cause: failed,
        },
      );
    }
    const file = this.#streams.get(id)?.latest;
    return file ? readFileSync(file) : null;
  }

  async close(): Promise<void> {
    await this.#consumer?.close();
    await this.#producer?.close();
    if (this.#ownCache) rmSync(this.#cacheDir, { recursive: true, force: true });
  }
}

/** FNV-1a of the stream id: every message of one stream's snapshots goes to the same partition. */
function partitionOf(id: string, partitions: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 0x01000193);
  return (h >>> 0) % partitions;
}

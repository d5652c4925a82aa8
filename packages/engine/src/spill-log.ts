import { readdirSync, readFileSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildFeatureBatch, type FeatureRow, featureRows, featureSchema, fromIpc, toIpc } from '@lvu/arrow';
import { type EventBus, LvuError } from '@lvu/core';
import { makeDir } from './snapshot-store.js';

export interface SpillOptions {
  /** Directory of this stream's segments (created). */
  dir: string;
  /** Kept frames per segment file (default 32). */
  segmentFrames?: number;
  /** Bytes of segments kept on disk; the oldest segments are deleted beyond it (default 10 GiB). */
  maxDiskBytes?: number;
  /**
   * A small vector per frame written beside each segment (`.means`: the engine's mean low-resolution token), so
   * that searching a day of spill reads kilobytes per frame instead of its grids.
   */
  summary?: (row: FeatureRow) => Float32Array;
}

/** One spilled frame's summary (`SpillOptions.summary`) and where its row is. */
export interface SpillSummary {
  seq: number;
  ptsMs: number;
  wallMs: number;
  summary: Float32Array;
  /** The segment file holding the frame's row (`SpillLog.rows`). */
  segment: string;
}

interface Segment {
  file: string;
  firstSeq: number;
  lastSeq: number;
  fromMs: number;
  toMs: number;
  bytes: number;
}

const NAME = /^seg-(\d+)-(\d+)-(-?\d+(?:\.\d+)?)-(-?\d+(?:\.\d+)?)\.arrow$/;

/**
 * Every kept frame of a stream, appended to Arrow IPC segment files (`seg-FIRSTSEQ-LASTSEQ-FROMMS-TOMS.arrow`, the
 * file names are the time index, rebuilt from the directory on start) so that a question about a past time range
 * sees the frames of that range even after retention thinned them in memory. The oldest segments are deleted
 * beyond `maxDiskBytes`. Reads are zero-copy views into the file bytes.
 */
export class SpillLog {
  readonly dir: string;
  readonly segmentFrames: number;
  readonly maxDiskBytes: number;
  readonly #streamId: string;
  readonly #events: EventBus | null;
  readonly #summary: SpillOptions['summary'];
  #segments: Segment[] = [];
  #pending: FeatureRow[] = [];
  #bytes = 0;
  /**
   * Why spilling stopped (a directory removed, read-only or full): spill is then off for this stream, reported
   * once (`spill.failed`); its context and questions go on from memory.
   */
  failed: LvuError | null = null;

  constructor(streamId: string, o: SpillOptions, events: EventBus | null = null) {
    this.#streamId = streamId;
    this.#events = events;
    this.dir = o.dir;
    this.segmentFrames = o.segmentFrames ?? 32;
    this.maxDiskBytes = o.maxDiskBytes ?? 10 * 1024 ** 3;
    this.#summary = o.summary;
    try {
      makeDir(this.dir);
    } catch (err) {
      throw new LvuError(
        'INVALID_CONFIG',
        `cannot create the spill directory ${this.dir}: ${(err as Error).message}`,
        {
          field: 'spill.dir',
          cause: err,
        },
      );
    }
    for (const f of readdirSync(this.dir)) {
      const m = NAME.exec(f);
      if (!m) continue;
      const bytes = statSync(join(this.dir, f)).size;
      this.#segments.push({
        file: f,
        firstSeq: Number(m[1]),
        lastSeq: Number(m[2]),
        fromMs: Number(m[3]),
        toMs: Number(m[4]),
        bytes,
      });
      this.#bytes += bytes;
    }
    this.#segments.sort((a, b) => a.firstSeq - b.firstSeq);
  }

  /** The last seq on disk (−1 when empty). */
  get lastSeq(): number {
    return this.#pending.at(-1)?.seq ?? this.#segments.at(-1)?.lastSeq ?? -1;
  }

  get diskBytes(): number {
    return this.#bytes;
  }

  get segments(): number {
    return this.#segments.length;
  }

  append(row: FeatureRow): void {
    if (this.failed || row.seq <= this.lastSeq) return;
    this.#pending.push(row);
    if (this.#pending.length >= this.segmentFrames) this.flush();
  }

  /** Writes the pending frames as a segment; a disk fault turns spill off for this stream (`failed`). */
  flush(): void {
    if (this.failed || this.#pending.length === 0) return;
    try {
      this.#write();
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? 'EIO';
      this.failed = new LvuError(
        'STORAGE_FAILED',
        `spill of ${this.#streamId} stopped: ${(err as Error).message}`,
        {
          field: 'spill.dir',
          cause: err,
          details: { errno: code },
          hint: 'fix the spill directory (space, permissions, mount) and re-add the stream; its context goes on in memory',
        },
      );
      this.#pending = [];
      this.#events?.emit('spill.failed', {
        streamId: this.#streamId,
        code: this.failed.code,
        message: this.failed.message,
      });
    }
  }

  #write(): void {
    const rows = this.#pending;
    const schema = featureSchema(
      { hiValues: rows[0]!.hi.length, loValues: rows[0]!.lo.length },
      { streamId: this.#streamId },
    );
    const bytes = toIpc([buildFeatureBatch(rows, schema)], schema);
    const seg: Segment = {
      file: `seg-${rows[0]!.seq}-${rows.at(-1)!.seq}-${rows[0]!.ptsMs}-${rows.at(-1)!.ptsMs}.arrow`,
      firstSeq: rows[0]!.seq,
      lastSeq: rows.at(-1)!.seq,
      fromMs: rows[0]!.ptsMs,
      toMs: rows.at(-1)!.ptsMs,
      bytes: bytes.byteLength,
    };
    try {
      makeDir(this.dir); // a directory removed while running comes back
      writeFileSync(join(this.dir, seg.file), bytes);
      if (this.#summary)
        writeFileSync(join(this.dir, summaryFile(seg.file)), encodeSummaries(rows, this.#summary));
    } catch (err) {
      // no half segment left behind to be read as one
      rmSync(join(this.dir, seg.file), { force: true });
      rmSync(join(this.dir, summaryFile(seg.file)), { force: true });
      throw err;
    }
    this.#pending = [];
    this.#segments.push(seg);
    this.#bytes += seg.bytes;
    while (this.#bytes > this.maxDiskBytes && this.#segments.length > 1) {
      const old = this.#segments.shift()!;
      this.#bytes -= old.bytes;
      try {
        unlinkSync(join(this.dir, old.file));
        unlinkSync(join(this.dir, summaryFile(old.file)));
      } catch {
        // already gone
      }
      this.#events?.emit('context.evicted', {
        streamId: this.#streamId,
        seqs: [old.firstSeq, old.lastSeq],
        policy: 'disk',
      });
    }
  }

  /** Every spilled frame with sinceMs ≤ ptsMs ≤ untilMs, in seq order (pending frames included). */
  read(sinceMs = Number.NEGATIVE_INFINITY, untilMs = Number.POSITIVE_INFINITY): FeatureRow[] {
    const out: FeatureRow[] = [];
    for (const s of this.#segments) {
      if (s.toMs < sinceMs || s.fromMs > untilMs) continue;
      let bytes: Uint8Array;
      try {
        bytes = readFileSync(join(this.dir, s.file));
      } catch {
        continue; // deleted by retention meanwhile
      }
      for (const b of fromIpc(bytes).batches) {
        for (const r of featureRows(b)) if (r.ptsMs >= sinceMs && r.ptsMs <= untilMs) out.push(r);
      }
    }
    for (const r of this.#pending) if (r.ptsMs >= sinceMs && r.ptsMs <= untilMs) out.push(r);
    return out;
  }

  /**
   * The summaries of every spilled frame with sinceMs ≤ ptsMs ≤ untilMs (pending frames excluded), one segment in
   * memory at a time: from the `.means` files, or computed from the segment where there is none (older spills).
   */
  *summaries(
    sinceMs = Number.NEGATIVE_INFINITY,
    untilMs = Number.POSITIVE_INFINITY,
  ): Generator<SpillSummary> {
    for (const s of [...this.#segments]) {
      if (s.toMs < sinceMs || s.fromMs > untilMs) continue;
      let items: Omit<SpillSummary, 'segment'>[];
      try {
        items = decodeSummaries(readFileSync(join(this.dir, summaryFile(s.file))));
      } catch {
        if (!this.#summary) continue;
        try {
          items = this.rows(s.file).map((r) => ({ ...r, summary: this.#summary!(r) }));
        } catch {
          continue; // deleted by retention meanwhile
        }
      }
      for (const it of items)
        if (it.ptsMs >= sinceMs && it.ptsMs <= untilMs) yield { ...it, segment: s.file };
    }
  }

  /** The frames appended but not yet written as a segment (newest last). */
  get pending(): readonly FeatureRow[] {
    return this.#pending;
  }

  /** The rows of one segment (`SpillSummary.segment`), optionally only some seqs. */
  rows(segment: string, seqs?: ReadonlySet<number>): FeatureRow[] {
    if (!NAME.test(segment))
      throw new LvuError('INVALID_ARGUMENT', `not a segment: ${segment}`, { field: 'segment' });
    const out: FeatureRow[] = [];
    for (const b of fromIpc(readFileSync(join(this.dir, segment))).batches)
      for (const r of featureRows(b)) if (!seqs || seqs.has(r.seq)) out.push(r);
    return out;
  }
}

const summaryFile = (segment: string) => segment.replace(/\.arrow$/, '.means');

/** `.means`: Int32 [frames, dim], then Float64 (seq, ptsMs, wallMs) per frame, then Float32 frames × dim. */
function encodeSummaries(rows: readonly FeatureRow[], f: (r: FeatureRow) => Float32Array): Uint8Array {
  const vs = rows.map(f);
  const dim = vs[0]?.length ?? 0;
  const buf = new ArrayBuffer(8 + rows.length * 24 + rows.length * dim * 4);
  new Int32Array(buf, 0, 2).set([rows.length, dim]);
  const meta = new Float64Array(buf, 8, rows.length * 3);
  const data = new Float32Array(buf, 8 + rows.length * 24, rows.length * dim);
  rows.forEach((r, i) => {
    meta.set([r.seq, r.ptsMs, r.wallMs], i * 3);
    data.set(vs[i]!, i * dim);
  });
  return new Uint8Array(buf);
}

function decodeSummaries(bytes: Uint8Array): Omit<SpillSummary, 'segment'>[] {
  const b = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
  const [n, dim] = new Int32Array(b, 0, 2) as unknown as [number, number];
  if (b.byteLength !== 8 + n * 24 + n * dim * 4) throw new Error('truncated summaries');
  const meta = new Float64Array(b, 8, n * 3);
  return Array.from({ length: n }, (_, i) => ({
    seq: meta[i * 3]!,
    ptsMs: meta[i * 3 + 1]!,
    wallMs: meta[i * 3 + 2]!,
    summary: new Float32Array(b, 8 + n * 24 + i * dim * 4, dim),
  }));
}

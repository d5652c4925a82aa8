import { randomBytes } from 'node:crypto';
import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { isStreamId, LvuError, type SnapshotStore } from '@lvu/core';

/**
 * Writes `bytes` to `file` so that a reader or a crash sees the old file or the new one, never half of one: a
 * temporary file of this process alone, every byte written (a short write — a full disk — is retried, then
 * refused), fsynced, renamed over `file`, and the directory fsynced. On any failure the temporary file is removed,
 * the old file is untouched and a STORAGE_FAILED LvuError names the cause (ENOSPC, EROFS, ENOENT…).
 */
export function writeFileDurably(file: string, bytes: Uint8Array, dir: string): void {
  const tmp = `${file}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`;
  let fd: number | null = null;
  try {
    makeDir(dir); // a state directory removed while running comes back
    fd = openSync(tmp, 'w');
    let off = 0;
    while (off < bytes.byteLength) {
      const n = writeSync(fd, bytes, off, bytes.byteLength - off);
      if (n <= 0) {
        throw Object.assign(new Error(`short write: ${off} of ${bytes.byteLength} bytes (disk full?)`), {
          code: 'ENOSPC',
        });
      }
      off += n;
    }
    fsyncSync(fd);
    closeSync(fd);
    fd = null;
    renameSync(tmp, file);
    try {
      const d = openSync(dir, 'r');
      try {
        fsyncSync(d);
      } finally {
        closeSync(d);
      }
    } catch {
      // a file system that cannot fsync a directory: the rename is still atomic
    }
  } catch (err) {
    if (fd !== null) {
      try {
        closeSync(fd);
      } catch {
        // already closed
      }
    }
    rmSync(tmp, { force: true });
    const code = (err as NodeJS.ErrnoException).code ?? 'EIO';
    throw new LvuError('STORAGE_FAILED', `cannot write ${file} (${code}): ${(err as Error).message}`, {
      field: 'stateDir',
      cause: err,
      details: { errno: code },
      hint:
        code === 'ENOSPC' || code === 'EDQUOT'
          ? 'the disk is full: free space; the last good checkpoint is kept and the save is retried'
          : code === 'EROFS' || code === 'EACCES' || code === 'EPERM'
            ? 'the directory is read-only for lvu: fix its mount or permissions; the save is retried'
            : undefined,
    });
  }
}

/**
 * `mkdir -p` whose error names the real cause: Node's recursive mkdir reports ENOENT when a parent cannot be made
 * (a read-only file system), so the missing parts are made one by one.
 */
export function makeDir(dir: string): void {
  if (existsSync(dir)) return;
  const missing: string[] = [];
  for (let d = dir; !existsSync(d); d = dirname(d)) {
    missing.unshift(d);
    if (dirname(d) === d) break;
  }
  for (const d of missing) {
    try {
      mkdirSync(d);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
}

/**
 * Checkpoints as files `ID.arrow` in a directory (local, or shared by the workers of a group on one machine or a
 * network file system), written by `writeFileDurably`: a reader, a SIGKILL or a full disk never leaves half a
 * snapshot, and a failed save keeps the last good one.
 */
export class DirSnapshotStore implements SnapshotStore {
  constructor(readonly location: string) {
    try {
      makeDir(location);
    } catch (err) {
      throw new LvuError(
        'INVALID_CONFIG',
        `cannot create the state directory ${location}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
        {
          field: 'stateDir',
          cause: err,
          hint: 'choose a writable directory for engine.stateDir (--state-dir)',
        },
      );
    }
    // temporary files of writers that died mid-write (an hour old: a live writer of a shared directory is faster)
    for (const f of readdirSync(location)) {
      if (!f.endsWith('.tmp')) continue;
      try {
        if (statSync(join(location, f)).mtimeMs < Date.now() - 3_600_000) rmSync(join(location, f));
      } catch {
        // gone meanwhile
      }
    }
  }

  /** The file of a stream's snapshot. */
  file(id: string): string {
    if (!isStreamId(id))
      throw new LvuError('INVALID_ARGUMENT', `invalid stream id ${id.slice(0, 40)}`, { field: 'id' });
    return join(this.location, `${id}.arrow`);
  }

  async save(id: string, snapshot: Uint8Array): Promise<void> {
    writeFileDurably(this.file(id), snapshot, this.location);
  }

  /** Checks at start that snapshots can be written here (INVALID_CONFIG naming the cause if not). */
  checkWritable(): void {
    const probe = join(this.location, `.write-check-${process.pid}`);
    try {
      writeFileDurably(probe, new Uint8Array([1]), this.location);
      rmSync(probe, { force: true });
    } catch (err) {
      throw new LvuError(
        'INVALID_CONFIG',
        `the state directory ${this.location} is not writable: ${(err as Error).message}`,
        {
          field: 'stateDir',
          cause: err,
          hint: 'choose a writable directory for engine.stateDir (--state-dir), on a file system with free space',
        },
      );
    }
  }

  async load(id: string): Promise<Uint8Array | null> {
    const file = this.file(id);
    return existsSync(file) ? readFileSync(file) : null;
  }

  /** The ids of the snapshots in the directory (none when it is gone). */
  list(): string[] {
    let names: string[];
    try {
      names = readdirSync(this.location);
    } catch {
      return [];
    }
    return names
      .filter((f) => f.endsWith('.arrow'))
      .map((f) => f.slice(0, -'.arrow'.length))
      .filter(isStreamId);
  }

  /** Deletes a stream's snapshot (no error when there is none). */
  async remove(id: string): Promise<void> {
    rmSync(this.file(id), { force: true });
    rmSync(this.#seqFile(id), { force: true });
  }

  #seqFile(id: string): string {
    return `${this.file(id).slice(0, -'.arrow'.length)}.seq`;
  }

  /**
   * Reserves seqs up to `seq` for a stream (`ID.seq`, written durably): after a crash the stream continues past
   * every seq it may have handed out, so a seq a client saw never names another frame.
   */
  reserveSeq(id: string, seq: number): void {
    writeFileDurably(
      this.#seqFile(id),
      new TextEncoder().encode(`${JSON.stringify({ reservedSeq: seq })}\n`),
      this.location,
    );
  }

  /** The seq reserved last for a stream (−1: none). */
  reservedSeq(id: string): number {
    try {
      const v = JSON.parse(readFileSync(this.#seqFile(id), 'utf8')) as { reservedSeq?: unknown };
      return typeof v.reservedSeq === 'number' && Number.isFinite(v.reservedSeq) ? v.reservedSeq : -1;
    } catch {
      return -1;
    }
  }

  async close(): Promise<void> {}
}

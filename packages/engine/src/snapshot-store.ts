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
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { isStreamId, LvuError, type SnapshotStore } from '@lvu/core';

/**
 * Checkpoints as files `ID.arrow` in a directory (local, or shared by the workers of a group on one machine or a
 * network file system): written to a temporary file, fsynced and renamed, so a reader never sees half a snapshot.
 */
export class DirSnapshotStore implements SnapshotStore {
  constructor(readonly location: string) {
    mkdirSync(location, { recursive: true });
  }

  /** The file of a stream's snapshot. */
  file(id: string): string {
    if (!isStreamId(id))
      throw new LvuError('INVALID_ARGUMENT', `invalid stream id ${id.slice(0, 40)}`, { field: 'id' });
    return join(this.location, `${id}.arrow`);
  }

  async save(id: string, snapshot: Uint8Array): Promise<void> {
    const file = this.file(id);
    const fd = openSync(`${file}.tmp`, 'w');
    try {
      writeSync(fd, snapshot);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(`${file}.tmp`, file);
  }

  async load(id: string): Promise<Uint8Array | null> {
    const file = this.file(id);
    return existsSync(file) ? readFileSync(file) : null;
  }

  /** The ids of the snapshots in the directory. */
  list(): string[] {
    return readdirSync(this.location)
      .filter((f) => f.endsWith('.arrow'))
      .map((f) => f.slice(0, -'.arrow'.length))
      .filter(isStreamId);
  }

  /** Deletes a stream's snapshot (no error when there is none). */
  async remove(id: string): Promise<void> {
    rmSync(this.file(id), { force: true });
  }

  async close(): Promise<void> {}
}

import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LvuError } from '@lvu/core';
import type { OutgoingMessage } from '@lvu/kafka';
import { describe, expect, it } from 'vitest';
import { EdgeSpool } from './edge-spool.js';

const msg = (i: number): OutgoingMessage => ({
  key: 'cam',
  value: new Uint8Array(1000).fill(i & 255),
  headers: { 'lvu-epoch': '7', n: String(i) },
});

describe('EdgeSpool', () => {
  it('holds messages in memory, then on disk, while sends fail; sends them all in order once the broker is back', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lvu-spool-unit-'));
    let down = true;
    const sent: OutgoingMessage[] = [];
    const spool = new EdgeSpool(
      async (m) => {
        if (down) throw new LvuError('TRANSPORT_UNAVAILABLE', 'broker down');
        sent.push(m);
      },
      { dir, memoryMessages: 3 },
    );
    for (let i = 0; i < 20; i++) await spool.push(msg(i)); // never waits: nothing is dropped
    expect(readdirSync(dir).length).toBeGreaterThanOrEqual(16);
    expect(spool.spooled).toBeGreaterThanOrEqual(16);
    down = false;
    await spool.drain();
    expect(sent.map((m) => m.headers!.n)).toEqual(Array.from({ length: 20 }, (_, i) => String(i)));
    expect(Buffer.from(sent[5]!.value).equals(Buffer.alloc(1000, 5))).toBe(true);
    expect(readdirSync(dir)).toEqual([]);
    expect(spool.retries).toBeGreaterThan(0);
  }, 30_000);

  it('a spool left by an edge that died is sent first when it starts again; a full spool makes push wait', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lvu-spool-unit-'));
    const first = new EdgeSpool(
      async () => {
        throw new LvuError('TRANSPORT_UNAVAILABLE', 'broker down');
      },
      { dir, memoryMessages: 0, maxBytes: 4000 },
    );
    for (let i = 0; i < 4; i++) await first.push(msg(i));
    let fifthIn = false;
    void first
      .push(msg(4))
      .then(() => (fifthIn = true))
      .catch(() => {});
    await new Promise((r) => setTimeout(r, 300));
    expect(fifthIn).toBe(false); // 4 files of ~1.06 KB are past the 4,000-byte bound
    const sent: string[] = [];
    const again = new EdgeSpool(async (m) => void sent.push(m.headers!.n!), { dir });
    await again.push(msg(9));
    await again.drain();
    expect(sent).toEqual(['0', '1', '2', '3', '9']);
  }, 30_000);

  it('a send that fails for good fails the spool (the edge stops with that error)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lvu-spool-unit-'));
    const spool = new EdgeSpool(
      async () => {
        throw new LvuError('INVALID_ARGUMENT', 'message too large');
      },
      { dir },
    );
    await spool.push(msg(1));
    await expect(spool.drain()).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(spool.push(msg(2))).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });
});

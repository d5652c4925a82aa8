import { describe, expect, it } from 'vitest';
import { EventBus, type LvuEvent } from './event-bus.js';

describe('EventBus', () => {
  it('delivers typed events with a timestamp; a throwing listener does not stop the others', () => {
    const errors: unknown[] = [];
    const bus = new EventBus((e) => errors.push(e));
    const seen: LvuEvent[] = [];
    bus.on(() => {
      throw new Error('listener bug');
    });
    const off = bus.on((e) => seen.push(e));
    bus.emit('source.stalled', { streamId: 'cam1', silentMs: 5000 });
    off();
    bus.emit('source.stalled', { streamId: 'cam1', silentMs: 6000 });
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({ type: 'source.stalled', streamId: 'cam1', silentMs: 5000 });
    expect(typeof seen[0]!.atMs).toBe('number');
    expect(errors).toHaveLength(2);
  });
});

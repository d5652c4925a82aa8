import { describe, expect, it } from 'vitest';
import { sseEvents } from './sse-events.js';

const body = (...chunks: string[]) =>
  new ReadableStream<Uint8Array>({
    start(c) {
      for (const x of chunks) c.enqueue(new TextEncoder().encode(x));
      c.close();
    },
  });

describe('sseEvents', () => {
  it('splits blocks across chunk boundaries, names events, skips comments, joins data lines', async () => {
    const got = [];
    for await (const e of sseEvents(
      body(': hi\n\nevent: tok', 'en\ndata: {"a":1}\n\ndata: x\r\ndata: y\r\n\r\n', 'data: [DONE]'),
    ))
      got.push(e);
    expect(got).toEqual([
      { event: 'token', data: '{"a":1}' },
      { event: 'message', data: 'x\ny' },
      { event: 'message', data: '[DONE]' },
    ]);
  });
});

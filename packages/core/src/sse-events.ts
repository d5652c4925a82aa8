/** One server-sent event: its `event:` name (default `message`) and its `data:` lines joined. */
export interface SseEvent {
  event: string;
  data: string;
}

/**
 * The events of a `text/event-stream` body, as they arrive (blank-line separated blocks; `:` comments skipped;
 * CRLF or LF). Used for lvu's own query streams and for OpenAI-compatible chat streams.
 */
export async function* sseEvents(body: ReadableStream<Uint8Array>): AsyncGenerator<SseEvent> {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = '';
  const parse = (block: string): SseEvent | null => {
    let event = 'message';
    const data: string[] = [];
    for (const line of block.split(/\r?\n/)) {
      if (line.startsWith('event:')) event = line.slice(6).trim();
      else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
    }
    return data.length ? { event, data: data.join('\n') } : null;
  };
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += value;
      for (let m = /\r?\n\r?\n/.exec(buf); m; m = /\r?\n\r?\n/.exec(buf)) {
        const e = parse(buf.slice(0, m.index));
        buf = buf.slice(m.index + m[0].length);
        if (e) yield e;
      }
    }
    const last = parse(buf);
    if (last) yield last;
  } finally {
    reader.releaseLock();
  }
}

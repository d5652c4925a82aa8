import { backoffDelayMs, type EventBus, isRetriable, LvuError, retry } from '@lvu/core';
import type { Outcome, SourceStats } from './source-stats.js';
import type { ParsedSource } from './source-url.js';
import type { VideoSourceOptions } from './video-source-options.js';

/** What a supervised source lends its supervision: its state, and one connection at a time. */
export interface SupervisedSource {
  readonly live: boolean;
  readonly stats: SourceStats;
  readonly events: EventBus;
  readonly streamId: string;
  readonly source: ParsedSource;
  readonly options: VideoSourceOptions;
  /** Aborted when the source stops. */
  readonly signal: AbortSignal;
  /** The RTSP transport of the next connection (auto switches it to udp once). */
  transport: 'tcp' | 'udp';
  connectOnce(disconnectedAt: number | null, attempt: number): Promise<Outcome>;
  /** Whether the last connection reported its stall itself (then cleared). */
  takeStallEmitted(): boolean;
}

/** What the supervision of a live source carries from one connection to the next. */
interface Supervision {
  /** When the frames stopped (reconnected events report the gap). */
  disconnectedAt: number | null;
  /** A live HLS playlist as it was when its segments stopped coming (null: not live HLS, or not stopped). */
  stalePlaylist: string | null;
}

type Attempt = 'done' | 'again' | 'again-now';

/**
 * The source's life: one connection after another through core's `retry` (capped exponential backoff with
 * jitter, `reconnect`). A connection that delivered frames and dropped starts the count over; a bound
 * (`reconnect.maxAttempts`) reached fails the source with SOURCE_UNREACHABLE naming the attempts and the last
 * error. Files end, and non-retriable errors (credentials, a missing file) fail at once.
 */
export async function supervise(c: SupervisedSource): Promise<void> {
  const policy = c.options.reconnect;
  const s: Supervision = { disconnectedAt: null, stalePlaylist: null };
  let pause = false;
  while (!c.signal.aborted) {
    if (pause) await sleep(c.signal, backoffDelayMs(policy, 1));
    let attempts = 0;
    let next: Attempt;
    try {
      next = await retry(
        (n) => {
          attempts = n;
          return attempt(c, s, n - 1);
        },
        { ...policy, maxAttempts: policy.maxAttempts ?? Number.POSITIVE_INFINITY },
        {
          retryIf: (err) => c.live && isRetriable(err),
          onRetry: (err) => reportError(c, err as LvuError),
          sleep: (ms) => sleep(c.signal, ms),
        },
      );
    } catch (err) {
      if (c.signal.aborted) return;
      const e = err as LvuError;
      if (!c.live || !e.retriable) throw e;
      reportError(c, e);
      throw new LvuError(
        'SOURCE_UNREACHABLE',
        `${c.source.redacted}: gave up after ${attempts} attempt${attempts === 1 ? '' : 's'} in a row ` +
          `(reconnect.maxAttempts); the last: ${e.message}`,
        {
          field: 'source',
          cause: e,
          details: { attempts, last: e.code },
          hint: 'check the camera and the network; without reconnect.maxAttempts lvu retries forever',
        },
      );
    }
    if (next === 'done') return;
    pause = next === 'again';
  }
}

function reportError(c: SupervisedSource, err: LvuError): void {
  c.stats.lastError = { code: err.code, message: err.message, atMs: Date.now() };
  c.events.emit('source.error', {
    streamId: c.streamId,
    code: err.code,
    message: err.message,
    retriable: err.retriable,
  });
}

/**
 * One connection: `done` (stopped, or a file that ended), `again` (a live connection that delivered frames and
 * dropped: reconnect after the first backoff step, the count starting over), `again-now` (the transport switched);
 * a thrown error is a failed attempt (retried when retriable and live).
 */
async function attempt(c: SupervisedSource, s: Supervision, failures: number): Promise<Attempt> {
  if (c.signal.aborted) return 'done';
  if (s.stalePlaylist !== null && (await playlistText(c)) === s.stalePlaylist) {
    // its publisher has not come back: opening it again would replay its last segments as if they were new
    throw new LvuError(
      'SOURCE_STALLED',
      `${c.source.redacted}: the playlist has had no new segment since its publisher stopped`,
      { field: 'source', hint: 'lvu keeps polling the playlist and resumes when new segments appear' },
    );
  }
  s.stalePlaylist = null;
  const before = c.stats.sampled;
  const outcome = await c.connectOnce(s.disconnectedAt, failures);
  const stallEmitted = c.takeStallEmitted();
  if (outcome.kind === 'stopped' || c.signal.aborted) return 'done';
  const wasConnected = c.stats.connected;
  c.stats.connected = false;
  if (!c.live) {
    if (outcome.kind === 'error') throw outcome.error;
    c.events.emit('source.ended', {
      streamId: c.streamId,
      frames: c.stats.sampled,
      ...(c.stats.truncated ? { truncated: true } : {}),
    });
    return 'done';
  }
  const err = outcome.kind === 'error' ? outcome.error : null;
  if (c.stats.info?.liveHls) s.stalePlaylist = await playlistText(c);
  // a connection that opened but delivered nothing is a failed attempt, not a stream that stalled or ended
  const streamed = wasConnected && c.stats.sampled > before;
  if (streamed || s.disconnectedAt === null) {
    s.disconnectedAt = c.stats.lastFrameWallMs ?? Date.now();
  }
  if (streamed && err && (err.code === 'SOURCE_TIMEOUT' || err.code === 'SOURCE_STALLED') && !stallEmitted) {
    // the stream went silent (a frozen camera sends nothing and raises no error until the read times out)
    c.stats.stalls++;
    c.events.emit('source.stalled', {
      streamId: c.streamId,
      silentMs: Date.now() - (c.stats.lastFrameWallMs ?? Date.now()),
    });
  }
  if (streamed) {
    c.events.emit('source.disconnected', {
      streamId: c.streamId,
      reason: err ? err.message : 'end of stream',
      ...(err ? { code: err.code } : {}),
    });
  }
  if (
    err?.code === 'INVALID_CONFIG' &&
    err.field === 'transport' &&
    c.options.transport === 'auto' &&
    c.transport === 'tcp'
  ) {
    // a server that takes UDP only (RTSP 461): auto falls back once, for this and every later connection
    c.transport = 'udp';
    c.events.emit('source.transport', {
      streamId: c.streamId,
      from: 'tcp',
      to: 'udp',
      reason: err.message,
    });
    return 'again-now';
  }
  if (err && !err.retriable) throw err;
  if (c.stats.sampled > before) {
    if (err) reportError(c, err);
    return 'again';
  }
  throw (
    err ??
    new LvuError('SOURCE_UNREACHABLE', `${c.source.redacted}: the connection closed before a frame arrived`)
  );
}

/** The media playlist of an HLS source as text (the first variant of a master playlist); '' when unreadable. */
async function playlistText(c: SupervisedSource): Promise<string> {
  const get = async (url: string) => {
    const r = await fetch(url, { signal: AbortSignal.timeout(c.options.timeoutMs) });
    return r.ok ? r.text() : '';
  };
  try {
    const text = await get(c.source.url);
    const variant = /#EXT-X-STREAM-INF[^\n]*\n([^#\s][^\n]*)/.exec(text)?.[1];
    return variant ? await get(new URL(variant.trim(), c.source.url).href) : text;
  } catch {
    return '';
  }
}

/** An abortable pause: resolves early (never rejects) when the source stops. */
function sleep(signal: AbortSignal, ms: number): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const onAbort = () => {
      clearTimeout(t);
      resolve();
    };
    // the listener goes with the timer: a camera down for days must not pile one up per attempt
    const t = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

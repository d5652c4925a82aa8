import type { Admission, LvuEvent, MetricFamily } from '@lvu/core';
import type { Engine, StreamStatus } from '@lvu/engine';

/** A figure of the stream's source (`source_stats`, what the source reports), if it reports it. */
function sourceStat(s: StreamStatus, key: string): unknown {
  const st = s.source_stats;
  return st && typeof st === 'object' ? (st as Record<string, unknown>)[key] : undefined;
}

const LATENCY_BUCKETS_S = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

class Histogram {
  readonly counts = new Array<number>(LATENCY_BUCKETS_S.length).fill(0);
  sum = 0;
  n = 0;
  observe(seconds: number): void {
    this.sum += seconds;
    this.n++;
    for (let i = 0; i < LATENCY_BUCKETS_S.length; i++)
      if (seconds <= LATENCY_BUCKETS_S[i]!) this.counts[i]!++;
  }
}

const esc = (v: string) => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');

/**
 * Prometheus metrics derived from the engine's events and stream status (text exposition format 0.0.4):
 * per-stream sampled/kept/dropped/failed frames, kept ratio of the last window, retained frames, tokens and bytes,
 * reconnects, last-frame age; model inference and question latency histograms.
 */
export class PrometheusMetrics {
  readonly #engine: Engine;
  readonly #inference = new Map<string, Histogram>();
  readonly #query = new Map<string, Histogram>();
  readonly #dropped = new Map<string, number>();
  readonly #reconnects = new Map<string, number>();
  readonly #modelRetries = new Map<string, number>();
  readonly #off: () => void;
  /** The HTTP server's admission controls (questions, searches), shown as gauges and a refusal counter. */
  admission: Admission[] = [];
  /** Metric families the application adds (the Kafka worker's message counters per stream). */
  extra: () => MetricFamily[] = () => [];

  constructor(engine: Engine) {
    this.#engine = engine;
    this.#off = engine.events.on((e: LvuEvent) => {
      if (e.type === 'model.inferred') this.#hist(this.#inference, e.model).observe(e.ms / 1000);
      else if (e.type === 'query.answered') this.#hist(this.#query, e.streamId).observe(e.ms / 1000);
      else if (e.type === 'frame.dropped' && (e.reason === 'queue-full' || e.reason === 'late'))
        this.#dropped.set(e.streamId, (this.#dropped.get(e.streamId) ?? 0) + 1);
      else if (e.type === 'source.reconnected')
        this.#reconnects.set(e.streamId, (this.#reconnects.get(e.streamId) ?? 0) + 1);
      else if (e.type === 'model.retried')
        this.#modelRetries.set(e.model, (this.#modelRetries.get(e.model) ?? 0) + 1);
    });
  }

  #hist(m: Map<string, Histogram>, key: string): Histogram {
    let h = m.get(key);
    if (!h) m.set(key, (h = new Histogram()));
    return h;
  }

  close(): void {
    this.#off();
  }

  render(now = Date.now()): string {
    const out: string[] = [];
    const metric = (name: string, type: string, help: string, rows: [Record<string, string>, number][]) => {
      out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
      for (const [labels, v] of rows) {
        const l = Object.entries(labels)
          .map(([k, x]) => `${k}="${esc(x)}"`)
          .join(',');
        out.push(`${name}${l ? `{${l}}` : ''} ${Number.isFinite(v) ? v : 'NaN'}`);
      }
    };
    const streams = this.#engine.listStreams();
    const per = (f: (s: (typeof streams)[number]) => number) =>
      streams.map((s) => [{ stream: s.id }, f(s)] as [Record<string, string>, number]);
    metric(
      'lvu_stream_sampled_frames_total',
      'counter',
      'frames sampled from the source',
      per((s) => s.counters.sampled),
    );
    metric(
      'lvu_stream_kept_frames_total',
      'counter',
      'frames kept by the DINO gate',
      per((s) => s.counters.kept),
    );
    metric(
      'lvu_stream_kept_ratio',
      'gauge',
      'kept / sampled frames of the last closed window',
      per((s) => s.counters.lastWindowKeptRatio ?? Number.NaN),
    );
    metric(
      'lvu_stream_dropped_frames_total',
      'counter',
      'frames dropped by a full queue (slow consumer)',
      per((s) => this.#dropped.get(s.id) ?? 0),
    );
    metric(
      'lvu_stream_failed_frames_total',
      'counter',
      'frames an encoder failed on',
      per((s) => s.counters.failedFrames),
    );
    metric(
      'lvu_stream_reconnects_total',
      'counter',
      'source reconnections',
      per((s) => this.#reconnects.get(s.id) ?? 0),
    );
    metric(
      'lvu_stream_retained_frames',
      'gauge',
      'kept frames retained in the context',
      per((s) => s.store.retainedFrames),
    );
    metric(
      'lvu_stream_retained_bytes',
      'gauge',
      'bytes of token grids retained',
      per((s) => s.store.retainedBytes),
    );
    metric(
      'lvu_stream_retained_tokens',
      'gauge',
      'tokens the retained frames hold at high resolution',
      per((s) => s.retainedTokens),
    );
    metric(
      'lvu_stream_budget_tokens',
      'gauge',
      'token budget of a question',
      per((s) => s.budgetTokens),
    );
    metric(
      'lvu_stream_evicted_frames_total',
      'counter',
      'frames evicted by retention',
      per((s) => s.store.evictedTotal),
    );
    metric(
      'lvu_stream_last_frame_age_seconds',
      'gauge',
      'seconds since the last sampled frame arrived',
      per((s) =>
        s.counters.lastFrameWallMs === null ? Number.NaN : (now - s.counters.lastFrameWallMs) / 1000,
      ),
    );
    metric(
      'lvu_stream_up',
      'gauge',
      '1 while the stream runs and its source is connected (a source reconnecting or stalled is 0)',
      per((s) => (s.state === 'running' && sourceStat(s, 'connected') !== false ? 1 : 0)),
    );
    metric(
      'lvu_stream_corrupt_frames_total',
      'counter',
      'frames the decoder could not decode (dropped, not concealed)',
      per((s) => Number(sourceStat(s, 'corrupt') ?? 0)),
    );
    const failures = this.#engine.checkpointFailures;
    metric(
      'lvu_checkpoint_failures_total',
      'counter',
      'checkpoints to stateDir that failed (the last good one is kept and the save retried)',
      per((s) => failures.get(s.id) ?? 0),
    );
    const warnings = this.#engine.warnings();
    metric(
      'lvu_stream_durability_ok',
      'gauge',
      "0 while the stream's checkpoints fail or its spill is turned off, else 1",
      per((s) => (warnings.some((w) => w.streamId === s.id) ? 0 : 1)),
    );
    const adm = (f: (a: Admission) => number) =>
      this.admission.map((a) => [{ kind: a.name }, f(a)] as [Record<string, string>, number]);
    metric(
      'lvu_admission_running',
      'gauge',
      'questions or searches running',
      adm((a) => a.running),
    );
    metric(
      'lvu_admission_waiting',
      'gauge',
      'questions or searches waiting for a slot',
      adm((a) => a.waiting),
    );
    metric(
      'lvu_admission_rejected_total',
      'counter',
      'questions or searches refused with 429 (queue full)',
      adm((a) => a.rejected),
    );
    metric(
      'lvu_inference_retries_total',
      'counter',
      'requests to the inference server (kserve) sent again while it was unreachable or restarting',
      [...this.#modelRetries].map(([model, n]) => [{ model }, n] as [Record<string, string>, number]),
    );
    const hist = (name: string, help: string, label: string, m: Map<string, Histogram>) => {
      out.push(`# HELP ${name} ${help}`, `# TYPE ${name} histogram`);
      for (const [k, h] of m) {
        for (const [i, b] of LATENCY_BUCKETS_S.entries())
          out.push(`${name}_bucket{${label}="${esc(k)}",le="${b}"} ${h.counts[i]}`);
        out.push(`${name}_bucket{${label}="${esc(k)}",le="+Inf"} ${h.n}`);
        out.push(`${name}_sum{${label}="${esc(k)}"} ${h.sum}`, `${name}_count{${label}="${esc(k)}"} ${h.n}`);
      }
    };
    hist('lvu_inference_seconds', 'model run latency per batch', 'model', this.#inference);
    hist('lvu_query_seconds', 'question latency (text, composition, generation)', 'stream', this.#query);
    for (const f of this.extra()) metric(f.name, f.type, f.help, f.samples);
    return `${out.join('\n')}\n`;
  }
}

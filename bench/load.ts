/**
 * Admission control under a burst (the probe of round 3: 200 concurrent searches made a live camera drop frames).
 * The real `lvu serve` with a live camera (lavfi, realtime, 2 fps) and the tiny ONNX models (text encoded in
 * onnxruntime's threads, as with real models), then autocannon with 200 connections for 20 s on search and on
 * questions. Baseline in the same run: the same server with admission wide open (64 at once, 1,024 waiting — about
 * what the server did before it had admission control). Figures: answers by status, latency of the 2xx, the
 * camera's sampled and dropped frames during the burst, the slowest `GET /v1/streams` during it, RSS before, at
 * peak and 10 s after.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import autocannon from 'autocannon';
import { get, serve, stop, until } from '../tests/support/lvu-serve.js';
import type { BenchOptions, BenchRow } from './run.js';

const TINY = resolve(import.meta.dirname, '../tests/fixtures/models/tiny');

const rssMb = (pid: number) => {
  const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Math.round(Number(m[1]) / 1024) : Number.NaN;
};

async function burst(
  admission: 'on' | 'off',
  target: 'search' | 'query',
  seconds: number,
): Promise<BenchRow> {
  const dir = mkdtempSync(join(tmpdir(), 'lvu-bench-load-'));
  const limits =
    admission === 'on'
      ? '{port: 0}'
      : '{port: 0, maxConcurrentSearches: 64, maxConcurrentQueries: 64, maxQueued: 1024}';
  const s = await serve(
    dir,
    'load',
    `server: ${limits}\nengine: {models: ${TINY}}\n` +
      `streams:\n  - {id: cam, source: 'lavfi:testsrc2=size=320x180:rate=25', realtime: true, fps: 2}\n`,
  );
  try {
    await until(
      () => get(`${s.url}/v1/streams/cam`),
      (x) => x.counters.windows >= 1,
    );
    const pid = s.proc.pid!;
    const rssBefore = rssMb(pid);
    let rssPeak = rssBefore;
    const listLatency: number[] = [];
    const watch = setInterval(() => {
      rssPeak = Math.max(rssPeak, rssMb(pid));
      const t = performance.now();
      void fetch(`${s.url}/v1/streams`).then(() => listLatency.push(performance.now() - t));
    }, 250);
    const before = await get(`${s.url}/v1/streams/cam`);
    const r = await autocannon({
      url: `${s.url}${target === 'search' ? '/v1/streams/cam/search?q=a%20red%20ball&limit=5' : '/v1/streams/cam/query'}`,
      method: target === 'search' ? 'GET' : 'POST',
      connections: 200,
      duration: seconds,
      timeout: 10,
      ...(target === 'query'
        ? {
            body: JSON.stringify({ question: 'What is in the scene?' }),
            headers: { 'content-type': 'application/json' },
          }
        : {}),
    });
    const after = await get(`${s.url}/v1/streams/cam`);
    clearInterval(watch);
    await new Promise((res) => setTimeout(res, 10_000));
    const rssAfter = rssMb(pid);
    const codes = Object.fromEntries(
      Object.entries(r.statusCodeStats ?? {}).map(([k, v]) => [k, (v as { count: number }).count]),
    );
    return {
      bench: 'load',
      case: `${target}, 200 connections, ${seconds} s, admission ${admission}`,
      answers: codes,
      timeouts: r.timeouts,
      latencyMs: { p50: r.latency.p50, p99: r.latency.p99, max: r.latency.max },
      cameraSampled: after.counters.sampled - before.counters.sampled,
      cameraExpected: Math.round(2 * seconds),
      cameraDropped: after.source_stats.droppedSlowConsumer - before.source_stats.droppedSlowConsumer,
      listStreamsMaxMs: Math.round(Math.max(0, ...listLatency)),
      listStreamsAnswered: listLatency.length,
      rssMb: { before: rssBefore, peak: rssPeak, after10s: rssAfter },
    };
  } finally {
    await stop(s);
  }
}

export async function run(o: BenchOptions): Promise<BenchRow[]> {
  const seconds = o.quick ? 8 : 20;
  const rows: BenchRow[] = [];
  for (const target of ['search', 'query'] as const)
    for (const admission of ['off', 'on'] as const) rows.push(await burst(admission, target, seconds));
  return rows;
}

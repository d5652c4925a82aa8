// biome-ignore-all lint/suspicious/noTemplateCurlyInString: the pipeline YAML's ${env:…} syntax is the subject
// biome-ignore-all lint/suspicious/noExplicitAny: JSON bodies of the API under test
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { createEngine, defaultPlugins } from '@lvu/cli';
import { type Engine, StandingQuestions, type StreamStatus } from '@lvu/engine';
import { createHttpServer, loadPipelineConfig } from '@lvu/server';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeSceneVideo } from './support/media.js';
import { repoRoot } from './support/paths.js';

const LVU = resolve(repoRoot, 'packages/cli/bin/lvu.js');
let video = '';
let engine: Engine;
let app: FastifyInstance;
let base = '';
let standing: StandingQuestions;

const json = async (r: Response | Promise<Response>): Promise<any> => (await r).json();
const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(base + path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' || body instanceof Uint8Array ? body : JSON.stringify(body),
  });

beforeAll(async () => {
  video = makeSceneVideo(40);
  // the API opens files only where the operator allows it
  engine = await createEngine({ sourcePolicy: { fileDirs: [dirname(video)] } });
  standing = new StandingQuestions(engine);
  app = await createHttpServer(engine, { standing });
  await app.listen({ host: '127.0.0.1', port: 0 });
  base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  const r = await post('/v1/streams', { id: 'cam', source: video });
  expect(r.status).toBe(201);
  await engine.whenDone('cam');
}, 120_000);

afterAll(async () => {
  standing?.close();
  await app?.close();
  await engine?.close();
});

describe('HTTP API', () => {
  it('health, readiness, OpenAPI document and the timeline page', async () => {
    expect(await (await fetch(`${base}/healthz`)).json()).toEqual({ ok: true });
    expect(await (await fetch(`${base}/readyz`)).json()).toMatchObject({ ready: true, streams: 1 });
    const doc = await json(fetch(`${base}/openapi.json`));
    expect(doc.openapi).toBe('3.1.0');
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining([
        '/v1/streams',
        '/v1/streams/{id}/query',
        '/v1/streams/{id}/context',
        '/metrics',
      ]),
    );
    expect(doc.components.schemas.StreamSpec.properties.source).toBeDefined();
    const page = await fetch(`${base}/`);
    expect(page.headers.get('content-type')).toMatch(/text\/html/);
    expect(await page.text()).toContain('<canvas');
  });

  it('lists streams and answers a question as JSON and as server-sent events', async () => {
    const { streams } = (await (await fetch(`${base}/v1/streams`)).json()) as { streams: StreamStatus[] };
    expect(streams.map((s) => [s.id, s.state])).toEqual([['cam', 'ended']]);
    const r = await post('/v1/streams/cam/query', { question: 'When is the scene red?' });
    expect(r.status).toBe(200);
    const j = await json(r);
    expect(j.totalTokens).toBeLessThanOrEqual(j.budgetTokens);
    expect(j.evidence.topScored[0].ptsMs).toBeGreaterThanOrEqual(20_000);
    expect(j.evidence.topScored[0].ptsMs).toBeLessThan(30_000);
    const s = await post(
      '/v1/streams/cam/query',
      { question: 'When is the scene red?' },
      { accept: 'text/event-stream' },
    );
    expect(s.headers.get('content-type')).toMatch(/text\/event-stream/);
    const text = await s.text();
    const result = /event: result\ndata: (.*)\n/.exec(text)?.[1];
    expect(JSON.parse(result!).evidence).toEqual(j.evidence);
  });

  it('serves the context timeline with thumbnails', async () => {
    const c = await json(fetch(`${base}/v1/streams/cam/context`));
    expect(c.retained.length).toBe(c.status.store.retainedFrames);
    expect(Buffer.from(c.retained[0].thumb, 'base64').length).toBe(c.thumbSide * c.thumbSide * 3);
    expect(c.timeline.filter((t: { kind: string }) => t.kind === 'kept').length).toBe(c.status.counters.kept);
  });

  it('bad input: 4xx with codes and the field, nothing retained lost', async () => {
    const before = engine.status('cam').store;
    const cases: [Promise<Response>, number, string, string?][] = [
      [post('/v1/streams/cam/query', { question: '' }), 400, 'INVALID_ARGUMENT', 'question'],
      [post('/v1/streams/cam/query', { question: 'x'.repeat(5000) }), 400, 'INVALID_ARGUMENT', 'question'],
      [
        post('/v1/streams/cam/query', JSON.stringify({ question: 'y'.repeat(1 << 20) })),
        413,
        'INVALID_ARGUMENT',
      ],
      [
        post(
          '/v1/streams/cam/query',
          Uint8Array.from([
            0x7b, 0x22, 0x71, 0x75, 0x65, 0x73, 0x74, 0x69, 0x6f, 0x6e, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22,
            0x7d,
          ]),
        ),
        400,
        'INVALID_ARGUMENT',
        'question',
      ],
      [post('/v1/streams/cam/query', '{not json'), 400, 'INVALID_ARGUMENT'],
      [post('/v1/streams/cam/query', { question: 'hi', sinceMs: 9e9 }), 404, 'NOT_FOUND', 'range'],
      [
        post('/v1/streams/cam/query', { question: 'hi', sinceMs: 'yesterday' }),
        400,
        'INVALID_ARGUMENT',
        'sinceMs',
      ],
      [post('/v1/streams/nope/query', { question: 'hi' }), 404, 'STREAM_NOT_FOUND'],
      [post('/v1/streams', { id: 'cam', source: video }), 409, 'STREAM_EXISTS'],
      [post('/v1/streams', { id: 'x' }), 400, 'INVALID_CONFIG', 'source'],
      [post('/v1/streams', { id: 'x', source: video, fps: 'fast' }), 400, 'INVALID_CONFIG', 'fps'],
      [
        post('/v1/streams', { id: 'x', source: video, retention: { policy: 'lru' } }),
        400,
        'INVALID_CONFIG',
        'retention.policy',
      ],
      [fetch(`${base}/v1/streams/nope`, { method: 'DELETE' }), 404, 'STREAM_NOT_FOUND'],
    ];
    for (const [p, status, code, field] of cases) {
      const r = await p;
      const b = await json(r);
      expect([r.status, b.error], JSON.stringify(b)).toEqual([status, code]);
      if (field) expect(b.field).toBe(field);
    }
    expect(engine.status('cam').store).toEqual(before);
  });

  it('metrics: per-stream gauges and counters, question latency histogram', async () => {
    const m = await (await fetch(`${base}/metrics`)).text();
    const kept = engine.status('cam').counters.kept;
    expect(m).toContain(`lvu_stream_kept_frames_total{stream="cam"} ${kept}`);
    expect(m).toContain('lvu_stream_sampled_frames_total{stream="cam"} 40');
    expect(m).toMatch(/lvu_stream_retained_tokens\{stream="cam"\} [1-9]/);
    expect(m).toContain('lvu_stream_budget_tokens{stream="cam"} 8192');
    expect(m).toMatch(/lvu_query_seconds_count\{stream="cam"\} [1-9]/);
    expect(m).toMatch(/lvu_stream_last_frame_age_seconds\{stream="cam"\} \d/);
  });

  it('standing questions: periodic answers over SSE and to a webhook', async () => {
    const got: unknown[] = [];
    const hook = createServer((req, res) => {
      let b = '';
      req.on('data', (d) => (b += d));
      req.on('end', () => {
        got.push(JSON.parse(b));
        res.end('ok');
      });
    });
    hook.listen(0, '127.0.0.1');
    await once(hook, 'listening');
    const url = `http://127.0.0.1:${(hook.address() as AddressInfo).port}/hook`;
    const sse = await fetch(`${base}/v1/answers`);
    standing.add({ stream: 'cam', question: 'Is it dark?', everySeconds: 0.2, webhook: url });
    const reader = sse.body!.pipeThrough(new TextDecoderStream()).getReader();
    let text = '';
    while (!text.includes('event: answer')) text += (await reader.read()).value;
    await reader.cancel();
    const data = JSON.parse(/event: answer\ndata: (.*)\n/.exec(text)![1]!);
    expect(data).toMatchObject({ stream: 'cam', trigger: 'period', error: null });
    expect(data.result.question).toBe('Is it dark?');
    for (let i = 0; i < 50 && got.length === 0; i++) await new Promise((r) => setTimeout(r, 100));
    expect(got[0]).toMatchObject({ stream: 'cam', trigger: 'period' });
    hook.close();
  });

  it('removes a stream at runtime: kept queryable until purged, continued on request', async () => {
    expect((await post('/v1/streams', { id: 'tmp', source: video })).status).toBe(201);
    for (let i = 0; i < 100 && (await json(await fetch(`${base}/v1/streams/tmp`))).counters.kept === 0; i++)
      await new Promise((r) => setTimeout(r, 100));
    expect((await fetch(`${base}/v1/streams/tmp`, { method: 'DELETE' })).status).toBe(204);
    const kept = await json(await fetch(`${base}/v1/streams/tmp`));
    // removed while running, or already ended (a short file replays fast): kept either way
    expect(['removed', 'ended']).toContain(kept.state);
    expect(kept.endedAtMs).toEqual(expect.any(Number));
    expect((await post('/v1/streams/tmp/query', { question: 'what happened?' })).status).toBe(200);
    // the same id again: a conflict unless asked to continue; continued, seqs go on after the kept ones
    expect((await post('/v1/streams', { id: 'tmp', source: video })).status).toBe(409);
    const again = await post('/v1/streams', { id: 'tmp', source: video, continue: true });
    expect(again.status).toBe(201);
    expect((await json(again)).restored).toMatchObject({ afterSeq: kept.counters.sampled - 1 });
    await fetch(`${base}/v1/streams/tmp`, { method: 'DELETE' });
    expect((await fetch(`${base}/v1/streams/tmp?purge=maybe`, { method: 'DELETE' })).status).toBe(400);
    expect((await fetch(`${base}/v1/streams/tmp?purge=true`, { method: 'DELETE' })).status).toBe(204);
    expect((await fetch(`${base}/v1/streams/tmp`)).status).toBe(404);
  });
});

describe('HTTP security', () => {
  it('refuses a non-loopback bind without a token; with one, requests need it (health excepted)', async () => {
    await expect(createHttpServer(engine, { host: '0.0.0.0' })).rejects.toMatchObject({
      code: 'INVALID_CONFIG',
    });
    const secured = await createHttpServer(engine, { host: '0.0.0.0', token: 's3cret' });
    await secured.listen({ host: '127.0.0.1', port: 0 });
    const url = `http://127.0.0.1:${(secured.server.address() as AddressInfo).port}`;
    try {
      expect((await fetch(`${url}/v1/streams`)).status).toBe(401);
      expect((await fetch(`${url}/v1/streams`, { headers: { authorization: 'Bearer wrong' } })).status).toBe(
        401,
      );
      expect((await fetch(`${url}/v1/streams`, { headers: { authorization: 'Bearer s3cret' } })).status).toBe(
        200,
      );
      expect((await fetch(`${url}/healthz`)).status).toBe(200);
    } finally {
      await secured.close();
    }
  });
});

describe('pipeline YAML and the CLI', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lvu-pipe-'));
  const write = (name: string, text: string) => {
    const p = join(dir, name);
    writeFileSync(p, text);
    return p;
  };

  it('substitutes env variables, resolves paths next to the file, and names the field of every error', () => {
    const p = write(
      'ok.yaml',
      'server:\n  port: ${env:LVU_TEST_PORT:-9999}\nengine:\n  models: ${env:LVU_NOPE:-}\nstreams:\n  - id: a\n    source: clip.mp4\n    fps: 2\n',
    );
    const c = loadPipelineConfig(p, defaultPlugins(), { LVU_TEST_PORT: '1234' });
    expect(c.server.port).toBe(1234);
    expect(c.engine.models).toBeNull();
    expect(c.streams[0]).toMatchObject({ id: 'a', source: join(dir, 'clip.mp4'), fps: 2 });
    const bad: [string, string][] = [
      ['streams:\n  - id: a\n    source: x\n    fps: fast\n', 'streams.0.fps'],
      ['engine:\n  retention:\n    policy: lru\n', 'engine.retention.policy'],
      ['server:\n  prot: 1\n', 'server.prot'],
      ['streams:\n  - {id: a, source: x}\n  - {id: a, source: y}\n', 'streams.1.id'],
      ['standing:\n  - {stream: b, question: hi, everySeconds: 5}\n', 'standing.0.stream'],
      ['server:\n  port: ${env:LVU_UNSET_VAR}\n', 'env:LVU_UNSET_VAR'],
    ];
    for (const [text, field] of bad) {
      expect(() => loadPipelineConfig(write('bad.yaml', text), defaultPlugins(), {}), text).toThrow(
        expect.objectContaining({
          code: 'INVALID_CONFIG',
          field: expect.stringContaining(field.split('.')[0]!),
        }),
      );
    }
  });

  it('lvu serve --config runs the streams; lvu query asks it; SIGTERM stops it', async () => {
    const cfg = write('serve.yaml', `server:\n  port: 0\nstreams:\n  - id: cam\n    source: ${video}\n`);
    const serve: ChildProcess = spawn('node', [LVU, 'serve', '--config', cfg], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    try {
      let out = '';
      serve.stdout!.on('data', (d) => (out += d));
      for (let i = 0; i < 100 && !out.includes('serving'); i++) await new Promise((r) => setTimeout(r, 100));
      const url = /serving (http:\/\/[^/]+)\//.exec(out)?.[1];
      if (!url) throw new Error(`no URL in: ${out}`);
      for (let i = 0; i < 100; i++) {
        const s = await json(fetch(`${url}/v1/streams/cam`));
        if (s.state === 'ended') break;
        await new Promise((r) => setTimeout(r, 200));
      }
      const { stdout } = await promisify(execFile)('node', [
        LVU,
        'query',
        url,
        'cam',
        'When is it red?',
        '--json',
      ]);
      const r = JSON.parse(stdout);
      expect(r.streamId).toBe('cam');
      expect(r.totalTokens).toBeLessThanOrEqual(8192);
      serve.kill('SIGTERM');
      const [code] = await once(serve, 'exit');
      expect(code).toBe(0);
    } finally {
      serve.kill('SIGKILL');
    }
  }, 60_000);
});

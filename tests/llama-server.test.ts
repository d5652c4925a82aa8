import { createEngine } from '@lvu/cli';
import {
  type BackendUsage,
  type Engine,
  type OpenAiInput,
  type QueryResult,
  streamCompletion,
} from '@lvu/engine';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeSceneVideo } from './support/media.js';
import { llamaCppPython, llamaServer, type Peer } from './support/peers.js';
import { freePort } from './support/rtsp-server.js';
import { llamaPython, llamaServerBinary, type TinyVlm, tinyVlm } from './support/served-models.js';

/**
 * The budget-true `openai` backend against real llama.cpp servers on this machine, built from PyPI: llama-cpp-python's
 * OpenAI-compatible server (`llama-cpp-python[server]`) and llama.cpp's own C++ `llama-server` from the same source,
 * both serving a tiny random Qwen2-VL that llama.cpp's converter wrote (model + mmproj, projector qwen2vl_merger).
 * Random weights answer nonsense; what is checked is the protocol, the image-token arithmetic, the budget, the
 * prefix cache and the failures.
 */
let vlm: TinyVlm;
let video = '';
const QUESTION = 'When does the scene turn red?';

beforeAll(() => {
  vlm = tinyVlm();
  video = makeSceneVideo(40);
}, 900_000);

/** An engine whose one stream (the scene video) has been read to its end, asking `url` through `openai`. */
async function engineFor(url: string, o: Partial<OpenAiInput>, budget = 8192): Promise<Engine> {
  const stop = [vlm.special['<|im_end|>']!, vlm.special['<|endoftext|>']!];
  const engine = await createEngine({
    backend: 'openai',
    openai: {
      url,
      model: 'tiny-vl',
      maxTokens: 64,
      // random weights: keep the model from stopping at once, so answers stream for a while
      extra: { logit_bias: Object.fromEntries(stop.map((id) => [String(id), -100])) },
      ...o,
    },
    longvu: { contextTokens: budget },
  });
  engine.addStream({ id: 'cam', source: video });
  await engine.whenDone('cam');
  return engine;
}

/** Image tokens the server's log says it encoded (mtmd prints each image's token grid). */
function loggedImageTokens(log: string): number[] {
  return [...log.matchAll(/image_tokens->nx = (\d+)\s+image_tokens->ny = (\d+)/g)].map(
    (m) => Number(m[1]) * Number(m[2]),
  );
}

describe("llama-cpp-python's server (PyPI)", () => {
  let peer: Peer;
  let engine: Engine;
  beforeAll(async () => {
    const python = llamaPython();
    const port = await freePort();
    peer = llamaCppPython(python, vlm.model, vlm.mmproj, port, 8192);
    peer.logLimit = 20_000_000;
    await peer.start();
    engine = await engineFor(`http://127.0.0.1:${port}/v1`, { maxTokens: 160, timeoutMs: 12_000 });
  }, 900_000);
  afterAll(async () => {
    await engine?.close();
    await peer?.kill();
  });

  it('streams the answer; every image costs the server exactly the tokens lvu counted for it', async () => {
    peer.log = '';
    const pieces: string[] = [];
    const r = await engine.query('cam', { question: QUESTION, onText: (t) => pieces.push(t) });
    expect(r.backend).toBe('openai');
    expect(pieces.length).toBeGreaterThan(1);
    expect(r.answer).toBe(pieces.join(''));
    const u = r.usage!;
    expect(u.images!.high + u.images!.low).toBeGreaterThan(1);
    expect(u.images!.high).toBe(r.evidence.highRes.length);
    expect(u.requestBytes).toBeGreaterThan(1000);
    expect(u.firstTokenMs).toBeGreaterThan(0);
    expect(u.lvuPromptTokens).toBeLessThanOrEqual(r.budgetTokens);
    const logged = loggedImageTokens(peer.log);
    expect(logged.length).toBe(u.images!.high + u.images!.low);
    // the table's qwen2-vl arithmetic = the server's: 12×12 per high-resolution frame, 8×8 per low, +2 around each
    expect(logged.reduce((a, b) => a + b, 0) + 2 * logged.length).toBe(u.images!.tokens);
  }, 120_000);

  it('a server killed mid-answer: a coded error after what was said; the stream is untouched; the restarted server answers', async () => {
    const pieces: string[] = [];
    const err = await engine
      .query('cam', {
        question: QUESTION,
        onText: (t) => {
          pieces.push(t);
          if (pieces.length === 1) peer.signal('SIGKILL');
        },
      })
      .catch((e) => e);
    expect(err).toMatchObject({ code: 'TRANSPORT_UNAVAILABLE', retriable: true });
    expect(err.message).toMatch(/broke off after \d+ characters/);
    expect(pieces.length).toBeGreaterThanOrEqual(1);
    expect(err.message).not.toMatch(/broke off after 0 characters/);
    // nothing else is lost: the stream and its context are as they were
    expect(engine.status('cam').state).toBe('ended');
    const down = await engine.query('cam', { question: QUESTION }).catch((e) => e);
    expect(down).toMatchObject({ code: 'TRANSPORT_UNAVAILABLE', field: 'openai.url' });
    await peer.start();
    const r = await engine.query('cam', { question: QUESTION });
    expect(r.answer!.length).toBeGreaterThan(0);
  }, 180_000);

  it('a frozen server (SIGSTOP): the question ends at openai.timeoutMs with a coded error; thawed, it answers', async () => {
    peer.signal('SIGSTOP');
    try {
      const t0 = Date.now();
      const err = await engine.query('cam', { question: QUESTION }).catch((e) => e);
      expect(err).toMatchObject({
        code: 'TRANSPORT_UNAVAILABLE',
        field: 'openai.timeoutMs',
        retriable: true,
      });
      expect(Date.now() - t0).toBeGreaterThanOrEqual(11_000);
    } finally {
      peer.signal('SIGCONT');
    }
    const r = await engine.query('cam', { question: QUESTION });
    expect(r.answer!.length).toBeGreaterThan(0);
  }, 120_000);
});

describe("llama.cpp's llama-server (C++, same PyPI source): the server's own token counts and prompt cache", () => {
  let bin = '';
  const peers: Peer[] = [];
  const engines: Engine[] = [];
  beforeAll(() => {
    bin = llamaServerBinary();
  }, 1_800_000);
  afterAll(async () => {
    for (const e of engines) await e.close();
    for (const p of peers) await p.kill();
  });
  async function start(nCtx: number): Promise<string> {
    const port = await freePort();
    const p = llamaServer(bin, vlm.model, vlm.mmproj, port, nCtx);
    peers.push(p);
    await p.start();
    return `http://127.0.0.1:${port}/v1`;
  }

  it('the server counts no more prompt tokens than lvu did, within --budget; a follow-up question is served from its prompt cache', async () => {
    const url = await start(4096);
    for (const budget of [512, 1200]) {
      // the tiny model's 412-token vocabulary splits most words into bytes: count text at its bound, a byte a token
      const engine = await engineFor(url, { maxTokens: 16, textBytesPerToken: 1 }, budget);
      engines.push(engine);
      const r1: QueryResult = await engine.query('cam', { question: QUESTION });
      const u = r1.usage!;
      expect(u.promptTokens, String(budget)).toBeGreaterThan(0);
      expect(u.promptTokens!).toBeLessThanOrEqual(u.lvuPromptTokens!);
      expect(u.lvuPromptTokens!).toBeLessThanOrEqual(budget);
      const r2 = await engine.query('cam', { question: 'What happens after that?' });
      // the server says how many prompt tokens it took from its cache: everything before the question
      expect(r2.usage!.cachedTokens!).toBeGreaterThan(0.8 * u.promptTokens!);
      expect(r2.usage!.cachedTokens!).toBeLessThan(r2.usage!.promptTokens!);
    }
  }, 300_000);

  it('the completions stream prompt-embeds reads (choices[].text, usage) as llama-server sends it', async () => {
    const url = await start(2048);
    const usage: BackendUsage = {};
    const pieces: string[] = [];
    const body = JSON.stringify({
      model: 'tiny-vl',
      prompt: 'Frames of the video in time order',
      max_tokens: 12,
      stream: true,
      stream_options: { include_usage: true },
      logit_bias: [
        [vlm.special['<|im_end|>']!, false],
        [vlm.special['<|endoftext|>']!, false],
      ],
    });
    for await (const p of streamCompletion(
      { url, timeoutMs: 30_000, field: 'prompt-embeds' },
      '/completions',
      body,
      {},
      usage,
    ))
      pieces.push(p);
    expect(pieces.join('').length).toBeGreaterThan(0);
    expect(usage).toMatchObject({ completionTokens: 12, requestBytes: Buffer.byteLength(body) });
    expect(usage.promptTokens).toBeGreaterThan(3);
    expect(usage.firstTokenMs).toBeGreaterThan(0);
  }, 120_000);

  it("a budget over the server's context: CONTEXT_OVERFLOW saying what to change", async () => {
    const url = await start(256);
    const engine = await engineFor(url, { maxTokens: 16 });
    engines.push(engine);
    const err = await engine.query('cam', { question: QUESTION }).catch((e) => e);
    expect(err).toMatchObject({ code: 'CONTEXT_OVERFLOW', field: 'openai' });
    expect(err.hint).toMatch(/contextTokens/);
  }, 120_000);
});

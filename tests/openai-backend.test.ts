// biome-ignore-all lint/suspicious/noExplicitAny: JSON bodies of the protocol under test
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createEngine } from '@lvu/cli';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeSceneVideo } from './support/media.js';

/**
 * The `openai` backend against a local HTTP server speaking the OpenAI chat-completions protocol (streamed).
 * No real VLM server (vLLM, Ollama, llama.cpp) was run here.
 */
let server: Server;
let url = '';
const requests: any[] = [];
let mode: 'stream' | 'json' | 'fail' | 'garbage' = 'stream';

beforeAll(async () => {
  server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      if (req.url !== '/v1/chat/completions' || req.method !== 'POST') {
        res.writeHead(404).end();
        return;
      }
      const j = JSON.parse(body);
      requests.push({ body: j, auth: req.headers.authorization });
      if (mode === 'fail') {
        res.writeHead(500).end('model not loaded');
        return;
      }
      if (mode === 'json') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ choices: [{ message: { role: 'assistant', content: 'red at 00:20' } }] }));
        return;
      }
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      if (mode === 'garbage') {
        res.end('data: {not json\n\n');
        return;
      }
      for (const piece of ['The scene ', 'turns red ', 'at 00:20.']) {
        res.write(`data: ${JSON.stringify({ choices: [{ index: 0, delta: { content: piece } }] })}\n\n`);
      }
      res.end('data: [DONE]\n\n');
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
});
afterAll(() => server.close());

describe('openai backend', () => {
  it('sends high-resolution frames as JPEGs with timestamps and thumbnails within the image budget; streams the answer', async () => {
    const video = makeSceneVideo(60);
    const engine = await createEngine({
      backend: 'openai',
      openai: { url, model: 'llava', apiKey: 'k', maxImages: 6, maxHighResImages: 2, seed: 5 },
    });
    try {
      engine.addStream({ id: 'cam', source: video });
      await engine.whenDone('cam');
      const pieces: string[] = [];
      const r = await engine.query('cam', {
        question: 'When is the scene red?',
        onText: (t) => pieces.push(t),
      });
      expect(r.backend).toBe('openai');
      expect(r.answer).toBe('The scene turns red at 00:20.');
      expect(pieces).toEqual(['The scene ', 'turns red ', 'at 00:20.']);
      const { body, auth } = requests.at(-1)!;
      expect(auth).toBe('Bearer k');
      expect(body).toMatchObject({ model: 'llava', stream: true, seed: 5 });
      const content = body.messages[1].content as any[];
      const images = content.filter((c) => c.type === 'image_url');
      expect(images.length).toBeLessThanOrEqual(6);
      expect(images.length).toBeGreaterThan(2);
      const high = images.filter((c) => c.image_url.detail === 'high');
      expect(high).toHaveLength(2);
      const bytes = (c: any) => Buffer.from(c.image_url.url.replace('data:image/jpeg;base64,', ''), 'base64');
      for (const c of images) expect([...bytes(c).subarray(0, 2)]).toEqual([0xff, 0xd8]); // JPEG SOI
      expect(bytes(high[0]).length).toBeGreaterThan(
        bytes(images.find((c) => c.image_url.detail === 'low')).length,
      );
      // every image is preceded by its timestamp, and the question comes last
      content.forEach((c, i) => {
        if (c.type === 'image_url') expect(content[i - 1].text).toMatch(/^\[\d\d:\d\d\]$/);
      });
      expect(content.at(-1)).toEqual({ type: 'text', text: 'When is the scene red?' });
      // the two full-size images are the best-scoring high-resolution frames: in the red scene
      const stamps = content.flatMap((c, i) => (c.image_url?.detail === 'high' ? [content[i - 1].text] : []));
      for (const s of stamps)
        expect(Number(s.slice(1, 3)) * 60 + Number(s.slice(4, 6))).toBeGreaterThanOrEqual(20);

      mode = 'json';
      expect((await engine.query('cam', { question: 'red?' })).answer).toBe('red at 00:20');
      mode = 'fail';
      await expect(engine.query('cam', { question: 'red?' })).rejects.toMatchObject({
        code: 'TRANSPORT_UNAVAILABLE',
      });
      mode = 'garbage';
      await expect(engine.query('cam', { question: 'red?' })).rejects.toMatchObject({
        code: 'MALFORMED_MESSAGE',
      });
      expect(engine.status('cam').store.retainedFrames).toBeGreaterThan(0);
    } finally {
      mode = 'stream';
      await engine.close();
    }
  }, 120_000);

  it('an unreachable server or a missing configuration is a clear error', async () => {
    await expect(createEngine({ backend: 'openai' })).rejects.toMatchObject({
      code: 'INVALID_CONFIG',
      field: 'openai',
    });
    await expect(
      createEngine({ backend: 'openai', openai: { url: 'not a url', model: 'm' } }),
    ).rejects.toMatchObject({ code: 'INVALID_CONFIG', field: 'openai.url' });
    const engine = await createEngine({
      backend: 'openai',
      openai: { url: 'http://127.0.0.1:9/v1', model: 'm' },
    });
    try {
      // synthetic sampled frames (the source may be any async iterable of SampledFrames)
      const frames = (async function* () {
        for (let seq = 0; seq < 20; seq++) {
          const img = (side: number) => new Uint8Array(side * side * 3).fill((seq * 37) % 256);
          yield {
            streamId: 'syn',
            seq,
            ptsMs: seq * 1000,
            wallMs: Date.now(),
            width: 640,
            height: 480,
            images: { 96: img(96), 384: img(384) },
          };
        }
      })();
      engine.addStream({ id: 'syn', source: frames });
      await engine.whenDone('syn');
      expect(engine.status('syn').counters.kept).toBeGreaterThan(0);
      await expect(engine.query('syn', { question: 'hi' })).rejects.toMatchObject({
        code: 'TRANSPORT_UNAVAILABLE',
        field: 'openai.url',
      });
      expect(engine.status('syn').store.retainedFrames).toBe(engine.status('syn').counters.kept);
    } finally {
      await engine.close();
    }
  });
});

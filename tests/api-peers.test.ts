// biome-ignore-all lint/suspicious/noExplicitAny: JSON bodies of the API under test
/**
 * The HTTP API against tools nobody here wrote: Schemathesis (`--checks all` on /openapi.json, without and with a
 * token, in a network namespace of its own), Prometheus' promtool on /metrics, headless Chromium on the timeline
 * page behind a token; and the API's conventions for auth, readiness and errors.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, resolve } from 'node:path';
import { createEngine } from '@lvu/cli';
import type { Engine } from '@lvu/engine';
import { createHttpServer } from '@lvu/server';
import type { FastifyInstance } from 'fastify';
import { chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeSceneVideo } from './support/media.js';
import { repoRoot } from './support/paths.js';

const CHROMIUM = ['/usr/lib/chromium/chromium', '/usr/bin/chromium'].find((p) => existsSync(p))!;
let video = '';
let engine: Engine;

beforeAll(async () => {
  video = makeSceneVideo(40);
  // the API may open files there (and report a missing one there as missing)
  engine = await createEngine({ sourcePolicy: { fileDirs: [dirname(video), '/nonexistent'] } });
  engine.addStream({ id: 'cam', source: video });
  await engine.whenDone('cam');
}, 120_000);
afterAll(async () => {
  await engine?.close();
});

/** node:http, for methods fetch refuses to send (TRACE). */
function rawRequest(
  url: string,
  method: string,
): Promise<{ status: number; allow: string | undefined; body: string }> {
  return new Promise((res, rej) => {
    const req = request(url, { method }, (r) => {
      let body = '';
      r.on('data', (d) => {
        body += d;
      });
      r.on('end', () => res({ status: r.statusCode ?? 0, allow: r.headers.allow, body }));
    });
    req.on('error', rej);
    req.end();
  });
}

async function serve(
  o: Parameters<typeof createHttpServer>[1] = {},
): Promise<{ app: FastifyInstance; base: string }> {
  const app = await createHttpServer(engine, o);
  await app.listen({ host: '127.0.0.1', port: 0 });
  return { app, base: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}` };
}

describe('Schemathesis on /openapi.json (checks all)', () => {
  beforeAll(() => {
    execFileSync(
      resolve(repoRoot, 'tools/python-env.sh'),
      [resolve(repoRoot, 'tools/requirements-api.txt')],
      {
        stdio: ['ignore', 'ignore', 'inherit'],
      },
    );
  }, 300_000);

  for (const token of [null, 'a-long-random-token-9f1c']) {
    it(`${token ? 'with' : 'without'} a token: 0 failures`, () => {
      const r = spawnSync(
        resolve(repoRoot, 'tools/api/schemathesis.sh'),
        [video, '--max-examples', '10', ...(token ? ['--token', token] : [])],
        { encoding: 'utf8', timeout: 280_000 },
      );
      const out = `${r.stdout}${r.stderr}`;
      expect(r.status, out.slice(-6000)).toBe(0);
      expect(out).toMatch(/\d+ generated, \d+ passed/);
      expect(out).not.toMatch(/\d+ failures?/);
      expect(out).toMatch(/Stateful/);
    }, 300_000);
  }
});

describe('promtool check metrics', () => {
  it('the /metrics exposition passes Prometheus’ own linter', async () => {
    const { app, base } = await serve();
    try {
      await fetch(`${base}/v1/streams/cam/query`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ question: 'When is it red?' }),
      });
      const text = await (await fetch(`${base}/metrics`)).text();
      expect(text).toContain('lvu_');
      const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
      expect(r.status, `${r.stdout}${r.stderr}`).toBe(0);
      expect(`${r.stdout}${r.stderr}`.trim()).toBe('');
    } finally {
      await app.close();
    }
  });
});

describe('auth', () => {
  it('public routes by their route, not the literal URL; any case of the Bearer scheme; a useful 401', async () => {
    const { app, base } = await serve({ token: 's3cret' });
    try {
      for (const path of ['/healthz?x=1', '/readyz/', '/readyz?probe=k8s', '/openapi.json', '/']) {
        expect((await fetch(base + path)).status, path).toBe(200);
      }
      const denied = await fetch(`${base}/v1/streams`);
      expect(denied.status).toBe(401);
      const body: any = await denied.json();
      expect(body).toMatchObject({ error: 'AUTH_REQUIRED', field: 'authorization' });
      expect(body.hint).toContain('Authorization: Bearer');
      expect(body.hint).not.toContain('source');
      for (const h of ['Bearer s3cret', 'bearer s3cret', 'BEARER  s3cret']) {
        expect((await fetch(`${base}/v1/streams`, { headers: { authorization: h } })).status, h).toBe(200);
      }
      expect((await fetch(`${base}/metrics`, { headers: { authorization: 'Basic s3cret' } })).status).toBe(
        401,
      );
      // the document says what this server does: bearer required here
      const doc: any = await (await fetch(`${base}/openapi.json`)).json();
      expect(doc.paths['/v1/streams'].get.security).toEqual([{ bearer: [] }]);
      expect(doc.paths['/v1/streams'].get.responses['401']).toBeDefined();
      expect(doc.paths['/healthz'].get.security).toEqual([]);
    } finally {
      await app.close();
    }
    const open = await serve();
    try {
      const doc: any = await (await fetch(`${open.base}/openapi.json`)).json();
      expect(doc.paths['/v1/streams'].get.security).toBeUndefined();
      expect(doc.paths['/v1/streams'].get.responses['401']).toBeUndefined();
    } finally {
      await open.app.close();
    }
  });

  it('a white-space token is refused, by the server and by lvu serve', async () => {
    await expect(createHttpServer(engine, { host: '0.0.0.0', token: '   ' })).rejects.toMatchObject({
      code: 'INVALID_CONFIG',
      field: 'server.token',
    });
    const r = spawnSync(
      process.execPath,
      ['packages/cli/bin/lvu.js', 'serve', '--host', '0.0.0.0', '--port', '0'],
      {
        cwd: repoRoot,
        encoding: 'utf8',
        env: { ...process.env, LVU_TOKEN: ' \t ' },
        timeout: 60_000,
      },
    );
    expect(r.status).toBe(2);
    expect(JSON.parse(r.stderr.trim().split('\n').at(-1)!)).toMatchObject({
      error: 'INVALID_CONFIG',
      field: 'server.token',
    });
  }, 90_000);

  it('the timeline page opens in Chromium behind a token given as /#token=', async () => {
    const { app, base } = await serve({ token: 's3cret' });
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
    try {
      const page = await browser.newPage();
      await page.goto(`${base}/#token=s3cret`);
      await page.waitForSelector('body[data-ready="1"]', { timeout: 20_000 });
      expect(await page.locator('.stream b').first().textContent()).toBe('cam');
    } finally {
      await browser.close();
      await app.close();
    }
  }, 60_000);
});

describe('readiness and errors', () => {
  it('a stream with a bad source fails alone: /readyz stays 200 and lists it, its status says why', async () => {
    const { app, base } = await serve();
    try {
      const r = await fetch(`${base}/v1/streams`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ id: 'broken', source: '/nonexistent/camera.mp4' }),
      });
      expect(r.status).toBe(201);
      let s: any;
      for (let i = 0; i < 100; i++) {
        s = await (await fetch(`${base}/v1/streams/broken`)).json();
        if (s.state === 'failed') break;
        await new Promise((res) => setTimeout(res, 100));
      }
      expect(s).toMatchObject({ state: 'failed', error: { code: 'NOT_FOUND' } });
      const ready = await fetch(`${base}/readyz`);
      expect(ready.status).toBe(200);
      expect(await ready.json()).toMatchObject({
        ready: true,
        failed: [{ id: 'broken', error: { code: 'NOT_FOUND' } }],
      });
      // the other stream still answers
      const q = await fetch(`${base}/v1/streams/cam/query`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ question: 'When is it red?' }),
      });
      expect(q.status).toBe(200);
      await engine.removeStream('broken');
    } finally {
      await app.close();
    }
  });

  it('405 with Allow for a method a path does not take; an empty time range says how to widen it', async () => {
    const { app, base } = await serve();
    try {
      for (const [method, path, allow] of [
        ['TRACE', '/v1/streams', 'GET, HEAD, POST'],
        ['PUT', '/v1/streams/cam', 'GET, HEAD, DELETE'],
        ['GET', '/v1/streams/cam/query', 'POST'],
      ] as const) {
        const r = await rawRequest(base + path, method);
        expect(r.status, `${method} ${path}`).toBe(405);
        expect(r.allow).toBe(allow);
        expect(JSON.parse(r.body)).toMatchObject({ error: 'INVALID_ARGUMENT', field: 'method' });
      }
      const unknown: any = await (await fetch(`${base}/nowhere`)).json();
      expect(Object.keys(unknown).sort()).toEqual(['error', 'field', 'hint', 'message']);
      const empty = await fetch(`${base}/v1/streams/cam/query`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ question: 'What happened?', sinceMs: 9e9 }),
      });
      const e: any = await empty.json();
      expect(e).toMatchObject({ error: 'NOT_FOUND', field: 'range' });
      expect(e.hint).toContain('sinceMs/untilMs');
      expect(e.hint).not.toContain('check the path');
    } finally {
      await app.close();
    }
  });
});

describe('the API is described once', () => {
  it('/openapi.json lists exactly the routes the server answers, with the methods it takes', async () => {
    const { app, base } = await serve();
    try {
      const doc: any = await (await fetch(`${base}/openapi.json`)).json();
      const served = new Set<string>();
      // fastify's own routing table (a tree, four columns a level): every route registered, HEAD aside (it
      // follows GET)
      const stack: string[] = [];
      for (const line of app.printRoutes({ commonPrefix: false }).split('\n')) {
        const m = /^([\s│├└─]*)(\S+) \(([A-Z, ]+)\)$/.exec(line);
        if (!m) continue;
        const depth = m[1]!.length / 4;
        stack.length = depth;
        const path = (stack[depth - 1] ?? '') + m[2]!;
        stack.push(path);
        for (const method of m[3]!.split(', '))
          if (method !== 'HEAD') served.add(`${method} ${path.replace(/:(\w+)/g, '{$1}')}`);
      }
      const documented = new Set<string>();
      for (const [path, item] of Object.entries<any>(doc.paths))
        for (const method of Object.keys(item)) documented.add(`${method.toUpperCase()} ${path}`);
      expect(served.size).toBeGreaterThan(10);
      expect([...documented].sort()).toEqual([...served].sort());
    } finally {
      await app.close();
    }
  });

  it("requests are checked by core's rules, the ones the document publishes and the engine applies", async () => {
    const { app, base } = await serve();
    try {
      const doc: any = await (await fetch(`${base}/openapi.json`)).json();
      const idPattern = new RegExp(doc.paths['/v1/streams/{id}'].get.parameters[0].schema.pattern);
      const questionPattern = new RegExp(doc.components.schemas.Question.properties.question.pattern);
      // an id core refuses (a leading '.') is refused by the route and by the published pattern alike
      expect(idPattern.test('.cam')).toBe(false);
      const r = await fetch(`${base}/v1/streams/.cam`);
      expect(r.status).toBe(400);
      expect(await r.json()).toMatchObject({ error: 'INVALID_ARGUMENT', field: 'id' });
      for (const [question, message] of [
        ['   ', 'question is empty'],
        ['what\u0007happened', 'question is not text'],
      ] as const) {
        expect(questionPattern.test(question)).toBe(false);
        const q = await fetch(`${base}/v1/streams/cam/query`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ question }),
        });
        expect(q.status).toBe(400);
        const body: any = await q.json();
        expect(body).toMatchObject({ error: 'INVALID_ARGUMENT', field: 'question' });
        expect(body.message).toContain(message);
        // the engine says the same of the same question
        await expect(engine.query('cam', { question })).rejects.toMatchObject({
          code: 'INVALID_ARGUMENT',
          field: 'question',
          message: body.message,
        });
      }
      const s = await fetch(`${base}/v1/streams/cam/search?q=${encodeURIComponent('red')}&limit=0`);
      expect(s.status).toBe(400);
      expect(await s.json()).toMatchObject({ error: 'INVALID_ARGUMENT', field: 'limit' });
    } finally {
      await app.close();
    }
  });
});

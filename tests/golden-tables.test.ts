import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import {
  bilinearResize,
  bilinearTaps,
  highresCount,
  longVuOptions,
  lowResImageSize,
  resolutionMode,
  selectFrames,
  tokenGridLayout,
  uniformCap,
  unpadBounds,
} from '@lvu/compress';
import { describe, expect, it } from 'vitest';
import { goldenDir as golden, referenceDir, repoRoot } from './support/paths.js';

const load = (f: string) => JSON.parse(readFileSync(resolve(golden, f), 'utf8'));

describe('the golden cases are the repository’s own', () => {
  it('the NumPy reference (tools/reference/longvu_ref.py) writes every golden file byte for byte', () => {
    const python = execFileSync(
      resolve(repoRoot, 'tools/python-env.sh'),
      [resolve(repoRoot, 'tools/requirements-numpy.txt')],
      { encoding: 'utf8' },
    ).trim();
    const out = mkdtempSync(join(tmpdir(), 'lvu-golden-'));
    execFileSync(python, [join(referenceDir, 'longvu_ref.py')], {
      env: { ...process.env, LVU_GOLDEN_OUT: out },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    const files = readdirSync(golden).filter((f) => f.endsWith('.json'));
    expect(readdirSync(out).sort()).toEqual(files.sort());
    for (const f of files)
      expect(readFileSync(join(out, f)).equals(readFileSync(join(golden, f))), f).toBe(true);
  }, 120_000);
});

describe('primitives.json (hand-checkable vectors)', () => {
  const p = load('primitives.json');

  it('bilinear 12→8 and 4→2 of arange', () => {
    const g = Float64Array.from({ length: 144 }, (_, i) => i);
    expect(Array.from(bilinearResize(g, 12, 12, 1, 8, 8))).toEqual(p.bilinear_12_to_8_of_arange144);
    const g4 = Float64Array.from({ length: 16 }, (_, i) => i);
    expect(Array.from(bilinearResize(g4, 4, 4, 1, 2, 2))).toEqual(p.bilinear_4_to_2_of_arange16);
    const t = bilinearTaps(8, 12);
    expect({ i0: Array.from(t.i0), i1: Array.from(t.i1), lambda: Array.from(t.lambda) }).toEqual(
      p.taps_12_to_8,
    );
  });

  it('unpad bounds for every listed size', () => {
    for (const u of p.unpad) {
      expect(unpadBounds(12, 12, u.image_size_passed, 'official')).toEqual(u.hi_bounds);
      const lo = lowResImageSize(u.image_size_passed, 12, 8);
      expect(lo).toEqual(u.lo_image_size);
      expect(unpadBounds(8, 8, lo, 'official')).toEqual(u.lo_bounds);
    }
  });

  it('uniform cap 450 → 400', () => {
    expect(uniformCap(450, 400).slice(0, 20)).toEqual(p.uniform_cap_450_to_400_first20);
  });
});

describe('mode_table_default_config.json (integer decisions of the released config)', () => {
  const table = load('mode_table_default_config.json');
  const o = longVuOptions();

  for (const t of table.tables) {
    it(`prompt ${t.prompt_len}, image size ${t.image_size_passed.join('x')}`, () => {
      const hi = tokenGridLayout(12, t.image_size_passed, 'official', true);
      const lo = tokenGridLayout(8, lowResImageSize(t.image_size_passed, 12, 8), 'official', true);
      expect([...hi.bounds]).toEqual(t.hi_bounds);
      expect([...lo.bounds]).toEqual(t.lo_bounds);
      expect(hi.perFrame).toBe(t.hi_per_frame);
      expect(lo.perFrame).toBe(t.lo_per_frame);
      const B = o.contextTokens - o.reserveTokens - (t.prompt_len - 1);
      expect(B).toBe(t.max_visual_len_B);
      const gate = selectFrames(
        Array.from({ length: t.dino_runs_if_T_at_least }, () => Float32Array.of(1)),
        t.prompt_len,
        o,
      );
      expect(gate.budgetFrames).toBe(t.dino_runs_if_T_at_least);
      for (const [T, mode, vis, nh, stc] of t.rows) {
        const m = resolutionMode(T, t.prompt_len, o).mode;
        const pf = m === 'mix' ? lo.perFrame : hi.perFrame;
        const n = m === 'mix' ? highresCount(B, T, hi.perFrame, lo.perFrame).count : 0;
        expect([T, m, T * pf, n, B < T * pf && n === 0]).toEqual([T, mode, vis, nh, stc]);
      }
    });
  }
});

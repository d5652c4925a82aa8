import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { budgetSvg, type Figures, measure, retentionSvg } from '../tools/docs/figures.js';
import { repoRoot } from './support/paths.js';

/**
 * The pictures of docs/concepts.md come from real runs (tools/docs/figures.ts); this runs the same measurement and
 * checks that what the page says they show holds: a question never sends more than the budget, the read path moves
 * from high to mix (to high_overflow) as the context grows and never back, and each retention policy keeps what
 * its name says under the same cap.
 */
const VTEST = '/usr/share/doc/opencv-doc/examples/data/vtest.avi';
const ORDER = ['high', 'mix', 'high_overflow'];
let f: Figures;

describe('the concepts pictures', () => {
  it('a question never sends more than the budget, and the mode only moves from high towards compression', async () => {
    f = await measure(VTEST, { cap: 40 });
    expect(f.budget.length).toBeGreaterThan(10);
    for (const p of f.budget) expect(p.totalTokens).toBeLessThanOrEqual(f.budgetTokens);
    const modes = f.budget.map((p) => ORDER.indexOf(p.mode));
    expect(modes.every((m) => m >= 0)).toBe(true);
    for (let i = 1; i < modes.length; i++) expect(modes[i]).toBeGreaterThanOrEqual(modes[i - 1]!);
    expect(new Set(f.budget.map((p) => p.mode))).toContain('mix');
    // the gate keeps fewer than it samples on this static camera
    const last = f.budget.at(-1)!;
    expect(last.kept).toBeLessThan(last.sampled / 3);
  }, 120_000);

  it('pyramid and uniform reach back to the start of the replay, recent keeps only its end; none above the cap', () => {
    const by = Object.fromEntries(f.retention.map((r) => [r.policy, r.pts]));
    for (const pts of Object.values(by)) expect(pts.length).toBeLessThanOrEqual(40);
    const first = (p: string) => Math.min(...by[p]!);
    expect(first('pyramid')).toBeLessThan(f.durationMs * 0.1);
    expect(first('uniform')).toBeLessThan(f.durationMs * 0.1);
    expect(first('recent')).toBeGreaterThan(f.durationMs * 0.4);
    // pyramid is denser at the end than at the start
    const lastQuarter = by.pyramid!.filter((p) => p > f.durationMs * 0.75).length;
    const firstQuarter = by.pyramid!.filter((p) => p < f.durationMs * 0.25).length;
    expect(lastQuarter).toBeGreaterThan(firstQuarter);
  });

  it('draws them as SVG, one mark per measurement, and the committed pictures are in place', () => {
    const budget = budgetSvg(f);
    expect(budget.match(/<circle /g)!.length).toBe(f.budget.length + 3);
    const retention = retentionSvg(f);
    const marks = f.retention.reduce((n, r) => n + r.pts.length, 0);
    expect(retention.match(/stroke="#1c7ed6"\/>/g)!.length).toBe(marks);
    const page = readFileSync(resolve(repoRoot, 'docs/concepts.md'), 'utf8');
    for (const svg of ['concepts-budget.svg', 'concepts-retention.svg']) {
      expect(page).toContain(`(${svg})`);
      expect(readFileSync(resolve(repoRoot, 'docs', svg), 'utf8')).toMatch(/^<svg [^>]+>[\s\S]*<\/svg>\n$/);
    }
  });
});

/**
 * Draws the pictures of docs/concepts.md from real runs of the engine (the built-in encoder, so that anyone can
 * redraw them in seconds; the decisions drawn — gate, retention, the read path's layout under the budget — are the
 * engine's, not a sketch):
 *   docs/concepts-budget.svg     one replay of opencv-doc's vtest.avi at 10 fps: frames sampled, kept by the gate and
 *                                retained, and what a question asked at that moment would send (tokens against the
 *                                budget, coloured by the read path's mode: high, mix, high_overflow)
 *   docs/concepts-retention.svg  which frames each retention policy keeps of the same replay under a 40-frame cap
 *
 *   npx tsx tools/docs/figures.ts [VIDEO] [--out docs]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { createEngine } from '../../packages/cli/src/plugins.js';

export interface BudgetPoint {
  ptsMs: number;
  sampled: number;
  kept: number;
  retained: number;
  totalTokens: number;
  mode: string;
}

export interface Figures {
  budget: BudgetPoint[];
  budgetTokens: number;
  durationMs: number;
  retention: { policy: string; pts: number[] }[];
}

const VTEST = '/usr/share/doc/opencv-doc/examples/data/vtest.avi';

/** Replays `video` once while asking every `everyMs` of wall time, then once per retention policy. */
export async function measure(video: string, o: { fps?: number; cap?: number } = {}): Promise<Figures> {
  const fps = o.fps ?? 10;
  const budget: BudgetPoint[] = [];
  let budgetTokens = 8192;
  let durationMs = 0;
  {
    const engine = await createEngine({ retention: { maxFrames: 400 } });
    try {
      engine.addStream({ id: 'v', source: video, sourceOptions: { fps } });
      let done = false;
      const finished = engine.whenDone('v').then(() => {
        done = true;
      });
      let last = -1;
      while (!done) {
        const s = engine.status('v');
        const pts = s.counters.lastPtsMs ?? 0;
        if (s.store.retainedFrames > 0 && pts !== last) {
          last = pts;
          const r = await engine.query('v', { question: 'What happens, and when?' });
          budgetTokens = r.budgetTokens;
          budget.push({
            ptsMs: pts,
            sampled: s.counters.sampled,
            kept: s.counters.kept,
            retained: s.store.retainedFrames,
            totalTokens: r.totalTokens,
            mode: r.mode,
          });
        }
        await Promise.race([finished, new Promise((r) => setTimeout(r, 20))]);
      }
      durationMs = engine.status('v').counters.lastPtsMs ?? 0;
    } finally {
      await engine.close();
    }
  }
  const retention: Figures['retention'] = [];
  for (const policy of ['pyramid', 'uniform', 'recent'] as const) {
    const engine = await createEngine({
      retention: { policy, maxFrames: o.cap ?? 40, ...(policy === 'pyramid' ? { denseMs: 20_000 } : {}) },
    });
    try {
      engine.addStream({ id: 'v', source: video, sourceOptions: { fps } });
      await engine.whenDone('v');
      retention.push({ policy, pts: engine.frames('v').map((f) => f.ptsMs) });
    } finally {
      await engine.close();
    }
  }
  return { budget, budgetTokens, durationMs, retention };
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');
const MODE_COLOUR: Record<string, string> = { high: '#2b8a3e', mix: '#e67700', high_overflow: '#c92a2a' };

export function budgetSvg(f: Figures): string {
  const W = 760;
  const H = 360;
  const L = 60;
  const R = 60;
  const T = 40;
  const B = 50;
  const pw = W - L - R;
  const ph = H - T - B;
  const tMax = Math.max(f.durationMs, 1);
  const x = (ms: number) => L + (ms / tMax) * pw;
  const fMax = Math.max(...f.budget.map((p) => p.sampled), 1);
  const yF = (n: number) => T + ph - (n / fMax) * ph;
  const kMax = f.budgetTokens * 1.1;
  const yK = (n: number) => T + ph - (n / kMax) * ph;
  const path = (pick: (p: BudgetPoint) => number, y: (n: number) => number) =>
    f.budget.map((p, i) => `${i ? 'L' : 'M'}${x(p.ptsMs).toFixed(1)},${y(pick(p)).toFixed(1)}`).join(' ');
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="12">`,
    '<title>Frames sampled, kept and retained over one replay, and the tokens a question would send against the budget</title>',
    '<rect width="100%" height="100%" fill="white"/>',
    `<text x="${L}" y="20" font-size="14" font-weight="bold">One replay (vtest.avi, 10 fps): frames, and what a question would send</text>`,
    `<line x1="${L}" y1="${T + ph}" x2="${L + pw}" y2="${T + ph}" stroke="#888"/>`,
    `<line x1="${L}" y1="${T}" x2="${L}" y2="${T + ph}" stroke="#888"/>`,
    `<line x1="${L + pw}" y1="${T}" x2="${L + pw}" y2="${T + ph}" stroke="#888"/>`,
  ];
  for (let s = 0; s <= tMax / 1000; s += 10) {
    out.push(
      `<text x="${x(s * 1000)}" y="${T + ph + 16}" text-anchor="middle">${s}s</text>`,
      `<line x1="${x(s * 1000)}" y1="${T + ph}" x2="${x(s * 1000)}" y2="${T + ph + 4}" stroke="#888"/>`,
    );
  }
  out.push(`<text x="${L + pw / 2}" y="${H - 10}" text-anchor="middle">media time</text>`);
  for (const n of [0, Math.round(fMax / 2), fMax])
    out.push(`<text x="${L - 6}" y="${yF(n) + 4}" text-anchor="end">${n}</text>`);
  for (const n of [0, 4096, f.budgetTokens]) out.push(`<text x="${L + pw + 6}" y="${yK(n) + 4}">${n}</text>`);
  out.push(
    `<text x="14" y="${T + ph / 2}" transform="rotate(-90 14 ${T + ph / 2})" text-anchor="middle">frames</text>`,
    `<text x="${W - 10}" y="${T + ph / 2}" transform="rotate(90 ${W - 10} ${T + ph / 2})" text-anchor="middle">tokens sent</text>`,
    `<line x1="${L}" y1="${yK(f.budgetTokens)}" x2="${L + pw}" y2="${yK(f.budgetTokens)}" stroke="#c92a2a" stroke-dasharray="6 4"/>`,
    `<text x="${L + pw * 0.3}" y="${yK(f.budgetTokens) - 4}" fill="#c92a2a">token budget ${f.budgetTokens}</text>`,
    `<path d="${path((p) => p.sampled, yF)}" fill="none" stroke="#adb5bd" stroke-width="2"/>`,
    `<path d="${path((p) => p.kept, yF)}" fill="none" stroke="#1c7ed6" stroke-width="2"/>`,
    `<path d="${path((p) => p.retained, yF)}" fill="none" stroke="#1c7ed6" stroke-width="2" stroke-dasharray="3 3"/>`,
  );
  for (const p of f.budget)
    out.push(
      `<circle cx="${x(p.ptsMs).toFixed(1)}" cy="${yK(p.totalTokens).toFixed(1)}" r="2.5" fill="${MODE_COLOUR[p.mode] ?? '#000'}"/>`,
    );
  const LX = L + pw * 0.52;
  const legend: [string, string, string][] = [
    ['#adb5bd', '', 'sampled'],
    ['#1c7ed6', '', 'kept by the DINO gate'],
    ['#1c7ed6', '3 3', 'retained (cap 400)'],
  ];
  legend.forEach(([c, dash, label], i) => {
    const ly = T + ph * 0.55 + i * 16;
    out.push(
      `<line x1="${LX}" y1="${ly}" x2="${LX + 24}" y2="${ly}" stroke="${c}" stroke-width="2"${dash ? ` stroke-dasharray="${dash}"` : ''}/>`,
      `<text x="${LX + 30}" y="${ly + 4}">${esc(label)}</text>`,
    );
  });
  (['high', 'mix', 'high_overflow'] as const).forEach((m, i) => {
    const ly = T + ph * 0.55 + (3 + i) * 16;
    out.push(
      `<circle cx="${LX + 12}" cy="${ly}" r="3" fill="${MODE_COLOUR[m]}"/>`,
      `<text x="${LX + 30}" y="${ly + 4}">question's tokens, ${m === 'high' ? 'every frame 12×12' : m === 'mix' ? 'N_h frames 12×12, the rest 8×8' : 'over mnf_low: 12×12 pruned by STC'}</text>`,
    );
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

export function retentionSvg(f: Figures): string {
  const W = 760;
  const L = 90;
  const R = 20;
  const rowH = 40;
  const T = 40;
  const H = T + f.retention.length * rowH + 40;
  const pw = W - L - R;
  const tMax = Math.max(f.durationMs, 1);
  const x = (ms: number) => L + (ms / tMax) * pw;
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="12">`,
    '<title>The frames each retention policy keeps of the same replay</title>',
    '<rect width="100%" height="100%" fill="white"/>',
    `<text x="${L}" y="20" font-size="14" font-weight="bold">The frames each retention policy keeps of the same replay (cap ${Math.max(...f.retention.map((r) => r.pts.length))})</text>`,
  ];
  f.retention.forEach((r, i) => {
    const y = T + i * rowH + rowH / 2;
    out.push(
      `<text x="${L - 8}" y="${y + 4}" text-anchor="end">${r.policy}</text>`,
      `<line x1="${L}" y1="${y}" x2="${L + pw}" y2="${y}" stroke="#dee2e6"/>`,
    );
    for (const p of r.pts)
      out.push(
        `<line x1="${x(p).toFixed(1)}" y1="${y - 10}" x2="${x(p).toFixed(1)}" y2="${y + 10}" stroke="#1c7ed6"/>`,
      );
  });
  const yAxis = T + f.retention.length * rowH + 4;
  for (let s = 0; s <= tMax / 1000; s += 10)
    out.push(`<text x="${x(s * 1000)}" y="${yAxis + 12}" text-anchor="middle">${s}s</text>`);
  out.push(
    `<text x="${L + pw / 2}" y="${yAxis + 30}" text-anchor="middle">media time (now is the right edge)</text>`,
  );
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: { out: { type: 'string', default: resolve(import.meta.dirname, '../../docs') } },
  });
  const f = await measure(positionals[0] ?? VTEST);
  mkdirSync(values.out!, { recursive: true });
  writeFileSync(resolve(values.out!, 'concepts-budget.svg'), budgetSvg(f));
  writeFileSync(resolve(values.out!, 'concepts-retention.svg'), retentionSvg(f));
  process.stdout.write(
    `${JSON.stringify({ points: f.budget.length, durationMs: f.durationMs, retained: f.retention.map((r) => [r.policy, r.pts.length]) })}\n`,
  );
}

/**
 * The DINO gate across kinds of footage: the share of frames the starter set's temporal reduction keeps (threshold
 * from the manifest's calibration) on real clips of different kinds, at 1 fps — a static camera (opencv-doc's
 * vtest.avi), a moving camera (tree.avi), an animation (Megamind.avi, played four times: 45 s), and the accuracy
 * benchmark's compilation with hard cuts — next to the share LongVU reports keeping (about half). Each row also
 * gives the share at DINOv2's own threshold (0.83) in the same run, the baseline nobody here chose.
 */
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createEngine } from '@lvu/cli';
import { compilation, encodeOnce, starter } from './compilations.js';
import type { BenchOptions, BenchRow } from './run.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const DATA = '/usr/share/doc/opencv-doc/examples/data';

function looped(file: string, times: number): string {
  return encodeOnce(join(root, `.cache/bench/${file.replace(/\W/g, '_')}-x${times}.mp4`), () => [
    '-stream_loop',
    String(times - 1),
    '-i',
    join(DATA, file),
    '-an',
  ]);
}

export async function run(_o: BenchOptions): Promise<BenchRow[]> {
  const models = starter();
  const clips: [string, string][] = [
    ['static camera (vtest.avi)', join(DATA, 'vtest.avi')],
    ['moving camera (tree.avi)', join(DATA, 'tree.avi')],
    ['animation (Megamind.avi ×4)', looped('Megamind.avi', 4)],
    ['hard cuts (the accuracy compilation)', compilation().file],
  ];
  const rows: BenchRow[] = [];
  for (const [kind, file] of clips) {
    const kept: Record<string, number> = {};
    let sampled = 0;
    for (const [name, threshold] of [
      ['starter', undefined],
      ['dinov2', 0.83],
    ] as const) {
      const engine = await createEngine({ models, longvu: threshold ? { dinoThreshold: threshold } : {} });
      try {
        engine.addStream({ id: 'clip', source: file });
        await engine.whenDone('clip');
        const c = engine.status('clip').counters;
        sampled = c.sampled;
        kept[name] = c.kept;
      } finally {
        await engine.close();
      }
    }
    rows.push({
      bench: 'gate',
      case: kind,
      sampledFrames: sampled,
      keptFrames: kept.starter!,
      keptShare: Number((kept.starter! / sampled).toFixed(3)),
      keptShareAt083: Number((kept.dinov2! / sampled).toFixed(3)),
      baseline: "the same clip at DINOv2's threshold (0.83), same run",
    });
  }
  return rows;
}

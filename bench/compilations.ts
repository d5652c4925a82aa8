/**
 * The accuracy benchmark's footage: compilations with hard cuts of Debian packages' photos and videos, each segment
 * exactly 25·s frames so the answer intervals are exact, with their questions; and the starter models it runs on.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const DATA = '/usr/share/doc/opencv-doc/examples/data';

/** A compilation: its segments ([file, seconds]; photos are held, videos play) from one Debian package's files. */
export interface Compilation {
  name: string;
  /** The Debian package the files come from, and where they are once unpacked. */
  package: string;
  dir: () => string;
  segments: [string, number][];
  /** Questions and the segments whose time on screen is the answer. */
  questions: [string, string[]][];
  /** Pictures with transparency (stamps): put on a grey background. */
  alpha?: boolean;
}

/** A Debian package's files, unpacked from `apt-get download` (no root) into .cache/bench/debs once. */
function debianDir(pkg: string, inside: string): string {
  const out = join(root, '.cache/bench/debs', pkg);
  if (!existsSync(join(out, inside))) {
    const tmp = `${out}.partial`;
    execFileSync('rm', ['-rf', tmp]);
    mkdirSync(tmp, { recursive: true });
    execFileSync('apt-get', ['download', pkg], { cwd: tmp, stdio: 'ignore' });
    const deb = readdirSync(tmp).find((f) => f.endsWith('.deb'))!;
    execFileSync('dpkg-deb', ['-x', join(tmp, deb), join(tmp, 'x')]);
    execFileSync('rm', ['-rf', out]);
    execFileSync('mv', [join(tmp, 'x'), out]);
    execFileSync('rm', ['-rf', tmp]);
  }
  return join(out, inside);
}

export const COMPILATIONS: Compilation[] = [
  {
    name: 'opencv-doc',
    package: 'opencv-doc',
    dir: () => DATA,
    segments: [
      ['fruits.jpg', 15],
      ['vtest.avi', 60],
      ['baboon.jpg', 15],
      ['building.jpg', 15],
      ['Megamind.avi', 11],
      ['squirrel_cls.jpg', 15],
      ['messi5.jpg', 15],
      ['tree.avi', 20],
      ['butterfly.jpg', 15],
      ['orange.jpg', 15],
      ['HappyFish.jpg', 15],
      ['baboon.jpg', 10],
    ],
    questions: [
      ['When is the monkey on screen?', ['baboon.jpg']],
      ['When do we see a squirrel?', ['squirrel_cls.jpg']],
      ['When is there a butterfly?', ['butterfly.jpg']],
      ['When are oranges shown?', ['fruits.jpg', 'orange.jpg']],
      ['When is a soccer ball visible?', ['messi5.jpg']],
      ['When do people walk along the street?', ['vtest.avi']],
      ['When is a fish on screen?', ['HappyFish.jpg']],
      ['When do we see a tall building?', ['building.jpg']],
      ['When do we see fruit?', ['fruits.jpg', 'orange.jpg']],
      ['When is there an animal?', ['baboon.jpg', 'squirrel_cls.jpg', 'butterfly.jpg', 'HappyFish.jpg']],
      ['When do we see a tree?', ['tree.avi']],
      ['When is a cartoon shown?', ['Megamind.avi', 'HappyFish.jpg']],
    ],
  },
  {
    // scikit-image's sample images (its data/README: public domain or CC0, NASA's, the project's own)
    name: 'scikit-image',
    package: 'python3-skimage',
    dir: () => debianDir('python3-skimage', 'usr/lib/python3/dist-packages/skimage/data'),
    segments: [
      ['astronaut.png', 15],
      ['chelsea.png', 15],
      ['coffee.png', 15],
      ['rocket.jpg', 15],
      ['motorcycle_left.png', 15],
      ['moon.png', 15],
      ['coins.png', 15],
      ['hubble_deep_field.jpg', 15],
      ['clock_motion.png', 15],
      ['camera.png', 15],
      ['horse.png', 15],
      ['chelsea.png', 10],
    ],
    questions: [
      ['When is the cat on screen?', ['chelsea.png']],
      ['When do we see a cup of coffee?', ['coffee.png']],
      ['When is a rocket launched?', ['rocket.jpg']],
      ['When is there a motorcycle?', ['motorcycle_left.png']],
      ['When is the moon shown?', ['moon.png']],
      ['When are coins shown?', ['coins.png']],
      ['When do we see galaxies in deep space?', ['hubble_deep_field.jpg']],
      ['When is a clock shown?', ['clock_motion.png']],
      ['When is there an astronaut?', ['astronaut.png']],
      ['When do we see a man with a camera?', ['camera.png']],
      ['When do we see a horse?', ['horse.png']],
      ['When is there an animal?', ['chelsea.png', 'horse.png']],
      ['When is there a person?', ['astronaut.png', 'camera.png']],
      ['When is a vehicle shown?', ['rocket.jpg', 'motorcycle_left.png']],
    ],
  },
  {
    // Tux Paint's photographic stamps (GPL-2), named by what they show: used here as footage, not redistributed
    name: 'tuxpaint-stamps',
    package: 'tuxpaint-stamps-default',
    dir: () => debianDir('tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps'),
    alpha: true,
    segments: [
      ['animals/mammals/elephant.png', 15],
      ['food/fruit/pineapple.png', 15],
      ['animals/mammals/equines/zebra.png', 15],
      ['food/vegetables/broccoli.png', 15],
      ['animals/birds/penguin.png', 15],
      ['food/pizza.png', 15],
      ['animals/mammals/cats/tiger.png', 15],
      ['food/fruit/banana.png', 15],
      ['animals/mammals/hedgehog.png', 15],
      ['food/vegetables/mushroom.png', 15],
      ['animals/mammals/camel/camel.png', 15],
      ['animals/insects/bee.png', 15],
    ],
    questions: [
      ['When is there an elephant?', ['animals/mammals/elephant.png']],
      ['When do we see a pineapple?', ['food/fruit/pineapple.png']],
      ['When is a zebra on screen?', ['animals/mammals/equines/zebra.png']],
      ['When is there broccoli?', ['food/vegetables/broccoli.png']],
      ['When do we see a penguin?', ['animals/birds/penguin.png']],
      ['When is a pizza shown?', ['food/pizza.png']],
      ['When is there a tiger?', ['animals/mammals/cats/tiger.png']],
      ['When do we see a banana?', ['food/fruit/banana.png']],
      ['When is a hedgehog on screen?', ['animals/mammals/hedgehog.png']],
      ['When are mushrooms shown?', ['food/vegetables/mushroom.png']],
      ['When do we see a camel?', ['animals/mammals/camel/camel.png']],
      ['When is there a bee?', ['animals/insects/bee.png']],
      ['When do we see fruit?', ['food/fruit/pineapple.png', 'food/fruit/banana.png']],
      ['When is there a bird?', ['animals/birds/penguin.png']],
    ],
  },
];

/** The compilation's video (built once) and each segment's answer intervals (ms). */
export function compilation(c: Compilation = COMPILATIONS[0]!): {
  file: string;
  truth: Map<string, [number, number][]>;
} {
  const out = join(root, `.cache/bench/compilation${c.name === 'opencv-doc' ? '' : `-${c.name}`}.mp4`);
  const truth = new Map<string, [number, number][]>();
  let t = 0;
  for (const [f, s] of c.segments) {
    const list = truth.get(f) ?? [];
    list.push([t * 1000, (t + s) * 1000]);
    truth.set(f, list);
    t += s;
  }
  encodeOnce(out, () => {
    const dir = c.dir();
    const inputs = c.segments.flatMap(([f, s]) =>
      f.endsWith('.avi')
        ? ['-t', String(s + 1), '-i', join(dir, f)]
        : ['-loop', '1', '-t', String(s + 1), '-i', join(dir, f)],
    );
    // exactly 25·s frames per segment, timestamps from 0: the answer intervals are exact
    // a stamp's transparency becomes grey (drawbox fills a copy, the stamp goes over it)
    const flatten = (i: number) =>
      c.alpha
        ? `format=rgba,split[a${i}][b${i}];[a${i}]drawbox=c=gray:t=fill[g${i}];[g${i}][b${i}]overlay,`
        : '';
    const chains = c.segments.map(
      ([, s], i) =>
        `[${i}:v]${flatten(i)}format=rgb24,scale=640:480:force_original_aspect_ratio=decrease,pad=640:480:(ow-iw)/2:(oh-ih)/2,setsar=1,fps=25,trim=end_frame=${25 * s},setpts=N/25/TB,format=yuv420p[v${i}]`,
    );
    const concat = `${c.segments.map((_, i) => `[v${i}]`).join('')}concat=n=${c.segments.length}:v=1:a=0[out]`;
    return [...inputs, '-filter_complex', `${chains.join(';')};${concat}`, '-map', '[out]', '-g', '50'];
  });
  return { file: out, truth };
}

/**
 * An H.264 file under .cache/bench made once by the ffmpeg CLI from `args()` (inputs and filters), written to a
 * temporary name and moved into place, so an interrupted run leaves no half file.
 */
export function encodeOnce(out: string, args: () => string[]): string {
  if (!existsSync(out)) {
    mkdirSync(dirname(out), { recursive: true });
    execFileSync('ffmpeg', [
      '-v',
      'error',
      '-y',
      ...args(),
      '-c:v',
      'libx264',
      '-pix_fmt',
      'yuv420p',
      `${out}.tmp.mp4`,
    ]);
    execFileSync('mv', [`${out}.tmp.mp4`, out]);
  }
  return out;
}

/** The starter set in .cache/models/starter (fetched on first use). */
export function starter(): string {
  const dir = join(root, '.cache/models/starter');
  execFileSync(
    process.execPath,
    [join(root, 'packages/cli/bin/lvu.js'), 'models', 'fetch', 'starter', '--dir', dir],
    {
      stdio: ['ignore', 'ignore', 'inherit'],
    },
  );
  return dir;
}

import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  createReadStream,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { LvuError } from '@lvu/core';

/**
 * The video `lvu replay` runs without a FILE: real footage, so that the first answer a new user sees is about
 * something. OpenCV's `vtest.avi` (a static camera over a pedestrian street, 795 frames of 768×576 at 10 fps) from
 * Debian's `opencv-doc` package — where the package is installed, in place; otherwise fetched once with the
 * package registry's ordinary client (`apt-get download`, no root needed), the one file taken out of the package,
 * checked against its pinned sha256 and kept in the cache with its source and licence. Where neither works (no
 * apt, offline), FFmpeg's generated test pattern, saying so.
 */
export const SAMPLE = {
  package: 'opencv-doc',
  member: './usr/share/doc/opencv-doc/examples/data/vtest.avi',
  sha256: '45cddc9490be69345cbdab64ca583be65987e864ca408038e648db99e10516cf',
  bytes: 8_131_690,
  licence: 'Apache-2.0 AND BSD-3-Clause',
  licenceSource: 'Debian opencv-doc /usr/share/doc/opencv-doc/copyright (OpenCV samples/data, "Files: *")',
  describe: "OpenCV's vtest.avi (a static camera over a pedestrian street, 79 s)",
} as const;

export const GENERATED_SAMPLE = 'lavfi:testsrc2=size=640x360:rate=25:duration=120';

/** Where the installed package keeps it; LVU_OPENCV_DOC names another data directory (tests point it away). */
export function installedSample(): string {
  return join(process.env.LVU_OPENCV_DOC ?? '/usr/share/doc/opencv-doc/examples/data', 'vtest.avi');
}

export function sampleCacheDir(): string {
  return join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'lvu', 'footage');
}

export interface SampleManifest {
  format: 'lvu-footage/1';
  file: string;
  sha256: string;
  bytes: number;
  source: string;
  licence: string;
  licenceSource: string;
  fetchedAt: string;
}

/** The fetched sample in `dir` when its manifest names the pinned file and the size matches; else null. */
export function cachedSample(dir = sampleCacheDir()): string | null {
  try {
    const m = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as SampleManifest;
    const file = join(dir, m.file);
    if (m.format !== 'lvu-footage/1' || m.sha256 !== SAMPLE.sha256 || !existsSync(file)) return null;
    return statSync(file).size === SAMPLE.bytes ? file : null;
  } catch {
    return null;
  }
}

function run(cmd: string, args: string[], cwd: string): Promise<{ code: number; err: string }> {
  return new Promise((done) => {
    const child = spawn(cmd, args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d) => {
      err += d;
    });
    child.once('error', (e) => done({ code: 127, err: e.message }));
    child.once('exit', (c) => done({ code: c ?? 1, err }));
  });
}

function sha256Of(file: string): Promise<string> {
  return new Promise((done, fail) => {
    const h = createHash('sha256');
    createReadStream(file)
      .on('data', (d) => h.update(d))
      .once('error', fail)
      .once('end', () => done(h.digest('hex')));
  });
}

/**
 * Fetches the sample into `dir` (idempotent): `apt-get download opencv-doc` into a scratch directory, the one
 * member extracted with `dpkg-deb --fsys-tarfile | tar -xO`, its sha256 checked, then renamed into place with a
 * manifest (source package and version, sha256, licence). FETCH_FAILED says what to do when it cannot.
 */
export async function fetchSample(
  dir = sampleCacheDir(),
  say: (line: string) => void = () => {},
): Promise<SampleManifest> {
  const have = cachedSample(dir);
  if (have) return JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as SampleManifest;
  mkdirSync(dir, { recursive: true });
  const scratch = mkdtempSync(join(tmpdir(), 'lvu-footage-'));
  try {
    say(`fetching ${SAMPLE.package} from the Debian archive with apt-get download (about 96 MB, once)`);
    const dl = await run('apt-get', ['download', SAMPLE.package], scratch);
    const deb = readdirSync(scratch).find((f) => f.startsWith(`${SAMPLE.package}_`) && f.endsWith('.deb'));
    if (dl.code !== 0 || !deb) {
      throw new LvuError(
        'FETCH_FAILED',
        `apt-get download ${SAMPLE.package} failed: ${dl.err.trim().split('\n').at(-1) ?? `exit ${dl.code}`}`,
        {
          field: 'sample',
          hint: 'on Debian/Ubuntu check `apt-get update` and the network; elsewhere pass a video file: lvu replay FILE',
        },
      );
    }
    const part = join(dir, 'vtest.avi.part');
    const x = await run(
      'sh',
      ['-c', `dpkg-deb --fsys-tarfile "$1" | tar -xO "$2" > "$3"`, 'sh', deb, SAMPLE.member, part],
      scratch,
    );
    const sha = x.code === 0 ? await sha256Of(part) : '';
    if (sha !== SAMPLE.sha256) {
      rmSync(part, { force: true });
      throw new LvuError(
        'FETCH_FAILED',
        x.code !== 0
          ? `could not take vtest.avi out of ${deb}: ${x.err.trim()}`
          : `vtest.avi in ${deb} has sha256 ${sha}, not the pinned ${SAMPLE.sha256}`,
        { field: 'sample', hint: 'pass a video file instead: lvu replay FILE' },
      );
    }
    renameSync(part, join(dir, 'vtest.avi'));
    const version = deb.slice(SAMPLE.package.length + 1, -'.deb'.length).replace(/_[^_]+$/, '');
    const manifest: SampleManifest = {
      format: 'lvu-footage/1',
      file: 'vtest.avi',
      sha256: SAMPLE.sha256,
      bytes: SAMPLE.bytes,
      source: `debian:${SAMPLE.package}=${decodeURIComponent(version)} ${SAMPLE.member.slice(1)}`,
      licence: SAMPLE.licence,
      licenceSource: SAMPLE.licenceSource,
      fetchedAt: new Date().toISOString(),
    };
    writeFileSync(join(dir, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
    return manifest;
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/**
 * The video and the line that names it for `lvu replay` without a FILE: installed, fetched before, fetched now
 * (`fetch`: on a person's terminal), else the generated pattern.
 */
export async function chooseSample(o: {
  fetch: boolean;
  say: (line: string) => void;
}): Promise<{ file: string; note: string }> {
  const installed = installedSample();
  if (existsSync(installed))
    return { file: installed, note: `the sample video: ${SAMPLE.describe}, from opencv-doc` };
  const cached = cachedSample();
  if (cached)
    return { file: cached, note: `the sample video: ${SAMPLE.describe}, fetched from Debian's opencv-doc` };
  if (o.fetch) {
    try {
      const m = await fetchSample(sampleCacheDir(), o.say);
      return {
        file: join(sampleCacheDir(), m.file),
        note: `the sample video: ${SAMPLE.describe}, fetched from Debian's opencv-doc`,
      };
    } catch (err) {
      o.say(
        `could not fetch the sample video (${err instanceof LvuError ? `${err.code}: ${err.message}` : err})`,
      );
    }
  }
  return {
    file: GENERATED_SAMPLE,
    note: `a generated test pattern, not real footage (${o.fetch ? 'pass a video file' : "`npx lvu models fetch footage` gets OpenCV's vtest.avi, or pass a video file"})`,
  };
}

import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from './support/paths.js';

/**
 * `lvu replay` without a FILE replays real footage on any Debian-like machine: opencv-doc's vtest.avi where the
 * package is installed, else fetched once from the Debian archive with `apt-get download` (the registry's ordinary
 * client), sha256 pinned, its source and licence in a manifest. These runs point LVU_OPENCV_DOC away from the
 * installed copy, so they see what a machine without opencv-doc sees.
 */
const LVU = resolve(repoRoot, 'packages/cli/bin/lvu.js');
const PINNED = '45cddc9490be69345cbdab64ca583be65987e864ca408038e648db99e10516cf';
const ABSENT = { LVU_OPENCV_DOC: '/nonexistent/opencv-doc' };

function lvu(args: string[], env: Record<string, string>) {
  return spawnSync(process.execPath, [LVU, ...args], {
    encoding: 'utf8',
    env: { ...process.env, ...env },
    timeout: 300_000,
  });
}

let cache = '';
beforeAll(() => {
  cache = mkdtempSync(join(tmpdir(), 'lvu-footage-cache-'));
}, 10_000);

describe('the sample video', () => {
  it('is fetched from Debian’s opencv-doc with apt-get download, checked against its pinned sha256, with source and licence; a rerun fetches nothing', () => {
    const r = lvu(['models', 'fetch', 'footage', '--json'], { ...ABSENT, XDG_CACHE_HOME: cache });
    expect(r.status, r.stderr).toBe(0);
    const m = JSON.parse(r.stdout.trim());
    const dir = join(cache, 'lvu', 'footage');
    expect(m).toMatchObject({ format: 'lvu-footage/1', file: 'vtest.avi', sha256: PINNED });
    expect(m.source).toMatch(
      /^debian:opencv-doc=\S+ \/usr\/share\/doc\/opencv-doc\/examples\/data\/vtest\.avi$/,
    );
    expect(m.licence).toBe('Apache-2.0 AND BSD-3-Clause');
    expect(
      createHash('sha256')
        .update(readFileSync(join(dir, 'vtest.avi')))
        .digest('hex'),
    ).toBe(PINNED);
    expect(JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'))).toEqual(m);
    // idempotent: the same manifest back (same fetchedAt), nothing downloaded
    const again = lvu(['models', 'fetch', 'footage', '--json'], { ...ABSENT, XDG_CACHE_HOME: cache });
    expect(again.status, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout.trim())).toEqual(m);
  }, 300_000);

  it('is what `lvu replay` runs without a FILE on a machine without opencv-doc, once fetched: real footage, 768×576 at 10 fps', () => {
    const r = lvu(['replay', '--models', 'builtin', '--json', '--max-frames', '40'], {
      ...ABSENT,
      XDG_CACHE_HOME: cache,
    });
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.source).toBe(join(cache, 'lvu', 'footage', 'vtest.avi'));
    // 79.5 s at the default 1 fps
    expect(out.replay.sampled).toBe(80);
    expect(out.frames).toBeGreaterThan(0);
    expect(out.totalTokens).toBeLessThanOrEqual(out.budgetTokens);
  }, 300_000);

  it('with no opencv-doc, nothing fetched and no terminal (a script): the generated pattern, saying so on stderr', () => {
    const empty = mkdtempSync(join(tmpdir(), 'lvu-footage-empty-'));
    const r = lvu(['replay', '--models', 'builtin', '--fps', '0.2'], { ...ABSENT, XDG_CACHE_HOME: empty });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toContain('a generated test pattern, not real footage');
    expect(r.stderr).toContain('npx lvu models fetch footage');
  }, 300_000);

  it('a cached copy whose size is not the pinned file’s is not used', () => {
    const bad = mkdtempSync(join(tmpdir(), 'lvu-footage-bad-'));
    const dir = join(bad, 'lvu', 'footage');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'vtest.avi'), 'not a video');
    writeFileSync(
      join(dir, 'manifest.json'),
      JSON.stringify({ format: 'lvu-footage/1', file: 'vtest.avi', sha256: PINNED, bytes: 11 }),
    );
    const r = lvu(['replay', '--models', 'builtin', '--json', '--fps', '0.2'], {
      ...ABSENT,
      XDG_CACHE_HOME: bad,
    });
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).source).toMatch(/^lavfi:/);
  }, 300_000);

  it('where apt-get cannot run, the fetch fails with FETCH_FAILED and what to do instead', () => {
    const empty = mkdtempSync(join(tmpdir(), 'lvu-footage-noapt-'));
    const r = lvu(['models', 'fetch', 'footage', '--dir', join(empty, 'f')], { PATH: '/nonexistent' });
    expect(r.status).not.toBe(0);
    const err = JSON.parse(r.stderr.trim().split('\n').at(-1)!);
    expect(err.error).toBe('FETCH_FAILED');
    expect(err.message).toContain('apt-get download opencv-doc failed');
    expect(err.hint).toContain('lvu replay FILE');
  }, 60_000);
});

import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { licencesPage } from '../tools/docs/licences.js';
import { makeSceneVideo } from './support/media.js';
import { repoRoot } from './support/paths.js';

/**
 * The CLI outside the monorepo: every workspace package packed with `npm pack`, the tarballs installed into an empty
 * directory with production dependencies only (from the npm registry, as a user would), and `lvu --version`, `lvu
 * replay` and `lvu serve` run there. Also: docs/licences.md lists what that install brings.
 */
let dir = '';
let lvu = '';

beforeAll(() => {
  const packs = mkdtempSync(join(tmpdir(), 'lvu-packs-'));
  execFileSync('npm', ['pack', '--workspaces', '--pack-destination', packs, '--silent'], {
    cwd: repoRoot,
    stdio: 'ignore',
  });
  dir = mkdtempSync(join(tmpdir(), 'lvu-installed-'));
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'a-user-project', private: true }));
  const tarballs = readdirSync(packs)
    .filter((f) => f.endsWith('.tgz'))
    .map((f) => join(packs, f));
  execFileSync('npm', ['install', '--omit=dev', '--no-audit', '--no-fund', ...tarballs], {
    cwd: dir,
    stdio: 'ignore',
    // onnxruntime-node's installer fetches CUDA libraries; lvu runs on its bundled CPU build
    env: { ...process.env, npm_config_onnxruntime_node_install: 'skip' },
  });
  lvu = join(dir, 'node_modules/.bin/lvu');
}, 600_000);

describe('the packed CLI in an empty directory', () => {
  it('installs with production dependencies only, and says its version', () => {
    const installed = readdirSync(join(dir, 'node_modules/@lvu')).sort();
    expect(installed).toEqual([
      'arrow',
      'cli',
      'compress',
      'core',
      'engine',
      'ffmpeg',
      'kafka',
      'models',
      'operators',
      'server',
      'worker',
    ]);
    const version = JSON.parse(readFileSync(resolve(repoRoot, 'packages/cli/package.json'), 'utf8')).version;
    expect(execFileSync(lvu, ['--version'], { cwd: dir, encoding: 'utf8' }).trim()).toBe(`lvu ${version}`);
    // nothing of the monorepo's development tools came along
    for (const dev of ['vitest', 'typescript', '@biomejs/biome', 'turbo'])
      expect(readdirSync(join(dir, 'node_modules')).includes(dev), dev).toBe(false);
  });

  it('lvu replay runs a file through the whole engine there', () => {
    const video = makeSceneVideo(20);
    const out = execFileSync(
      lvu,
      ['replay', video, '--models', 'builtin', '--json', '--query', 'When is it red?'],
      {
        cwd: dir,
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    const r = JSON.parse(out);
    expect(r.replay.sampled).toBe(20);
    expect(r.totalTokens).toBeLessThanOrEqual(r.budgetTokens);
    expect(r.evidence.topScored.length).toBeGreaterThan(0);
  }, 120_000);

  let serve: ReturnType<typeof spawn> | null = null;
  afterAll(() => serve?.kill('SIGKILL'));
  it('lvu serve answers over HTTP there', async () => {
    writeFileSync(
      join(dir, 'pipeline.yaml'),
      "server: {port: 0}\nstreams:\n  - {id: cam, source: 'lavfi:testsrc2=size=160x90:rate=5:duration=20'}\n",
    );
    serve = spawn(lvu, ['serve', '--config', 'pipeline.yaml'], {
      cwd: dir,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let log = '';
    serve.stdout!.on('data', (d) => (log += d));
    serve.stderr!.on('data', (d) => (log += d));
    for (let i = 0; i < 300 && !/serving http/.test(log); i++) await new Promise((r) => setTimeout(r, 100));
    const url = /serving (http:\/\/[^/\s]+)/.exec(log)?.[1];
    expect(url, log).toBeDefined();
    expect((await fetch(`${url}/readyz`)).status).toBe(200);
    const { streams } = (await (await fetch(`${url}/v1/streams`)).json()) as { streams: { id: string }[] };
    expect(streams.map((s) => s.id)).toEqual(['cam']);
    const exited = once(serve, 'exit');
    serve.kill('SIGTERM');
    expect((await exited)[0]).toBe(0);
    serve = null;
  }, 60_000);

  it('docs/licences.md lists the licence of every package that install brings, and of the weights lvu fetches', () => {
    expect(readFileSync(resolve(repoRoot, 'docs/licences.md'), 'utf8')).toBe(licencesPage());
    const page = licencesPage();
    for (const name of readdirSync(join(dir, 'node_modules')).filter(
      (n) => !n.startsWith('.') && !n.startsWith('@'),
    ))
      expect(page, name).toContain(`| \`${name}\` |`);
  });
});

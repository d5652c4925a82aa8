import { execFileSync, spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { repoRoot } from './support/paths.js';

const SUBCOMMANDS = ['replay', 'serve', 'query', 'worker', 'conformance', 'ingest', 'record', 'models'];

describe('the lvu command', () => {
  it('`lvu SUB --help` exits 0 and prints that subcommand’s usage, for every subcommand', () => {
    for (const sub of SUBCOMMANDS) {
      for (const flag of ['--help', '-h']) {
        const r = spawnSync(process.execPath, ['packages/cli/bin/lvu.js', sub, flag], {
          cwd: repoRoot,
          encoding: 'utf8',
        });
        expect(r.status, `${sub} ${flag}: ${r.stderr}`).toBe(0);
        expect(r.stdout).toContain(`lvu ${sub}`);
        expect(r.stderr).toBe('');
      }
    }
  });

  it('`npx lvu` prints nothing of npm’s on stderr (the .npmrc key onnxruntime needs stays)', () => {
    const r = spawnSync('npx', ['lvu', '--version'], { cwd: repoRoot, encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toMatch(/^lvu \d/);
    expect(r.stderr).toBe('');
    expect(
      execFileSync('npm', ['config', 'get', 'onnxruntime-node-install'], {
        cwd: repoRoot,
        encoding: 'utf8',
      }).trim(),
    ).toBe('skip');
  });
});

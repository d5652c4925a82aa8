import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { type GoldenCase, runConformanceCase } from '@lvu/cli';
import { describe, expect, it } from 'vitest';
import { compareGolden } from './support/compare-golden.js';
import { goldenDir as golden, repoRoot } from './support/paths.js';

const NOT_CASES = new Set(['index.json', 'primitives.json', 'mode_table_default_config.json']);
const caseFiles = readdirSync(golden).filter((f) => f.endsWith('.json') && !NOT_CASES.has(f));
const lvu = resolve(repoRoot, 'packages/cli/bin/lvu.js');

describe('lvu conformance on the public golden cases', () => {
  it('has the 11 cases listed in index.json', () => {
    const index = JSON.parse(readFileSync(join(golden, 'index.json'), 'utf8')) as { file: string }[];
    expect(caseFiles.sort()).toEqual(index.map((c) => c.file).sort());
  });

  for (const file of caseFiles) {
    it(file, () => {
      const gc = JSON.parse(readFileSync(join(golden, file), 'utf8')) as GoldenCase;
      expect(compareGolden(gc.expected!, runConformanceCase(gc))).toEqual([]);
      if ('visual_tokens' in gc.expected!) {
        expect(compareGolden(gc.expected!, runConformanceCase(gc, { tokens: true }))).toEqual([]);
      }
    });
  }

  it('the CLI prints one JSON object with the contract keys', () => {
    const out = execFileSync(
      process.execPath,
      [lvu, 'conformance', join(golden, 'realistic_16x9_unpad_mix.json')],
      {
        encoding: 'utf8',
      },
    );
    const lines = out.trim().split('\n');
    expect(lines).toHaveLength(1);
    const gc = JSON.parse(readFileSync(join(golden, 'realistic_16x9_unpad_mix.json'), 'utf8')) as GoldenCase;
    expect(compareGolden(gc.expected!, JSON.parse(lines[0]!))).toEqual([]);
  });
});

describe('lvu conformance on bad input', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lvu-conf-'));
  const run = (...args: string[]) => spawnSync(process.execPath, [lvu, ...args], { encoding: 'utf8' });
  const errorOf = (r: ReturnType<typeof run>) => JSON.parse(r.stderr.trim().split('\n').at(-1)!);

  it('a missing file is NOT_FOUND, exit 2', () => {
    const r = run('conformance', join(dir, 'nope.json'));
    expect(r.status).toBe(2);
    expect(errorOf(r)).toMatchObject({ error: 'NOT_FOUND', field: 'CASE' });
  });

  it('a non-JSON file is INVALID_ARGUMENT', () => {
    writeFileSync(join(dir, 'text.json'), 'hello');
    expect(errorOf(run('conformance', join(dir, 'text.json')))).toMatchObject({ error: 'INVALID_ARGUMENT' });
  });

  it('inconsistent shapes are SHAPE_MISMATCH naming the tensor', () => {
    const gc = JSON.parse(readFileSync(join(golden, 'short_clip_no_stc.json'), 'utf8')) as GoldenCase;
    gc.inputs.dino = gc.inputs.dino.slice(1);
    writeFileSync(join(dir, 'short.json'), JSON.stringify(gc));
    expect(errorOf(run('conformance', join(dir, 'short.json')))).toMatchObject({
      error: 'SHAPE_MISMATCH',
      field: 'inputs.dino',
    });
  });

  it('a missing input is named', () => {
    const gc = JSON.parse(readFileSync(join(golden, 'short_clip_no_stc.json'), 'utf8')) as GoldenCase;
    delete (gc.inputs as Partial<GoldenCase['inputs']>).newline;
    writeFileSync(join(dir, 'nonl.json'), JSON.stringify(gc));
    expect(errorOf(run('conformance', join(dir, 'nonl.json')))).toMatchObject({ field: 'inputs.newline' });
  });

  it('wrong usage and unknown commands exit 2 without a stack trace', () => {
    expect(run('conformance').status).toBe(2);
    for (const args of [
      ['replay', '--fps', '-3'],
      ['replay', '--budget=abc'],
      ['conformance', '--nope', 'x'],
    ]) {
      const r = run(...args);
      expect(r.status, args.join(' ')).toBe(2);
      expect(errorOf(r).error).toBe('INVALID_ARGUMENT');
      expect(r.stderr).not.toContain('    at ');
    }
    const r = run('frobnicate');
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('unknown command');
  });
});

describe('lvu conformance on edge inputs', () => {
  it('an empty video (T = 0) gives an empty, defined result', () => {
    const gc = JSON.parse(readFileSync(join(golden, 'short_clip_no_stc.json'), 'utf8')) as GoldenCase;
    gc.inputs.dino = [];
    gc.inputs.dino_shape = [0, gc.inputs.dino_shape[1], gc.inputs.dino_shape[2]];
    gc.inputs.sva = [];
    gc.inputs.sva_shape = [0, gc.inputs.sva_shape[1], gc.inputs.sva_shape[2], gc.inputs.sva_shape[3]];
    const out = runConformanceCase(gc) as Record<string, unknown>;
    expect(out).toMatchObject({
      select: { selected_frames: [], dino_applied: false },
      mode: { mode: 'high' },
      layout: [],
      final_visual_len: 0,
      visual_checksums: { sum: 0, sumsq: 0 },
    });
  });
});

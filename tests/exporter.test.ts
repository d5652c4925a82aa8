import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from './support/paths.js';
import { exportPython } from './support/served-models.js';

/**
 * The Python exporter (tools/export), in the virtualenv it needs (torch, transformers, onnx from the package index;
 * created here on first use, ~90 s).
 */
let python = '';
beforeAll(() => {
  python = exportPython();
}, 600_000);

describe('tools/export', () => {
  it('--from-hf: checkpoints laid out as downloads are exported unchanged (DINOv2, SigLIP, Qwen2 + tokenizer)', () => {
    const out = execFileSync(python, [resolve(repoRoot, 'tools/export/test_from_hf.py')], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    expect(JSON.parse(out.trim().split('\n').at(-1)!)).toMatchObject({
      ok: true,
      pretrained: ['dino', 'llm', 'siglip'],
    });
  }, 300_000);

  it("--from-longvu: LongVU key names at the released shapes load into lvu's SVA/projector; exported files compute LongVU's forward", () => {
    const out = execFileSync(python, [resolve(repoRoot, 'tools/export/test_from_longvu.py')], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    expect(JSON.parse(out.trim().split('\n').at(-1)!)).toMatchObject({ ok: true, publishedKeys: 90 });
  }, 300_000);

  it('--random --preset tiny reproduces the committed fixture (architectures, shapes, tokenizer)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'lvu-tiny-'));
    execFileSync(
      python,
      [resolve(repoRoot, 'tools/export/export.py'), '--random', '--preset', 'tiny', '--out', dir],
      {
        stdio: ['ignore', 'ignore', 'ignore'],
      },
    );
    const read = (d: string) => JSON.parse(readFileSync(join(d, 'manifest.json'), 'utf8'));
    const fresh = read(dir);
    const committed = read(resolve(repoRoot, 'tests/fixtures/models/tiny'));
    const shape = (m: { models: Record<string, { inputs: unknown; outputs: unknown; params: number }> }) =>
      Object.fromEntries(Object.entries(m.models).map(([k, v]) => [k, [v.inputs, v.outputs, v.params]]));
    expect(shape(fresh)).toEqual(shape(committed));
    expect(fresh.llm).toEqual(committed.llm);
    for (const [role, v] of Object.entries(fresh.models as Record<string, { maxAbsErrVsTorch: number }>)) {
      expect(v.maxAbsErrVsTorch, role).toBeLessThan(1e-4);
    }
    expect(readFileSync(join(dir, 'tokenizer.json'), 'utf8')).toBe(
      readFileSync(resolve(repoRoot, 'tests/fixtures/models/tiny/tokenizer.json'), 'utf8'),
    );
  }, 300_000);
});

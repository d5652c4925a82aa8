import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REFERENCE_PAGES } from '../tools/docs/reference.js';
import { repoRoot } from './support/paths.js';

/**
 * docs/reference is written from the code (tools/docs/reference.ts): the configuration page from the pipeline schema,
 * the HTTP API page from the OpenAPI document. A changed option or route without the page regenerated fails here.
 */
describe('docs/reference is the code’s', () => {
  for (const [file, render] of Object.entries(REFERENCE_PAGES)) {
    it(`${file} is current (regenerate: npx tsx --conditions=source tools/docs/reference.ts)`, async () => {
      expect(readFileSync(resolve(repoRoot, file), 'utf8')).toBe(await render());
    });
  }

  it('names every backend, model kit option and route a user configures', () => {
    const cfg = readFileSync(resolve(repoRoot, 'docs/reference/configuration.md'), 'utf8');
    for (const key of [
      'engine.prompt-embeds.url',
      'engine.openai.family',
      'engine.kserve.url',
      'streams[].source',
    ])
      expect(cfg).toContain(`\`${key}\``);
    const api = readFileSync(resolve(repoRoot, 'docs/reference/http-api.md'), 'utf8');
    expect(api).toContain('| POST | `/v1/streams/{id}/query` |');
  });
});

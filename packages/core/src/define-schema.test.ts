import { describe, expect, it } from 'vitest';
import { defineSchema, z } from './define-schema.js';

describe('defineSchema', () => {
  const s = defineSchema(
    'source',
    z.object({
      fps: z.number().positive().default(1).describe('sampling rate'),
      reconnect: z.object({ maxDelayMs: z.int().min(0).default(10_000) }).default({ maxDelayMs: 10_000 }),
    }),
  );

  it('fills defaults', () => {
    expect(s.defaults()).toEqual({ fps: 1, reconnect: { maxDelayMs: 10_000 } });
    expect(s.parse({ fps: 0.5 })).toEqual({ fps: 0.5, reconnect: { maxDelayMs: 10_000 } });
  });

  it('names the nested field that is wrong', () => {
    expect(() => s.parse({ reconnect: { maxDelayMs: -1 } })).toThrow(
      expect.objectContaining({ code: 'INVALID_CONFIG', field: 'reconnect.maxDelayMs' }),
    );
    expect(() => s.parse({ fps: 'fast' })).toThrow(/source: fps:/);
  });

  it('exports a JSON schema with the descriptions', () => {
    const j = s.jsonSchema() as { properties: { fps: { description: string } } };
    expect(j.properties.fps.description).toBe('sampling rate');
  });
});

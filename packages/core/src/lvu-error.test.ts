import { describe, expect, it } from 'vitest';
import { ERROR_CODES, LvuError } from './lvu-error.js';

describe('LvuError', () => {
  it('carries code, field, the code default retriable and a hint; serialises to JSON', () => {
    const e = new LvuError('SOURCE_TIMEOUT', 'camera did not answer', { field: 'url' });
    expect(e).toBeInstanceOf(Error);
    expect(e.retriable).toBe(true);
    expect(e.hint).toBe(ERROR_CODES.SOURCE_TIMEOUT.hint);
    expect(JSON.parse(JSON.stringify(e))).toEqual({
      error: 'SOURCE_TIMEOUT',
      message: 'camera did not answer',
      field: 'url',
      retriable: true,
      hint: ERROR_CODES.SOURCE_TIMEOUT.hint,
    });
    expect(new LvuError('SOURCE_TIMEOUT', 'x', { retriable: false }).retriable).toBe(false);
    expect(LvuError.is(e, 'SOURCE_TIMEOUT')).toBe(true);
    expect(LvuError.is(e, 'NOT_FOUND')).toBe(false);
    expect(LvuError.is(new Error('x'))).toBe(false);
  });

  it('every code has a hint', () => {
    for (const [code, v] of Object.entries(ERROR_CODES)) expect(v.hint.length, code).toBeGreaterThan(10);
  });
});

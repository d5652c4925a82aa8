import type { LongVuOptions } from './longvu-options.js';

/**
 * The two budgets of docs/longvu.md §0.
 * `textLenSelect` (P) is len(input_ids) including the one image placeholder; `textTokens` excludes it.
 */
export function frameBudgetTokens(o: LongVuOptions, textLenSelect: number): number {
  // A = Lctx − P − R: the budget of the frame-count tests (temporal-reduction gate, resolution mode).
  return o.contextTokens - textLenSelect - o.reserveTokens;
}

export function visualBudgetTokens(o: LongVuOptions, textTokens: number): number {
  // B = Lctx − R − (all text tokens): the budget of N_h, STC and the final cut. May be negative.
  return o.contextTokens - o.reserveTokens - textTokens;
}

/** Python's `a // b` for integers (floors towards −∞, like Math.floor). */
export function floorDiv(a: number, b: number): number {
  return Math.floor(a / b);
}

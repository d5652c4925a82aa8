import { floorDiv, frameBudgetTokens } from './budgets.js';
import type { LongVuOptions } from './longvu-options.js';

/**
 * docs/longvu.md §b, "Mode" (cambrian_arch.py L947-967). With mnf = max(1, A // 144) and mnf_low = max(1, A // 64):
 * T' < mnf → `high` (every frame 12×12); mnf ≤ T' ≤ mnf_low → `mix`; T' > mnf_low → `high_overflow` (the code asks
 * for low resolution, but the resize is skipped for 144 queries, so frames stay 12×12). The thresholds use 144/64
 * and ignore newline tokens and unpadding, exactly like the code.
 */
export type ResolutionModeName = 'high' | 'mix' | 'high_overflow';

export interface ResolutionMode {
  mode: ResolutionModeName;
  maxNumFrames: number;
  maxNumFramesLow: number;
}

export function resolutionMode(nFrames: number, textLenSelect: number, o: LongVuOptions): ResolutionMode {
  const a = frameBudgetTokens(o, textLenSelect);
  const maxNumFrames = Math.max(1, floorDiv(a, o.highGridSide * o.highGridSide));
  const maxNumFramesLow = Math.max(1, floorDiv(a, o.lowGridSide * o.lowGridSide));
  let mode: ResolutionModeName;
  if (!o.highres || nFrames < maxNumFrames) mode = 'high';
  else if (nFrames > maxNumFramesLow) mode = 'high_overflow';
  else mode = 'mix';
  return { mode, maxNumFrames, maxNumFramesLow };
}

import { EventBus, LvuError, type Registry } from '@lvu/core';
import type { ModelKit, ModelKitContext, OpenedModels } from './model-kit.js';
import { modelKits } from './model-kits.js';

/**
 * Opens `dir` (none: the built-in encoder) with the first kit that accepts it: what an engine runs on, and what an
 * edge with the models runs the write path with, no engine needed.
 */
export async function openModels(
  dir: string | undefined,
  ctx: Partial<ModelKitContext> = {},
  kits: Registry<ModelKit> = modelKits,
): Promise<OpenedModels> {
  const kit = kits.list().find((k) => k.accepts(dir, ctx));
  if (!kit) {
    throw new LvuError('INVALID_CONFIG', `no model kit opens ${dir ?? 'an empty model directory'}`, {
      field: 'models',
      hint: `kits: ${kits.names().join(', ')}`,
    });
  }
  return kit.open(dir, { events: ctx.events ?? new EventBus(), longvu: {}, ...ctx });
}

import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** The team's shared folder (golden cases, reference): beside the checkout, or LVU_SHARED. */
export function sharedDir(): string {
  const dir = process.env.LVU_SHARED ?? resolve(repoRoot, '../shared');
  if (!existsSync(resolve(dir, 'golden/index.json'))) {
    throw new Error(`shared/ not found at ${dir}: clone beside it or set LVU_SHARED`);
  }
  return dir;
}

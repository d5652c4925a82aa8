import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { repoRoot } from './paths.js';

/** `lvu models fetch SET --dir DIR --json` as a user runs it (the built CLI), with extra environment. */
export function fetchModels(set: 'starter' | 'detector', dir: string, env: Record<string, string> = {}) {
  return spawnSync(
    process.execPath,
    [resolve(repoRoot, 'packages/cli/bin/lvu.js'), 'models', 'fetch', set, '--dir', dir, '--json'],
    { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 900_000 },
  );
}

import { fileURLToPath } from 'node:url';

/**
 * Path of a worker script of this package. Workers run compiled JavaScript: next to this module in dist/, or from
 * the package's dist/ when this module runs as TypeScript source (tests, tsx).
 */
export function workerPath(name: string): string {
  return import.meta.url.endsWith('.ts')
    ? fileURLToPath(new URL(`../dist/${name}.js`, import.meta.url))
    : fileURLToPath(new URL(`./${name}.js`, import.meta.url));
}

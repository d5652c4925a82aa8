import { fileURLToPath } from 'node:url';

/**
 * Path of a worker script that sits next to the calling module. Workers run compiled JavaScript: the caller's
 * `import.meta.url` in dist/ gives `./NAME.js`; run as TypeScript source (tests, tsx) it gives `../dist/NAME.js`.
 */
export function workerPath(callerUrl: string, name: string): string {
  return callerUrl.endsWith('.ts')
    ? fileURLToPath(new URL(`../dist/${name}.js`, callerUrl))
    : fileURLToPath(new URL(`./${name}.js`, callerUrl));
}

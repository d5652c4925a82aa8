import { defineConfig } from 'vitest/config';

// Tests run on the TypeScript sources of every workspace package (the "source" export condition), never on dist/.
export default defineConfig({
  resolve: { conditions: ['source'] },
  ssr: { resolve: { conditions: ['source'], externalConditions: ['source'] } },
  test: {
    include: ['packages/*/src/**/*.test.ts', 'connectors/*/src/**/*.test.ts', 'tests/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 300_000,
    pool: 'forks',
    // the lvu commands the tests run use the built-in encoder unless a test says otherwise (a developer's fetched
    // starter set would change their results)
    env: { LVU_MODELS: 'builtin' },
    reporters: ['default', './tests/support/summary-reporter.ts'],
  },
});

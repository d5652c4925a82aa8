/**
 * Benchmark runner: `npm run bench -- NAME [--json] [--runs N]`. Each benchmark prints JSON lines (with --json) or
 * a readable table: the figures, the baseline each was compared with, medians and peak RSS.
 */
import { parseArgs } from 'node:util';

const benches: Record<string, () => Promise<{ run: (o: BenchOptions) => Promise<BenchRow[]> }>> = {
  accuracy: () => import('./accuracy.js'),
  compress: () => import('./compress.js'),
  engine: () => import('./engine.js'),
  gate: () => import('./gate.js'),
  ingest: () => import('./ingest.js'),
  kafka: () => import('./kafka.js'),
  load: () => import('./load.js'),
  models: () => import('./models.js'),
  served: () => import('./served.js'),
};

export interface BenchOptions {
  runs: number;
  quick: boolean;
}

export interface BenchRow {
  bench: string;
  case: string;
  [k: string]: unknown;
}

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: {
    json: { type: 'boolean', default: false },
    runs: { type: 'string', default: '5' },
    quick: { type: 'boolean', default: false },
  },
});
const name = positionals[0];
const load = name ? benches[name] : undefined;
if (!load) {
  process.stderr.write(
    `usage: npm run bench -- {${Object.keys(benches).join('|')}} [--json] [--runs N] [--quick]\n`,
  );
  process.exit(2);
}
const mod = await load();
const rows = await mod.run({ runs: Math.max(1, Number(values.runs)), quick: values.quick });
for (const r of rows) {
  if (values.json) process.stdout.write(`${JSON.stringify(r)}\n`);
  else
    process.stdout.write(
      `${r.case}\n${Object.entries(r)
        .filter(([k]) => k !== 'case' && k !== 'bench')
        .map(([k, v]) => `  ${k}: ${typeof v === 'object' ? JSON.stringify(v) : v}`)
        .join('\n')}\n`,
    );
}

import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { LvuError } from '@lvu/core';
import { readCase, runConformanceCase } from './conformance.js';
import { INGEST_USAGE, ingestCommand } from './ingest.js';
import { MODELS_USAGE, modelsCommand } from './models-command.js';
import { QUERY_USAGE, queryCommand } from './query-command.js';
import { RECORD_USAGE, recordCommand } from './record-command.js';
import { REPLAY_USAGE, replayCommand } from './replay-command.js';
import { SEARCH_USAGE, searchCommand } from './search-command.js';
import { SERVE_USAGE, serveCommand } from './serve-command.js';
import { WORKER_USAGE, workerCommand } from './worker-command.js';

const CONFORMANCE_USAGE = `lvu conformance CASE.json [--tokens]
        run LongVU's inference path on a golden case and print one JSON object with the keys of its
        \`expected\` (tests/golden/README.md); --tokens adds every visual token value`;

/** Each subcommand's usage: \`lvu SUB --help\` prints it and exits 0 (DESIGN.md's contract). */
const SUB_USAGE: Record<string, string> = {
  replay: REPLAY_USAGE,
  serve: SERVE_USAGE,
  query: QUERY_USAGE,
  search: SEARCH_USAGE,
  worker: WORKER_USAGE,
  conformance: CONFORMANCE_USAGE,
  ingest: INGEST_USAGE,
  record: RECORD_USAGE,
  models: MODELS_USAGE,
};

const USAGE = `lvu — long, live video understanding

Usage:
  ${REPLAY_USAGE}
  ${SERVE_USAGE}
  ${QUERY_USAGE}
  ${SEARCH_USAGE}
  ${WORKER_USAGE}
  ${CONFORMANCE_USAGE}
  ${INGEST_USAGE}
  ${RECORD_USAGE}
  ${MODELS_USAGE}
  lvu SUB --help | lvu --help | lvu --version

Errors are printed as JSON on stderr: {"error": CODE, "message", "field", "hint"}.`;

type Command = (args: string[]) => Promise<number>;

/** The version of the installed @lvu/cli package (its package.json, beside dist/). */
function cliVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}

const commands: Record<string, Command> = {
  ingest: ingestCommand,
  replay: replayCommand,
  serve: serveCommand,
  query: queryCommand,
  search: searchCommand,
  worker: workerCommand,
  record: recordCommand,
  models: modelsCommand,
  async conformance(args) {
    const { positionals, values } = parseArgs({
      args,
      allowPositionals: true,
      options: { tokens: { type: 'boolean', default: false } },
    });
    if (positionals.length !== 1) {
      throw new LvuError('INVALID_ARGUMENT', 'usage: lvu conformance CASE.json [--tokens]', {
        field: 'CASE',
      });
    }
    const out = runConformanceCase(await readCase(positionals[0]!), { tokens: values.tokens });
    process.stdout.write(`${JSON.stringify(out)}\n`);
    return 0;
  },
};

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (cmd === undefined || cmd === '--help' || cmd === '-h' || cmd === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return cmd === undefined ? 2 : 0;
  }
  if (cmd === '--version') {
    process.stdout.write(`lvu ${cliVersion()}\n`);
    return 0;
  }
  const run = commands[cmd];
  if (run && (rest.includes('--help') || rest.includes('-h'))) {
    process.stdout.write(`Usage:\n  ${SUB_USAGE[cmd]}\n`);
    return 0;
  }
  if (!run) {
    process.stderr.write(`lvu: unknown command "${cmd}"\n\n${USAGE}\n`);
    return 2;
  }
  try {
    return await run(rest);
  } catch (err) {
    if (err instanceof LvuError) {
      process.stderr.write(`${JSON.stringify(err.toJSON())}\n`);
      return 2;
    }
    if (err instanceof TypeError && 'code' in err && String(err.code).startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`${JSON.stringify({ error: 'INVALID_ARGUMENT', message: err.message })}\n`);
      return 2;
    }
    throw err;
  }
}

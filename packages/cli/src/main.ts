import { parseArgs } from 'node:util';
import { LvuError } from '@lvu/core';
import { readCase, runConformanceCase } from './conformance.js';

const USAGE = `lvu — long, live video understanding

Usage:
  lvu conformance CASE.json      run LongVU's inference path on a golden case, print one JSON object
  lvu --help | --version

Errors are printed as JSON on stderr: {"error": CODE, "message", "field", "hint"}.`;

type Command = (args: string[]) => Promise<number>;

const commands: Record<string, Command> = {
  async conformance(args) {
    const { positionals } = parseArgs({ args, allowPositionals: true, options: {} });
    if (positionals.length !== 1) {
      throw new LvuError('INVALID_ARGUMENT', 'usage: lvu conformance CASE.json', { field: 'CASE' });
    }
    const out = runConformanceCase(await readCase(positionals[0]!));
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
    process.stdout.write('lvu 0.1.0\n');
    return 0;
  }
  const run = commands[cmd];
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
    if (err instanceof TypeError && 'code' in err && err.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
      process.stderr.write(`${JSON.stringify({ error: 'INVALID_ARGUMENT', message: err.message })}\n`);
      return 2;
    }
    throw err;
  }
}

import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { commandLines, docPages, shellBlocks } from './support/doc-blocks.js';
import { LVU } from './support/lvu-serve.js';

/**
 * The `npx lvu …` commands of the README and docs/ are read out of their code blocks and checked against the real
 * command: the subcommand exists and every `--flag` they use is one its `--help` lists. A renamed or removed flag
 * breaks the build, not the reader. tests/docs-run.test.ts runs the blocks; this check covers every line, also those
 * the runner cannot reach (a GPU server, a user's checkpoint).
 */
function commandsOf(page: string): DocCommand[] {
  const out: DocCommand[] = [];
  for (const block of shellBlocks(page)) {
    for (const { line } of commandLines(block.code)) {
      for (const m of line.matchAll(/npx lvu ([a-z-]+)([^&|;]*)/g)) {
        const flags = [...m[2]!.matchAll(/(?:^|\s)(--[a-z][a-z0-9-]*)/g)].map((f) => f[1]!);
        out.push({ page, line, sub: m[1]!, flags });
      }
    }
  }
  return out;
}

interface DocCommand {
  page: string;
  line: string;
  sub: string;
  flags: string[];
}

const help = new Map<string, string>();
function usage(sub: string): string {
  if (!help.has(sub)) {
    // a global flag (`lvu --version`) is checked against `lvu --help`
    const args = sub.startsWith('--') ? ['--help'] : [sub, '--help'];
    const r = spawnSync(process.execPath, [LVU, ...args], { encoding: 'utf8' });
    help.set(sub, r.status === 0 ? r.stdout : '');
  }
  return help.get(sub)!;
}

describe('the lvu commands in the README and docs/', () => {
  const all = docPages().flatMap(commandsOf);

  it('there are commands to check on the pages a user reads first', () => {
    expect(all.filter((c) => c.page === 'README.md').length).toBeGreaterThan(8);
    expect(new Set(all.filter((c) => !c.sub.startsWith('--')).map((c) => c.sub))).toEqual(
      new Set(['replay', 'serve', 'query', 'search', 'ingest', 'worker', 'models', 'conformance', 'record']),
    );
  });

  it('name subcommands and flags the CLI has', () => {
    const wrong: string[] = [];
    for (const c of all) {
      const u = usage(c.sub);
      if (c.sub.startsWith('--')) {
        if (!u.includes(c.sub)) wrong.push(`${c.page}: lvu has no ${c.sub}: ${c.line}`);
        continue;
      }
      if (!u) {
        wrong.push(`${c.page}: lvu ${c.sub} is not a command: ${c.line}`);
        continue;
      }
      for (const f of c.flags) {
        if (f === '--help' || f === '--version') continue;
        if (!new RegExp(`${f}(?![a-z0-9-])`).test(u))
          wrong.push(`${c.page}: lvu ${c.sub} has no ${f}: ${c.line}`);
      }
    }
    expect(wrong).toEqual([]);
  }, 60_000);
});

import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LVU } from './support/lvu-serve.js';
import { repoRoot } from './support/paths.js';

/**
 * The `npx lvu …` commands of the README and docs/ are read out of their code blocks and checked against the real
 * command: the subcommand exists and every `--flag` they use is one its `--help` lists. A renamed or removed flag
 * breaks the build, not the reader. (Commands that reach cameras, brokers or GPU servers are not run here; the
 * tests of each part run their own.)
 */
const pages = [
  'README.md',
  ...readdirSync(resolve(repoRoot, 'docs'), { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
];

interface DocCommand {
  page: string;
  line: string;
  sub: string;
  flags: string[];
}

function commandsOf(page: string): DocCommand[] {
  const text = readFileSync(resolve(repoRoot, page), 'utf8');
  const out: DocCommand[] = [];
  for (const block of text.matchAll(/```(?:sh|bash)\n([\s\S]*?)```/g)) {
    // continuation lines joined; comments dropped
    const joined = block[1]!.replace(/\\\n\s*/g, ' ');
    for (const raw of joined.split('\n')) {
      const code = raw.replace(/\s+#.*$/, '');
      for (const m of code.matchAll(/npx lvu ([a-z-]+)([^&|;]*)/g)) {
        const flags = [...m[2]!.matchAll(/(?:^|\s)(--[a-z][a-z0-9-]*)/g)].map((f) => f[1]!);
        out.push({ page, line: raw.trim(), sub: m[1]!, flags });
      }
    }
  }
  return out;
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
  const all = pages.flatMap(commandsOf);

  it('there are commands to check on the pages a user reads first', () => {
    expect(all.filter((c) => c.page === 'README.md').length).toBeGreaterThan(8);
    expect(new Set(all.filter((c) => !c.sub.startsWith('--')).map((c) => c.sub))).toEqual(
      new Set(['replay', 'serve', 'query', 'ingest', 'worker', 'models', 'conformance', 'record']),
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

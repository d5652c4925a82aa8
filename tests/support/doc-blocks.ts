/**
 * The shell blocks of the README and docs/, read out of the Markdown with what the page says about running them.
 * Each ```sh block is preceded by a directive the docs tests obey (an HTML comment, invisible on the page):
 *
 *   <!-- docs-test: run -->                         run it as written (tests/docs-run.test.ts)
 *   <!-- docs-test: run; continues -->              run it in the shell of the page's previous block
 *   <!-- docs-test: run; camera; set A => B; until-stopped: TEXT; expect: REGEX -->
 *   <!-- docs-test: skip: REASON -->                not run here, and why (which test runs the same, or what it needs)
 *
 * `camera`: a local RTSP camera (gst-rtsp-server playing vtest.avi) stands at the LAN cameras' addresses the block
 * names; `set A => B`: a replacement written next to the block (a user's absolute path for the test's); `until-
 * stopped`: lines containing TEXT run until stopped (Ctrl-C's SIGINT after a few seconds), as a person would;
 * `expect`: the block's output must match.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { repoRoot } from './paths.js';

export interface DocBlock {
  page: string;
  /** 1-based line of the opening fence. */
  line: number;
  code: string;
  directive: Directive | null;
}

export type Directive =
  | { kind: 'skip'; reason: string }
  | {
      kind: 'run';
      continues: boolean;
      camera: boolean;
      set: [string, string][];
      untilStopped: string[];
      expect: RegExp[];
    };

export function docPages(): string[] {
  return [
    'README.md',
    ...readdirSync(resolve(repoRoot, 'docs'), { recursive: true, encoding: 'utf8' })
      .filter((f) => f.endsWith('.md'))
      .map((f) => `docs/${f}`)
      .sort(),
  ];
}

export function parseDirective(text: string): Directive {
  const parts = text.split(/;\s*/).map((p) => p.trim());
  if (parts[0]!.startsWith('skip:'))
    return { kind: 'skip', reason: text.slice(text.indexOf(':') + 1).trim() };
  if (parts[0] !== 'run') throw new Error(`docs-test directive must start with run or skip: ${text}`);
  const d: Directive = {
    kind: 'run',
    continues: false,
    camera: false,
    set: [],
    untilStopped: [],
    expect: [],
  };
  for (const p of parts.slice(1)) {
    if (p === 'continues') d.continues = true;
    else if (p === 'camera') d.camera = true;
    else if (p.startsWith('set ')) {
      const [a, b] = p.slice(4).split(' => ');
      if (!a || b === undefined) throw new Error(`set needs A => B: ${p}`);
      d.set.push([a, b]);
    } else if (p.startsWith('until-stopped:')) d.untilStopped.push(p.slice('until-stopped:'.length).trim());
    else if (p.startsWith('expect:')) d.expect.push(new RegExp(p.slice('expect:'.length).trim()));
    else throw new Error(`unknown docs-test directive part: ${p}`);
  }
  return d;
}

export function shellBlocks(page: string): DocBlock[] {
  const text = readFileSync(resolve(repoRoot, page), 'utf8');
  const out: DocBlock[] = [];
  for (const m of text.matchAll(/```(?:sh|bash)\n([\s\S]*?)```/g)) {
    const before = text.slice(0, m.index);
    const prev = before.trimEnd().split('\n').at(-1) ?? '';
    const d = /^<!-- docs-test: ([\s\S]*) -->$/.exec(prev.trim());
    out.push({
      page,
      line: before.split('\n').length,
      code: m[1]!,
      directive: d ? parseDirective(d[1]!) : null,
    });
  }
  return out;
}

/** Logical lines: continuations joined, blank and comment-only lines dropped, trailing comments kept apart. */
export function commandLines(code: string): { line: string; comment: string }[] {
  return code
    .replace(/\\\n\s*/g, ' ')
    .split('\n')
    .filter((l) => l.trim() && !l.trim().startsWith('#'))
    .map((l) => {
      const m = /^(.*?)\s+#\s.*$/.exec(l);
      return m
        ? { line: m[1]!.trim(), comment: l.slice(m[1]!.length).trim() }
        : { line: l.trim(), comment: '' };
    });
}

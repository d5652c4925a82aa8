import { realpathSync } from 'node:fs';
import { isAbsolute, relative, resolve } from 'node:path';
import { type SourcePolicy, sourceRefused } from '@lvu/core';
import { parseSource } from './source-url.js';

/**
 * The filters of an FFmpeg filter graph (`a=x=1:y=2,b;[in]c[out]`), names only: chains split at `,` and `;` that
 * are neither escaped (`\,`) nor quoted (`'…'`), link labels (`[x]`) and instance names (`@id`) removed.
 */
export function lavfiFilterNames(graph: string): string[] {
  const names: string[] = [];
  let cur = '';
  let quoted = false;
  const push = () => {
    const seg = cur.trim().replace(/^(\[[^\]]*\]\s*)+/, '');
    const name = /^([^=@[\s]*)/.exec(seg)![1]!;
    if (seg.length > 0 || names.length > 0) names.push(name);
    cur = '';
  };
  for (let i = 0; i < graph.length; i++) {
    const c = graph[i]!;
    if (c === '\\') {
      cur += c + (graph[i + 1] ?? '');
      i++;
    } else if (c === "'") {
      quoted = !quoted;
      cur += c;
    } else if (!quoted && c === '[') {
      const end = graph.indexOf(']', i);
      if (end < 0) {
        cur += graph.slice(i);
        break;
      }
      // a label at the start of a filter is dropped by push; at its end it is dropped here
      if (cur.trim() === '') cur += graph.slice(i, end + 1);
      i = end;
    } else if (!quoted && (c === ',' || c === ';')) push();
    else cur += c;
  }
  push();
  return names;
}

/** `child` lies in `dir` (or is it), both resolved. */
function inside(dir: string, child: string): boolean {
  const r = relative(dir, child);
  return r === '' || (!r.startsWith('..') && !isAbsolute(r));
}

/**
 * The FFmpeg source's part of a source policy (the engine checked the scheme and host): a file must resolve, links
 * followed, inside one of `fileDirs`; a `lavfi:` graph may use only `lavfiFilters`; `inputOptions` only the listed
 * keys.
 */
export function admitFfmpegSource(
  source: string,
  options: { inputOptions?: Record<string, string> },
  policy: SourcePolicy,
): void {
  for (const k of Object.keys(options.inputOptions ?? {})) {
    if (!policy.inputOptions.includes(k)) {
      throw sourceRefused(
        `the API may not set the FFmpeg input option "${k.slice(0, 40)}"`,
        `allowed: ${policy.inputOptions.join(', ')} (engine.sourcePolicy.inputOptions); or declare the stream in the pipeline YAML`,
        'inputOptions',
      );
    }
  }
  const p = parseSource(source);
  if (p.kind === 'lavfi') {
    const names = lavfiFilterNames(p.url);
    const bad = names.find((n) => !policy.lavfiFilters.includes(n));
    if (names.length === 0 || bad !== undefined) {
      throw sourceRefused(
        `the API may not use the lavfi filter "${(bad ?? '').slice(0, 40)}"`,
        `allowed: ${policy.lavfiFilters.join(', ')} (engine.sourcePolicy.lavfiFilters); filters that read or write files or open URLs are never needed for a test source`,
      );
    }
  } else if (p.kind === 'file') {
    // a path that does not exist is checked as written: refused alike, so the API does not learn which files exist
    const real = (x: string) => {
      try {
        return realpathSync(resolve(x));
      } catch {
        return resolve(x);
      }
    };
    const dirs = policy.fileDirs.map(real);
    const file = real(p.url);
    if (!dirs.some((d) => inside(d, file))) {
      throw sourceRefused(
        'the API may open files only inside engine.sourcePolicy.fileDirs',
        dirs.length
          ? `put the file under ${dirs.join(' or ')}, or add its directory to engine.sourcePolicy.fileDirs`
          : 'add the directory of your recordings to engine.sourcePolicy.fileDirs (and "file" to its schemes)',
      );
    }
  }
}

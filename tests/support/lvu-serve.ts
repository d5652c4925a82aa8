/**
 * The real `lvu serve` process for end-to-end tests: started with a pipeline YAML, asked over HTTP, stopped with a
 * signal (SIGTERM, SIGHUP, SIGKILL) like an operator or a crash would.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { repoRoot } from './paths.js';

export const LVU = resolve(repoRoot, 'packages/cli/bin/lvu.js');

export interface Served {
  proc: ChildProcess;
  url: string;
  log: () => string;
}

/** `lvu serve --config DIR/NAME.yaml` with `yaml`; resolves once it prints its URL. */
export async function serve(dir: string, name: string, yaml: string): Promise<Served> {
  const cfg = join(dir, `${name}.yaml`);
  writeFileSync(cfg, yaml);
  const proc = spawn('node', [LVU, 'serve', '--config', cfg], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (out += d));
  for (let i = 0; i < 300 && !out.includes('serving'); i++) {
    if (proc.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const url = /serving (http:\/\/[^/]+)\//.exec(out)?.[1];
  if (!url) {
    proc.kill('SIGKILL');
    throw new Error(`lvu serve did not start: ${out}`);
  }
  return { proc, url, log: () => out };
}

/** Sends `signal` and waits for the exit; its exit code (null when killed by the signal). */
export async function stop(s: Served, signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
  if (s.proc.exitCode !== null) return s.proc.exitCode;
  const exited = once(s.proc, 'exit');
  s.proc.kill(signal);
  const [code] = await exited;
  return code as number | null;
}

// biome-ignore lint/suspicious/noExplicitAny: JSON bodies of the API under test
export const get = async (url: string, headers: Record<string, string> = {}): Promise<any> =>
  (await fetch(url, { headers })).json();

export const post = (url: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });

/** Polls `f` every 100 ms until `ok` holds (or throws after `ms`). */
export async function until<T>(f: () => Promise<T>, ok: (v: T) => boolean, ms = 60_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (ok(v)) return v;
    if (Date.now() > end) throw new Error(`timed out waiting: ${JSON.stringify(v).slice(0, 500)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

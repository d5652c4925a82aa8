import { spawn } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commandLines, type DocBlock, docPages, shellBlocks } from './support/doc-blocks.js';
import { makeSceneVideo, makeVideo } from './support/media.js';
import { repoRoot } from './support/paths.js';
import { freePort, RtspServer } from './support/rtsp-server.js';

/**
 * The shell blocks of the README and docs/ are run, as a reader would paste them, in a scratch directory that looks
 * like a clone (pipelines/, tools/, tests/, node_modules/ …) with the files the pages name: session.mp4 and
 * video.mp4 (a generated scene), models/longvu (the tiny real-architecture model set). Every block carries a
 * directive (tests/support/doc-blocks.ts): run, or skip with the reason; a block without one fails this test.
 *
 * What the runner does that a reader would do by hand, and nothing more:
 * - `npm ci && ` is dropped (the suite runs after it);
 * - the ports the pages use (8080, 8081, 8082, 8554, 9092, 8000) become free ones, LVU_PORT the 8080 one, and the
 *   pipelines' state and spill directories go to the scratch directory;
 * - a server line (lvu serve or worker, lvu ingest from a camera, the RTSP camera, the Kafka broker, Triton) runs in
 *   the background, as in its own terminal; before a later line names its port the runner waits for it (for lvu: until every stream has frames);
 * - every foreground line must exit 0 (bash -e), within a timeout; curl gets --fail-with-body, so an HTTP error
 *   fails too;
 * - at the end of the block every process it started is stopped.
 */
const PAGE_PORTS = [8080, 8081, 8082, 8554, 9092, 8000];
const SERVER =
  /(lvu (serve|worker)|lvu ingest (rtsps?|https?|srt):|tools\/rtsp\/serve\.py|tools\/kafka\/start\.sh|tools\/triton\/serve\.py)/;

let scratch = '';
let camera: RtspServer | null = null;

beforeAll(async () => {
  scratch = mkdtempSync(join(tmpdir(), 'lvu-docs-run-'));
  for (const d of [
    'pipelines',
    'tools',
    'tests',
    'packages',
    'node_modules',
    'bench',
    '.venv',
    '.venv-triton',
    '.venv-detector',
  ])
    symlinkSync(resolve(repoRoot, d), join(scratch, d));
  for (const f of ['package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.base.json', 'turbo.json'])
    symlinkSync(resolve(repoRoot, f), join(scratch, f));
  // Kafka's jars come from the repository's cache; the broker's data stays in the scratch directory
  mkdirSync(join(scratch, '.cache/kafka'), { recursive: true });
  symlinkSync(resolve(repoRoot, '.cache/kafka/3.9.1'), join(scratch, '.cache/kafka/3.9.1'));
  cpSync(makeSceneVideo(40), join(scratch, 'video.mp4'));
  // a session long enough for the pages' "minutes 10–15" (5 fps keeps it small and quick to encode)
  const session = makeVideo({
    seconds: 960,
    encoder: 'libx264',
    container: 'mp4',
    gop: 50,
    source: 'smptebars=size=320x180:rate=5',
    filter:
      "drawbox=x='mod(t*37,280)':y=70:w=40:h=40:color=white:t=fill,drawbox=enable='between(t,620,680)':x=0:y=0:w=iw:h=ih:color=red:t=fill",
  });
  cpSync(session, join(scratch, 'session.mp4'));
  mkdirSync(join(scratch, 'models'));
  cpSync(resolve(repoRoot, 'tests/fixtures/models/tiny'), join(scratch, 'models/longvu'), {
    recursive: true,
  });
}, 300_000);

afterAll(async () => {
  await camera?.kill();
});

async function startCamera(): Promise<RtspServer> {
  if (!camera) {
    camera = new RtspServer(await freePort(), [
      '--file',
      '/usr/share/doc/opencv-doc/examples/data/vtest.avi',
    ]);
    await camera.start();
  }
  return camera;
}

/** The blocks a run covers: one block, and those after it on its page that continue its shell. */
function runs(): DocBlock[][] {
  const out: DocBlock[][] = [];
  for (const page of docPages()) {
    for (const b of shellBlocks(page)) {
      if (b.directive?.kind !== 'run') continue;
      const last = out.at(-1);
      if (b.directive.continues && last?.[0]?.page === page) last.push(b);
      else out.push([b]);
    }
  }
  return out;
}

/** `s` as one single-quoted shell word. */
const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * Waits until lvu on a port has frames: every stream it runs, or, for a line that asks about one stream, until that
 * stream answers there (a Kafka worker answers for a stream another worker owns from the owner's checkpoint, so it
 * may run no stream itself).
 */
const WAIT_LVU = `
const [port, timeoutS, stream] = process.argv.slice(1);
const base = 'http://127.0.0.1:' + port;
const end = Date.now() + Number(timeoutS) * 1000;
for (;;) {
  try {
    if (stream) {
      const r = await fetch(base + '/v1/streams/' + encodeURIComponent(stream) + '/query', {
        method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ question: 'ready?' }),
      });
      if (r.ok) process.exit(0);
    } else {
      const { streams } = await (await fetch(base + '/v1/streams')).json();
      if (streams.length > 0 && streams.every((s) => s.store.retainedFrames > 0)) process.exit(0);
    }
  } catch {}
  if (Date.now() > end) { console.error('lvu on port ' + port + ' has no frames' + (stream ? ' for ' + stream : '') + ' after ' + timeoutS + ' s'); process.exit(1); }
  await new Promise((r) => setTimeout(r, 250));
}`;

async function script(blocks: DocBlock[]): Promise<{ text: string; env: Record<string, string> }> {
  const ports = new Map<number, number>();
  for (const p of PAGE_PORTS) {
    let free = await freePort();
    // the Kafka broker's controller listens on --port + 1
    while (p === 9092 && [...ports.values()].includes(free + 1)) free = await freePort();
    ports.set(p, free);
  }
  const cam = blocks.some((b) => b.directive?.kind === 'run' && b.directive.camera)
    ? await startCamera()
    : null;
  const servers = new Map<number, 'lvu' | 'tcp'>();
  const waited = new Set<number>();
  const lines: string[] = [
    'set -e',
    `wait_tcp() { for i in $(seq 1 1200); do (exec 3<>/dev/tcp/127.0.0.1/$1) 2>/dev/null && return 0; sleep 0.1; done; echo "nothing listens on $1" >&2; return 1; }`,
    `wait_lvu() { wait_tcp $1 && node --input-type=module -e ${q(WAIT_LVU)} $1 120 $2; }`,
  ];
  for (const b of blocks) {
    const d = b.directive!;
    if (d.kind !== 'run') continue;
    let code = b.code;
    for (const [a, r] of d.set) code = code.split(a).join(r);
    if (cam) code = code.replace(/rtsp:\/\/(?:[^@\s]+@)?192\.168\.\d+\.\d+:554\/stream1/g, cam.url);
    code = code.replace(/\b(8080|8081|8082|8554|9092|8000)\b/g, (p) => String(ports.get(Number(p))));
    lines.push(`echo "## ${b.page}:${b.line}"`);
    for (let { line } of commandLines(code)) {
      line = line.replace(/^npm ci && /, '').replace(/\bcurl /g, 'curl --fail-with-body ');
      // wait for the servers this line talks to
      for (const m of line.matchAll(/127\.0\.0\.1:(\d+)/g)) {
        const port = Number(m[1]);
        if (servers.has(port) && !waited.has(port)) {
          const asked = new RegExp(`lvu query http://127\\.0\\.0\\.1:${port} ([A-Za-z0-9][\\w.-]*)`).exec(
            line,
          )?.[1];
          lines.push(
            servers.get(port) === 'lvu' ? `wait_lvu ${port}${asked ? ` ${asked}` : ''}` : `wait_tcp ${port}`,
          );
          waited.add(port);
        }
      }
      const stop = d.untilStopped.some((t) => line.includes(t));
      const server = SERVER.exec(line);
      if (server && !stop) {
        const own =
          /--(?:http-)?port (\d+)/.exec(line)?.[1] ??
          (line.includes('lvu serve') ? String(ports.get(8080)) : undefined);
        if (own) servers.set(Number(own), line.includes('lvu ') ? 'lvu' : 'tcp');
        lines.push(`echo ${q(`$ ${line}`)}`);
        lines.push(line.endsWith('&') ? line : `${line} &`);
        continue;
      }
      lines.push(`echo ${q(`$ ${line}`)}`);
      // a line that runs until stopped gets Ctrl-C's SIGINT after 8 s; its status is then 0, 124 or 130
      lines.push(
        stop
          ? `timeout -s INT 8 bash -c ${q(line)} || { rc=$?; [ $rc -eq 124 ] || [ $rc -eq 130 ]; }`
          : `timeout 300 bash -c ${q(line)}`,
      );
    }
  }
  const state = mkdtempSync(join(scratch, 'state-'));
  return {
    text: lines.join('\n'),
    env: {
      LVU_PORT: String(ports.get(8080)),
      LVU_STATE_DIR: join(state, 'state'),
      LVU_SPILL_DIR: join(state, 'spill'),
    },
  };
}

async function runScript(text: string, env: Record<string, string>): Promise<{ code: number; out: string }> {
  const child = spawn('bash', ['-c', text], {
    cwd: scratch,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let out = '';
  child.stdout!.on('data', (d) => {
    out = (out + d).slice(-40_000);
  });
  child.stderr!.on('data', (d) => {
    out = (out + d).slice(-40_000);
  });
  const code = await new Promise<number>((r) => child.once('exit', (c, s) => r(c ?? (s ? 128 : 1))));
  // every server the block started, and their children
  for (const sig of ['SIGTERM', 'SIGKILL'] as const) {
    try {
      process.kill(-child.pid!, sig);
    } catch {}
    if (sig === 'SIGTERM') await new Promise((r) => setTimeout(r, 3000));
  }
  return { code, out };
}

describe('the shell blocks of the README and docs/', () => {
  it('each says whether this test runs it, or why not', () => {
    const all = docPages().flatMap(shellBlocks);
    expect(all.length).toBeGreaterThan(15);
    expect(all.filter((b) => b.directive === null).map((b) => `${b.page}:${b.line}`)).toEqual([]);
    for (const b of all)
      if (b.directive?.kind === 'skip')
        expect(b.directive.reason.length, `${b.page}:${b.line}`).toBeGreaterThan(20);
    // the front door's blocks run, except the test command itself
    const readme = all.filter((b) => b.page === 'README.md');
    expect(readme.filter((b) => b.directive?.kind === 'run').length).toBeGreaterThanOrEqual(
      readme.length - 2,
    );
  });

  for (const blocks of runs()) {
    const first = blocks[0]!;
    it(`${first.page}:${first.line}${blocks.length > 1 ? ` (+${blocks.length - 1} continuing)` : ''} runs`, async () => {
      const { text, env } = await script(blocks);
      const { code, out } = await runScript(text, env);
      expect(code, out).toBe(0);
      for (const b of blocks)
        for (const re of b.directive?.kind === 'run' ? b.directive.expect : []) expect(out, out).toMatch(re);
    }, 600_000);
  }
});

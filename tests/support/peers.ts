/**
 * Processes nobody here wrote, started on 127.0.0.1 for the tests and controlled like the real thing: killed,
 * frozen with SIGSTOP and restarted — the ffmpeg CLI as a camera or a live HLS publisher, Python's static HTTP
 * server, npm's rtsp-streaming-server.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { repoRoot } from './paths.js';

export class Peer {
  proc: ChildProcess | null = null;
  log = '';
  startedAt = 0;
  /** Characters of output kept (the newest). */
  logLimit = 20_000;
  /** Signals go to its whole process group (a server that runs children, e.g. pytriton's tritonserver). */
  group = false;

  constructor(
    readonly command: string,
    readonly args: string[],
    /** Started when this appears in its output (or at once when undefined). */
    readonly ready?: string,
  ) {}

  async start(): Promise<void> {
    const proc = spawn(this.command, this.args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      cwd: repoRoot,
      detached: this.group,
    });
    this.proc = proc;
    this.log = '';
    const onData = (d: Buffer) => {
      this.log = (this.log + d).slice(-this.logLimit);
    };
    proc.stdout!.on('data', onData);
    proc.stderr!.on('data', onData);
    if (this.ready) {
      const end = Date.now() + 20_000;
      while (!this.log.includes(this.ready)) {
        if (proc.exitCode !== null) throw new Error(`${this.command} exited (${proc.exitCode}): ${this.log}`);
        if (Date.now() > end) throw new Error(`${this.command} did not start: ${this.log}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    this.startedAt = Date.now();
  }

  signal(sig: NodeJS.Signals): void {
    const p = this.proc;
    if (!p?.pid) return;
    if (this.group) {
      try {
        process.kill(-p.pid, sig);
      } catch {}
    } else p.kill(sig);
  }

  async kill(): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const exited = new Promise((r) => p.once('exit', r));
    this.signal('SIGCONT');
    this.signal('SIGKILL');
    await exited;
    this.proc = null;
  }
}

/** npm's rtsp-streaming-server (UDP only): clients on `clientPort`, a camera publishes to `publishPort`. */
export function rtspStreamingServer(clientPort: number, publishPort: number, rtpPort: number): Peer {
  return new Peer(
    process.execPath,
    [
      resolve(repoRoot, 'tools/rtsp/streaming-server.mjs'),
      '--client-port',
      String(clientPort),
      '--publish-port',
      String(publishPort),
      '--rtp-port',
      String(rtpPort),
    ],
    'READY',
  );
}

/** The ffmpeg CLI as a camera: a file looped at media speed, published over RTSP (ANNOUNCE/RECORD, UDP). */
export function ffmpegCamera(file: string, url: string): Peer {
  return new Peer('ffmpeg', [
    '-v',
    'error',
    '-re',
    '-stream_loop',
    '-1',
    '-i',
    file,
    '-c',
    'copy',
    '-f',
    'rtsp',
    '-rtsp_transport',
    'udp',
    url,
  ]);
}

/** The ffmpeg CLI's HLS muxer publishing a live playlist (1 s segments, a sliding list) into `dir`. */
export function ffmpegHlsPublisher(dir: string): Peer {
  return new Peer('ffmpeg', [
    '-v',
    'error',
    '-re',
    '-f',
    'lavfi',
    '-i',
    'testsrc2=size=320x240:rate=25',
    '-c:v',
    'libx264',
    '-preset',
    'ultrafast',
    '-g',
    '25',
    '-f',
    'hls',
    '-hls_time',
    '1',
    '-hls_list_size',
    '6',
    '-hls_flags',
    'delete_segments',
    resolve(dir, 'live.m3u8'),
  ]);
}

/** Python's static HTTP server over `dir`. */
export function staticHttpServer(dir: string, port: number): Peer {
  return new Peer(
    'python3',
    ['-u', '-m', 'http.server', '--bind', '127.0.0.1', String(port), '--directory', dir],
    'Serving HTTP',
  );
}

/** llama-cpp-python's OpenAI-compatible server (PyPI, `python -m llama_cpp.server`) serving a GGUF and its mmproj. */
export function llamaCppPython(
  python: string,
  model: string,
  mmproj: string,
  port: number,
  nCtx: number,
): Peer {
  return new Peer(
    python,
    ['-m', 'llama_cpp.server', '--model', model, '--clip_model_path', mmproj, '--chat_format', 'mtmd'].concat(
      ['--host', '127.0.0.1', '--port', String(port), '--n_ctx', String(nCtx), '--model_alias', 'tiny-vl'],
      ['--n_threads', '2', '--verbose', 'true'],
    ),
    'Uvicorn running on',
  );
}

/** llama.cpp's own C++ server (`llama-server`, built from the same PyPI source) with its prompt cache. */
export function llamaServer(bin: string, model: string, mmproj: string, port: number, nCtx: number): Peer {
  return new Peer(
    bin,
    [
      '-m',
      model,
      '--mmproj',
      mmproj,
      '--host',
      '127.0.0.1',
      '--port',
      String(port),
      '-c',
      String(nCtx),
    ].concat(['-a', 'tiny-vl', '-t', '2', '-np', '1', '--no-warmup']),
    'listening on http',
  );
}

/** Starts tools/rtsp/serve.py (gst-rtsp-server, Debian's python3-gi) on 127.0.0.1 and controls its process. */
import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { resolve } from 'node:path';
import { repoRoot } from './paths.js';

export async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => res(port));
    });
  });
}

export class RtspServer {
  readonly port: number;
  readonly args: string[];
  proc: ChildProcess | null = null;
  readyAt = 0;

  constructor(port: number, args: string[] = []) {
    this.port = port;
    this.args = args;
  }

  get url(): string {
    return `rtsp://127.0.0.1:${this.port}/stream`;
  }

  async start(): Promise<void> {
    const proc = spawn(
      '/usr/bin/python3',
      [resolve(repoRoot, 'tools/rtsp/serve.py'), '--port', String(this.port), ...this.args],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    this.proc = proc;
    let err = '';
    proc.stderr!.on('data', (d) => {
      err += String(d);
    });
    await new Promise<void>((res, rej) => {
      const t = setTimeout(() => rej(new Error(`RTSP server did not start: ${err}`)), 15_000);
      proc.stdout!.on('data', (d) => {
        if (String(d).includes('READY')) {
          clearTimeout(t);
          res();
        }
      });
      proc.once('exit', (code) => {
        clearTimeout(t);
        rej(new Error(`RTSP server exited (${code}): ${err}`));
      });
    });
    this.readyAt = Date.now();
  }

  signal(sig: NodeJS.Signals): void {
    this.proc?.kill(sig);
  }

  async kill(): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null) return;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill('SIGCONT');
    p.kill('SIGKILL');
    await exited;
    this.proc = null;
  }
}

import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { repoRoot } from './paths.js';
import { freePort } from './rtsp-server.js';

/** A real single-node Apache Kafka broker (KRaft) on 127.0.0.1, started by tools/kafka/start.sh. */
export class KafkaBroker {
  port = 0;
  controllerPort = 0;
  readonly dir = mkdtempSync(join(tmpdir(), 'lvu-kafka-'));
  proc: ChildProcess | null = null;
  log = '';

  get brokers(): string[] {
    return [`127.0.0.1:${this.port}`];
  }

  /** Resolves the jars once (Maven Central, cached in .cache/kafka). */
  static fetch(): void {
    execFileSync(resolve(repoRoot, 'tools/kafka/fetch.sh'), { stdio: ['ignore', 'ignore', 'inherit'] });
  }

  async start(): Promise<void> {
    if (!this.port) {
      this.port = await freePort();
      this.controllerPort = await freePort();
    }
    const proc = spawn(
      resolve(repoRoot, 'tools/kafka/start.sh'),
      ['--port', String(this.port), '--controller-port', String(this.controllerPort), '--dir', this.dir],
      { stdio: ['ignore', 'pipe', 'pipe'], detached: true },
    );
    this.proc = proc;
    proc.stdout!.on('data', (d) => {
      this.log = (this.log + d).slice(-20_000);
    });
    proc.stderr!.on('data', (d) => {
      this.log = (this.log + d).slice(-20_000);
    });
    const end = Date.now() + 60_000;
    while (!this.log.includes('Transition from STARTING to STARTED')) {
      if (proc.exitCode !== null) throw new Error(`Kafka exited (${proc.exitCode}): ${this.log}`);
      if (Date.now() > end) throw new Error(`Kafka did not start: ${this.log}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    await new Promise<void>((res, rej) => {
      const s = connect(this.port, '127.0.0.1', () => {
        s.end();
        res();
      });
      s.on('error', rej);
    });
  }

  /** SIGKILL (a crash), waiting for the JVM to be gone. */
  async kill(): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null) return;
    const exited = new Promise((r) => p.once('exit', r));
    process.kill(-p.pid!, 'SIGKILL');
    await exited;
    this.proc = null;
    this.log = '';
  }
}

/** One-line progress display on a TTY (stderr): a bar for finite work, a counter for live streams. */
export class ProgressLine {
  readonly #out: NodeJS.WriteStream;
  #last = 0;
  #shown = false;

  constructor(out: NodeJS.WriteStream = process.stderr) {
    this.#out = out;
  }

  /** Redraws at most every 100 ms unless forced. */
  update(text: string, force = false): void {
    const now = Date.now();
    if (!force && now - this.#last < 100) return;
    this.#last = now;
    const width = this.#out.columns ?? 100;
    this.#out.write(`\r${text.slice(0, width - 1).padEnd(Math.min(width - 1, text.length + 2))}`);
    this.#shown = true;
  }

  done(): void {
    if (this.#shown) this.#out.write('\n');
    this.#shown = false;
  }
}

export function bar(fraction: number, width = 30): string {
  const f = Math.max(0, Math.min(1, fraction));
  const full = Math.round(f * width);
  return `${'█'.repeat(full)}${'░'.repeat(width - full)}`;
}

export { formatClock as clock } from '@lvu/core';

/**
 * For long-running commands (`serve`, `worker`): redraws `status()` every second on a TTY (live counters) until
 * SIGINT or SIGTERM, then returns so the caller can shut down cleanly.
 */
export async function runUntilSignal(status: () => string): Promise<void> {
  const progress = process.stderr.isTTY ? new ProgressLine() : null;
  const timer = setInterval(() => progress?.update(status()), 1000);
  // a closed terminal (SIGHUP) is a shutdown like SIGTERM: saved, not cut off; writing to it may fail then
  process.stderr.on('error', () => {});
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
    process.once('SIGHUP', resolve);
  });
  clearInterval(timer);
  progress?.done();
}

/** One stderr line per failed attempt to reach a service (`lvu worker`, `lvu ingest --to` waiting for Kafka). */
export function waitingLine(attempt: number, delayMs: number, err: { message: string }): void {
  process.stderr.write(
    `${new Date().toISOString()} waiting: ${err.message} (attempt ${attempt}, again in ${(delayMs / 1000).toFixed(1)} s)\n`,
  );
}

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

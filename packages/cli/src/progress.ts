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

export function clock(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  const mm = String(m).padStart(2, '0');
  const ss = String(sec).padStart(2, '0');
  return h > 0 ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
}

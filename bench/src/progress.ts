/**
 * Progress on stderr while the bench runs: the scenario and how far it is. On a terminal one
 * line is rewritten in place; otherwise a line at most every two seconds.
 */
export class Progress {
  private readonly tty = Boolean(process.stderr.isTTY);
  private last = 0;
  private scenario = '';
  private readonly started = Date.now();

  constructor(private readonly quiet = false) {}

  private stamp(): string {
    const s = Math.round((Date.now() - this.started) / 1000);
    return `${String(Math.floor(s / 60)).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`;
  }

  /** A new scenario begins. */
  begin(name: string): void {
    this.scenario = name;
    if (this.quiet) return;
    if (this.tty) process.stderr.write('\r\x1b[2K');
    process.stderr.write(`[${this.stamp()}] ${name}\n`);
    this.last = 0;
  }

  /** How far the current scenario is; throttled. */
  update(text: string, force = false): void {
    if (this.quiet) return;
    const t = Date.now();
    if (!force && t - this.last < (this.tty ? 150 : 2000)) return;
    this.last = t;
    const line = `[${this.stamp()}]   ${this.scenario}: ${text}`;
    if (this.tty) process.stderr.write(`\r\x1b[2K${line.slice(0, (process.stderr.columns || 120) - 1)}`);
    else process.stderr.write(`${line}\n`);
  }

  /** Clear the in-place line before printing something else. */
  clear(): void {
    if (this.tty && !this.quiet) process.stderr.write('\r\x1b[2K');
  }
}

/** "12,345 / 100,000 (12%)". */
export function fraction(done: number, total: number): string {
  const pct = total > 0 ? Math.floor((100 * done) / total) : 100;
  return `${done.toLocaleString('en-US')} / ${total.toLocaleString('en-US')} (${pct}%)`;
}

/**
 * One line per phase on stderr. On a terminal the current phase's line shows a live elapsed time and is
 * rewritten in place when it ends; elsewhere (CI logs) each phase prints one line when it ends.
 */
export class Progress {
  private current?: { name: string; started: number; timer?: NodeJS.Timeout };
  readonly phases: Array<{ name: string; ms: number }> = [];
  private readonly tty: boolean;

  constructor(
    private readonly out: NodeJS.WriteStream = process.stderr,
    private readonly quiet = false,
  ) {
    this.tty = Boolean(out.isTTY) && !quiet;
  }

  start(name: string): void {
    this.end();
    const started = performance.now();
    this.current = { name, started };
    if (this.tty) {
      const draw = () => this.out.write(`\r\x1b[2K  … ${name} ${((performance.now() - started) / 1000).toFixed(1)}s`);
      draw();
      this.current.timer = setInterval(draw, 200);
      this.current.timer.unref();
    }
  }

  /** Ends the current phase, with an optional note ("leader n2", "2 faults"). */
  end(note?: string, failed = false): void {
    const c = this.current;
    if (!c) return;
    this.current = undefined;
    if (c.timer) clearInterval(c.timer);
    const ms = performance.now() - c.started;
    this.phases.push({ name: c.name, ms: Math.round(ms) });
    if (this.quiet) return;
    const mark = failed ? "✗" : "✓";
    const line = `  ${mark} ${c.name.padEnd(28)} ${(ms / 1000).toFixed(1).padStart(6)}s${note ? `  ${note}` : ""}`;
    this.out.write(this.tty ? `\r\x1b[2K${line}\n` : `${line}\n`);
  }

  line(text: string): void {
    if (this.quiet) return;
    this.out.write(this.tty ? `\r\x1b[2K${text}\n` : `${text}\n`);
  }
}

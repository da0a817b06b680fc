/**
 * Recent log lines kept in memory so "Show Agent Log" can show one agent's history without a file
 * per agent. Bounded: a chatty agent cannot grow the extension host's memory.
 */
export class RecentLog {
  private readonly lines: string[] = [];

  constructor(private readonly capacity = 5000) {}

  add(line: string): void {
    this.lines.push(line);
    if (this.lines.length > this.capacity) this.lines.splice(0, this.lines.length - this.capacity);
  }

  /** Whether one of the last `within` lines says `text` already: an error is logged once, not once per layer it passes. */
  saidRecently(text: string, within = 50): boolean {
    return this.lines.slice(-within).some((line) => line.includes(text));
  }

  linesAbout(needle: string): string[] {
    return this.lines.filter((line) => line.includes(needle));
  }
}

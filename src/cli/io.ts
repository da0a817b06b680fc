import { ExitCode } from './exitCodes';

/** Where the CLI writes, and how it fails: every failure carries an exit code and says what to do. */
export interface CliIo {
  out(text: string): void;
  err(text: string): void;
  /** stdout is a terminal: redraw in place, colour allowed. */
  readonly isTty: boolean;
}

// Kept for the commands written before the exit-code table; new code uses ExitCode from ./exitCodes.
export const EXIT_OK = ExitCode.ok;
export const EXIT_FAILURE = ExitCode.failure;
export const EXIT_USAGE = ExitCode.usage;

export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = ExitCode.failure,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

export function processIo(): CliIo {
  return {
    out: (text) => void process.stdout.write(text),
    err: (text) => void process.stderr.write(text),
    isTty: process.stdout.isTTY === true,
  };
}

/** Left-aligned columns for terminal tables. */
export function table(rows: string[][]): string {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows.map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ')).join('\n') + '\n';
}

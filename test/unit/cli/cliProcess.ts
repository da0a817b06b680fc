import { execFile, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

export const CLI = join(__dirname, '..', '..', '..', 'dist', 'cli.js');

export function assertBuilt(): void {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run "npm run build" first (npm run test:unit does).`);
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the built binary to completion. */
export function runBuiltCli(args: string[], timeoutMs = 15_000): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { timeout: timeoutMs }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** A long-running CLI command (watch, serve) whose output the test reads line by line. */
export class RunningCli {
  readonly child: ChildProcessWithoutNullStreams;
  private stdout = '';
  private readonly waiters: Array<() => void> = [];

  constructor(args: string[]) {
    this.child = spawn(process.execPath, [CLI, ...args]);
    this.child.stdout.setEncoding('utf8');
    this.child.stdout.on('data', (chunk: string) => {
      this.stdout += chunk;
      for (const wake of this.waiters.splice(0)) wake();
    });
  }

  get output(): string {
    return this.stdout;
  }

  /** Resolves with the first output line (after `fromLine`) that matches. */
  async waitForLine(pattern: RegExp, fromLine = 0, timeoutMs = 10_000): Promise<{ line: string; index: number }> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const lines = this.stdout.split('\n');
      for (let i = fromLine; i < lines.length - 1; i++) if (pattern.test(lines[i]!)) return { line: lines[i]!, index: i };
      const left = deadline - Date.now();
      if (left <= 0 || this.child.exitCode !== null) throw new Error(`no line matching ${pattern} in:\n${this.stdout}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  stop(signal: NodeJS.Signals = 'SIGINT'): Promise<number | null> {
    return new Promise((resolve) => {
      if (this.child.exitCode !== null) return resolve(this.child.exitCode);
      this.child.once('exit', (code) => resolve(code));
      this.child.kill(signal);
    });
  }
}

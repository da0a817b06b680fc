import { spawn, type ChildProcess } from 'node:child_process';
import { Emitter, waitForEvent } from '../../src/core/common/event';
import { ACTOR_ENTRY, bundleEntry } from './bundle';

export interface ActorLine {
  event: string;
  [key: string]: unknown;
}

/** A real child process running test/chaos/actor.ts; its JSON lines arrive as events. */
export class Actor {
  private readonly lineEmitter = new Emitter<ActorLine>();
  readonly lines: ActorLine[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  readonly onLine = this.lineEmitter.event;

  private constructor(readonly child: ChildProcess) {
    let buffer = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      buffer += chunk.toString('utf8');
      for (let newline = buffer.indexOf('\n'); newline >= 0; newline = buffer.indexOf('\n')) {
        const text = buffer.slice(0, newline);
        buffer = buffer.slice(newline + 1);
        try {
          const line = JSON.parse(text) as ActorLine;
          this.lines.push(line);
          this.lineEmitter.fire(line);
        } catch {
          // Not one of ours (a stray console line): ignore.
        }
      }
    });
    this.exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  }

  /** Any child whose stdout speaks the same JSON lines (e.g. test/fixtures/etcdHolder.ts). */
  static wrap(child: ChildProcess): Actor {
    return new Actor(child);
  }

  static async start(role: string, args: string[]): Promise<Actor> {
    const script = await bundleEntry(ACTOR_ENTRY);
    return new Actor(spawn(process.execPath, [script, role, ...args], { stdio: ['ignore', 'pipe', 'inherit'] }));
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** Resolves with the first line (already seen or future) matching `event`. */
  waitFor(event: string, timeoutMs = 15_000): Promise<ActorLine> {
    const seen = this.lines.find((line) => line.event === event);
    if (seen) return Promise.resolve(seen);
    return waitForEvent(this.onLine, (line) => line.event === event || line.event === 'error' || line.event === 'crash', timeoutMs).then(
      (line) => {
        if (line.event !== event) throw new Error(`actor ${this.pid} failed: ${JSON.stringify(line)}`);
        return line;
      },
    );
  }

  kill(signal: NodeJS.Signals = 'SIGKILL'): void {
    try {
      this.child.kill(signal);
    } catch {
      // Already gone.
    }
  }
}


import type { AgentStreamEvent } from '../agents/adapter';
import type { Clock, TimerHandle } from '../common/clock';

/**
 * "waiting for claude's first output · 25 s": what every surface shows from the moment a turn
 * starts until its agent's first event, so a person can tell a slow agent from a dead network.
 * The core keeps the state and the text; the CLI (on a terminal) and the VS Code progress
 * notification and chat only display it.
 */
export interface FirstOutputWait {
  profile: string;
  /** Since the turn started (the run was asked for), in ms. */
  elapsedMs: number;
}

export function describeFirstOutputWait(wait: FirstOutputWait): string {
  return `waiting for ${wait.profile}'s first output · ${Math.floor(wait.elapsedMs / 1000)} s`;
}

/** Calls `onWaiting` now, then every `intervalMs`, until `onEvent` sees the first event or `dispose()`; then once with undefined. */
export class FirstOutputWatch {
  private readonly startedAt: number;
  private timer: TimerHandle | undefined;
  private done = false;

  constructor(
    private readonly clock: Clock,
    private readonly profile: string,
    private readonly onWaiting: (wait: FirstOutputWait | undefined) => void,
    private readonly intervalMs = 1000,
    /** Monotonic ms the turn was asked for, when that was before the watch could start (a conversation's lease). */
    startedAt = clock.monotonicNow(),
  ) {
    this.startedAt = startedAt;
    this.tick();
  }

  /** Wraps a turn's event listener: the first event ends the wait. */
  wrap(onEvent: ((event: AgentStreamEvent) => void) | undefined): (event: AgentStreamEvent) => void {
    return (event) => {
      this.dispose();
      onEvent?.(event);
    };
  }

  /** Takes the line away for a moment (another line is about to be printed); redraw() brings it back. */
  clear(): void {
    if (!this.done) this.onWaiting(undefined);
  }

  redraw(): void {
    if (!this.done) this.onWaiting(this.current());
  }

  dispose(): void {
    if (this.done) return;
    this.done = true;
    if (this.timer) this.clock.clearTimeout(this.timer);
    this.onWaiting(undefined);
  }

  private current(): FirstOutputWait {
    return { profile: this.profile, elapsedMs: this.clock.monotonicNow() - this.startedAt };
  }

  private tick(): void {
    if (this.done) return;
    this.onWaiting(this.current());
    this.timer = this.clock.setTimeout(() => this.tick(), this.intervalMs);
    this.timer.unref?.();
  }
}

import type { Clock, TimerHandle } from '../../../src/core/common/clock';

interface Pending {
  at: number;
  seq: number;
  callback: () => void;
}

/** A clock that moves only when the test says so; timers fire in due order during advance(). */
export class ManualClock implements Clock {
  private now = 1_000;
  private seq = 0;
  private readonly pending = new Set<Pending>();

  wallNow(): number {
    return 1_700_000_000_000 + this.now;
  }

  monotonicNow(): number {
    return this.now;
  }

  setTimeout(callback: () => void, ms: number): TimerHandle {
    const timer: Pending = { at: this.now + Math.max(0, ms), seq: this.seq++, callback };
    this.pending.add(timer);
    return timer as unknown as TimerHandle;
  }

  clearTimeout(handle: TimerHandle): void {
    this.pending.delete(handle as unknown as Pending);
  }

  get pendingDelays(): number[] {
    return [...this.pending].map((timer) => timer.at - this.now).sort((a, b) => a - b);
  }

  /** Moves time forward, firing every timer that comes due (including ones scheduled meanwhile). */
  advance(ms: number): void {
    const target = this.now + ms;
    for (;;) {
      let next: Pending | undefined;
      for (const timer of this.pending) if (timer.at <= target && (!next || timer.at < next.at || (timer.at === next.at && timer.seq < next.seq))) next = timer;
      if (!next) break;
      this.pending.delete(next);
      this.now = next.at;
      next.callback();
    }
    this.now = target;
  }
}

import type { Clock, TimerHandle } from '../../../src/core/common/clock';

/** A clock the test moves by hand; timers fire in order when `advance` passes their due time. */
export class ManualClock implements Clock {
  private now = 0;
  private wall = 1_700_000_000_000;
  private nextId = 1;
  private readonly timers = new Map<number, { due: number; callback: () => void }>();

  wallNow(): number {
    return this.wall + this.now;
  }

  monotonicNow(): number {
    return this.now;
  }

  setTimeout(callback: () => void, ms: number): TimerHandle {
    const id = this.nextId++;
    this.timers.set(id, { due: this.now + Math.max(0, ms), callback });
    return { id } as TimerHandle;
  }

  clearTimeout(handle: TimerHandle): void {
    this.timers.delete((handle as { id: number }).id);
  }

  get pendingTimers(): number {
    return this.timers.size;
  }

  /** Moves time forward, firing due timers in order (a fired timer may add more). */
  advance(ms: number): void {
    const target = this.now + ms;
    for (;;) {
      const next = [...this.timers.entries()].filter(([, t]) => t.due <= target).sort((a, b) => a[1].due - b[1].due)[0];
      if (!next) break;
      this.timers.delete(next[0]);
      this.now = next[1].due;
      next[1].callback();
    }
    this.now = target;
  }

  jumpWall(ms: number): void {
    this.wall += ms;
  }
}

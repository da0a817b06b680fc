/**
 * Time as the core sees it. Injected everywhere time matters so tests can jump the wall clock
 * (±1 h) without touching the monotonic one, and drive timers deterministically.
 */
export interface Clock {
  /** Wall-clock milliseconds since the epoch: for ids, records and display only, never for timeouts. */
  wallNow(): number;
  /** Monotonic milliseconds from an arbitrary origin: for every duration, deadline and staleness check. */
  monotonicNow(): number;
  setTimeout(callback: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
  /**
   * monotonicNow() when this process last resumed from a freeze (SIGSTOP, sleep), -Infinity if it
   * never was. Only clocks that leave frozen time out (unfrozenClock, test clocks) have it: a
   * deadline that judges an agent gives it a grace after a resume (see judgingTimeout.ts).
   */
  resumedAt?(): number;
}

export interface TimerHandle {
  /** Lets the process exit while the timer is pending (Node's `unref`). */
  unref?(): void;
}

export const systemClock: Clock = {
  wallNow: () => Date.now(),
  monotonicNow: () => performance.now(),
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

import { systemClock, type Clock, type TimerHandle } from './clock';

/**
 * Time this process was able to run. A window can be frozen (SIGSTOP, a laptop asleep, an
 * extension host stalled in a debugger) while its agents keep running; deadlines that judge an
 * agent (handshake, first event, idle watchdog, turn deadline) must not count that time against
 * it. Measured with a ticker: a tick that comes much later than scheduled means the process did
 * not run in between, and that gap (minus one period) is subtracted from the monotonic clock.
 * A blocked event loop counts as frozen too: the owner could not read the agent's output then.
 */
const TICK_MS = 250;
/** Gaps up to this much beyond one period are ordinary scheduling jitter on a loaded machine. */
const FREEZE_THRESHOLD_MS = 750;
/** After a freeze, a deadline that falls due gets at least this long to see what the agent sent meanwhile. */
export const RESUME_GRACE_MS = 1_000;

class FreezeMeter {
  private frozenMs = 0;
  private lastTick = performance.now();
  private lastReturned = 0;
  private lastFreezeEndedAt = Number.NEGATIVE_INFINITY;
  private ticker: NodeJS.Timeout | undefined;

  /** performance.now() minus the time spent frozen; never goes backwards. */
  now(): number {
    this.ensureTicking();
    const real = performance.now();
    const unfrozen = real - this.frozenMs - this.pendingFreeze(real);
    this.lastReturned = Math.max(this.lastReturned, unfrozen);
    return this.lastReturned;
  }

  /** performance.now() of the end of the last freeze seen (-Infinity before any). */
  lastFreezeEnd(): number {
    this.now();
    return this.lastFreezeEndedAt;
  }

  private pendingFreeze(real: number): number {
    const gap = real - this.lastTick;
    if (gap <= TICK_MS + FREEZE_THRESHOLD_MS) return 0;
    // Called after a freeze but before the ticker saw it (timers that fall due together run in order).
    this.lastFreezeEndedAt = real;
    return gap - TICK_MS;
  }

  private ensureTicking(): void {
    if (this.ticker) return;
    this.lastTick = performance.now();
    this.ticker = setInterval(() => this.tick(), TICK_MS);
    this.ticker.unref();
  }

  private tick(): void {
    const real = performance.now();
    const gap = real - this.lastTick;
    if (gap > TICK_MS + FREEZE_THRESHOLD_MS) {
      this.frozenMs += gap - TICK_MS;
      this.lastFreezeEndedAt = real;
    }
    this.lastTick = real;
  }
}

const meter = new FreezeMeter();

/** The system clock, with monotonicNow() counting only time this process could run. */
export const unfrozenClock: Clock = {
  wallNow: () => Date.now(),
  monotonicNow: () => meter.now(),
  setTimeout: (callback, ms) => systemClock.setTimeout(callback, ms),
  clearTimeout: (handle) => systemClock.clearTimeout(handle),
};

export interface UnfrozenTimer {
  cancel(): void;
}

/**
 * Calls `callback` once `ms` of unfrozen time have passed. A timer that comes due right after a
 * freeze is re-armed for what is left, and for at least RESUME_GRACE_MS when a freeze just ended,
 * so the agent's output that arrived meanwhile is read before the agent is judged.
 */
export function setUnfrozenTimeout(callback: () => void, ms: number): UnfrozenTimer {
  const startedAt = meter.now();
  let timer: TimerHandle | undefined;
  let cancelled = false;
  let gracedFreeze = meter.lastFreezeEnd();
  const arm = (delay: number) => {
    timer = systemClock.setTimeout(check, Math.max(0, delay));
  };
  const check = () => {
    if (cancelled) return;
    const left = ms - (meter.now() - startedAt);
    const freezeEnd = meter.lastFreezeEnd();
    // One grace per freeze: the time to read what the agent wrote while this process was stopped.
    const grace = freezeEnd !== gracedFreeze ? RESUME_GRACE_MS : 0;
    gracedFreeze = freezeEnd;
    if (left > 0 || grace > 0) {
      arm(Math.max(left, grace));
      return;
    }
    callback();
  };
  arm(ms);
  return {
    cancel: () => {
      cancelled = true;
      if (timer) systemClock.clearTimeout(timer);
    },
  };
}

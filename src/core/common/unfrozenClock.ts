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
/**
 * After a resume, a deadline that falls due gets at least this much unfrozen time before it
 * judges the agent. What the agent wrote while its owner was stopped waits in the pipes and is
 * read in the first poll after the resume, but on a loaded machine the backlog (up to a full
 * 64 KiB pipe, and an agent that was blocked writing into it) can take a few hundred ms to work
 * through; 2 s covers that with room, and is short beside every deadline it delays (10 s
 * handshake, 45 s first event, minutes of idle watchdog).
 */
export const RESUME_GRACE_MS = 2_000;

class FreezeMeter {
  private frozenMs = 0;
  private lastTick = performance.now();
  private lastReturned = 0;
  private resumed = Number.NEGATIVE_INFINITY;
  private ticker: NodeJS.Timeout | undefined;

  /** performance.now() minus the time spent frozen; never goes backwards. */
  now(): number {
    this.ensureTicking();
    const real = performance.now();
    // Called after a freeze but before the ticker saw it (timers that fall due together run in order).
    this.account(real);
    this.lastReturned = Math.max(this.lastReturned, real - this.frozenMs);
    return this.lastReturned;
  }

  /** now() at the end of the last freeze seen (-Infinity before any). */
  resumedAt(): number {
    this.now();
    return this.resumed;
  }

  private account(real: number): void {
    const gap = real - this.lastTick;
    if (gap <= TICK_MS + FREEZE_THRESHOLD_MS) return;
    this.frozenMs += gap - TICK_MS;
    this.lastTick = real;
    this.resumed = real - this.frozenMs;
  }

  private ensureTicking(): void {
    if (this.ticker) return;
    this.lastTick = performance.now();
    this.ticker = setInterval(() => this.tick(), TICK_MS);
    this.ticker.unref();
  }

  private tick(): void {
    const real = performance.now();
    this.account(real);
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
  resumedAt: () => meter.resumedAt(),
};

/** When a deadline due at `dueAt` (the clock's monotonic ms) may judge: not within the grace after a resume. */
export function judgeableAt(clock: Clock, dueAt: number): number {
  return Math.max(dueAt, (clock.resumedAt?.() ?? Number.NEGATIVE_INFINITY) + RESUME_GRACE_MS);
}

export interface UnfrozenTimer {
  cancel(): void;
}

/**
 * Calls `callback` once `ms` of the clock's monotonic (by default unfrozen) time have passed, and
 * not within RESUME_GRACE_MS of a resume. The clock's timers run on real time, which a freeze
 * does not stop: a timer that comes due early by that measure is re-armed for what is left, so
 * the agent's output that arrived meanwhile is read before the agent is judged.
 */
export function setUnfrozenTimeout(callback: () => void, ms: number, clock: Clock = unfrozenClock): UnfrozenTimer {
  const dueAt = clock.monotonicNow() + ms;
  let timer: TimerHandle | undefined;
  let cancelled = false;
  const check = () => {
    timer = undefined;
    if (cancelled) return;
    const wait = judgeableAt(clock, dueAt) - clock.monotonicNow();
    if (wait > 0) timer = clock.setTimeout(check, wait);
    else callback();
  };
  timer = clock.setTimeout(check, Math.max(0, ms));
  return {
    cancel: () => {
      cancelled = true;
      if (timer) clock.clearTimeout(timer);
    },
  };
}

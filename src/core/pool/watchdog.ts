import type { Clock, TimerHandle } from '../common/clock';
import { judgeableAt } from '../common/unfrozenClock';

/**
 * The idle watchdog and the turn deadline. A turn that goes quiet for `idleWatchdogMs` (no event
 * from its agent), or runs past `turnDeadlineMs`, is failed with TURN_IDLE_TIMEOUT or
 * TURN_DEADLINE_EXCEEDED; the turn itself (turn.ts) decides what expiring means.
 */
export interface WatchedTurn {
  /** Monotonic ms when the watchdog or the deadline would fire, whichever comes first. */
  dueAt(): number;
  /** Fails the turn if it is due at `now`; true when it expired or had already settled (it leaves the watch). */
  expireIfDue(now: number): boolean;
}

/**
 * One timer for every running turn of a pool, serving both the idle watchdog (no event for
 * `idleWatchdogMs`) and the deadline. A turn only records when it last heard from its agent; the
 * timer, armed for the earliest due time, checks the turns when it fires and re-arms for the next.
 * A turn that ends just leaves the set, and the timer stays armed: the next turn is due later, so
 * back-to-back turns and chatty turns cost no timer churn at all, and concurrent turns share one
 * timer. Once it fires with no turn left it is not re-armed, so a quiet pool schedules nothing
 * after at most one watchdog period (and the timer never keeps the process alive).
 *
 * Due times are in the clock's monotonic time, which under unfrozenClock leaves out time this
 * process spent frozen; and right after a resume no turn is judged for RESUME_GRACE_MS, so what
 * the agents wrote while their owner was stopped is read first.
 */
export class TurnWatchdog {
  private readonly turns = new Set<WatchedTurn>();
  private timer: TimerHandle | undefined;
  private armedFor = Infinity;

  constructor(private readonly clock: Clock) {}

  watch(turn: WatchedTurn): void {
    this.turns.add(turn);
    const due = turn.dueAt();
    if (due < this.armedFor) this.arm(due);
  }

  unwatch(turn: WatchedTurn): void {
    this.turns.delete(turn);
  }

  dispose(): void {
    if (this.timer) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.armedFor = Infinity;
    this.turns.clear();
  }

  private arm(due: number): void {
    if (this.timer) this.clock.clearTimeout(this.timer);
    const at = judgeableAt(this.clock, due);
    this.armedFor = at;
    this.timer = this.clock.setTimeout(() => this.check(), Math.max(0, at - this.clock.monotonicNow()));
    this.timer.unref?.();
  }

  private check(): void {
    this.timer = undefined;
    this.armedFor = Infinity;
    const now = this.clock.monotonicNow();
    const inResumeGrace = judgeableAt(this.clock, now) > now;
    let next = Infinity;
    // A turn that expires leaves the set while we iterate, which a Set allows.
    for (const turn of this.turns) {
      if (!inResumeGrace && turn.expireIfDue(now)) continue;
      next = Math.min(next, turn.dueAt());
    }
    if (next < Infinity) this.arm(next);
  }
}

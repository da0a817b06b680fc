import type { Clock, TimerHandle } from '../../common/clock';
import type { CircuitState } from '../events';

/** A failure that counted against the profile: its message (keys already blanked) and wall-clock ms. */
export interface LastFailure {
  message: string;
  at: number;
}

export interface CircuitBreakerOptions {
  failureThreshold: number;
  cooldownMs: number;
  clock: Clock;
}

/**
 * One breaker per agent profile. Closed: work flows. Open: nothing is handed out or spawned, and
 * the reason says why (a rate limit, missing credentials, a binary that will not start, or N
 * failures in a row). Half-open after the cooldown: exactly one trial (a turn or a spawn) decides.
 */
export class CircuitBreaker {
  private current: CircuitState = 'closed';
  private currentReason: string | undefined;
  private consecutiveFailures = 0;
  private last: LastFailure | undefined;
  /** The work holding the half-open trial (a lease, a spawn): only it can give the trial back. */
  private trialHolder: object | undefined;
  private cooldownTimer: TimerHandle | undefined;
  private disposed = false;
  private retryAtWall: number | undefined;

  constructor(
    private readonly options: CircuitBreakerOptions,
    private readonly onChange: (state: CircuitState, reason: string | undefined) => void,
  ) {}

  get state(): CircuitState {
    return this.current;
  }

  get reason(): string | undefined {
    return this.currentReason;
  }

  /** Wall-clock ms when an open circuit goes half-open; for display only. */
  get retryAt(): number | undefined {
    return this.current === 'open' ? this.retryAtWall : undefined;
  }

  get failures(): number {
    return this.consecutiveFailures;
  }

  /** The last failure recorded, whatever the state since: what `status --json` and the UI show beside the state. */
  get lastFailure(): LastFailure | undefined {
    return this.last;
  }

  /** True when new work may start: closed, or half-open with the single trial still free (which `holder` then takes). */
  tryPass(holder: object): boolean {
    if (this.current === 'closed') return true;
    if (this.current === 'open' || this.trialHolder) return false;
    this.trialHolder = holder;
    return true;
  }

  /** Whether work could start now, without taking the half-open trial. */
  isPassable(): boolean {
    return this.current === 'closed' || (this.current === 'half-open' && !this.trialHolder);
  }

  recordSuccess(): void {
    this.consecutiveFailures = 0;
    this.trialHolder = undefined;
    if (this.current !== 'closed') this.setState('closed', undefined);
  }

  /** `immediate` opens at once (rate limit, auth, start failure); otherwise after the threshold in a row. */
  recordFailure(reason: string, immediate = false): void {
    this.consecutiveFailures++;
    this.last = { message: reason, at: this.options.clock.wallNow() };
    const wasTrial = this.trialHolder !== undefined;
    this.trialHolder = undefined;
    if (immediate || wasTrial || this.current === 'half-open' || this.consecutiveFailures >= this.options.failureThreshold) {
      const why = immediate ? reason : `${this.consecutiveFailures} failures in a row, the last: ${reason}`;
      this.open(why);
    }
  }

  /**
   * Gives back the half-open trial when `holder` holds it and ended without a verdict (a lease released
   * unused, a spawn stopped on purpose); anything else is a no-op, so a later trial is never freed by mistake.
   */
  releaseTrial(holder: object): void {
    if (this.trialHolder === holder) this.trialHolder = undefined;
  }

  /** The user fixed the cause (signed in, installed the agent) and retries now: closed, the count starts over. */
  reset(): void {
    this.clearTimer();
    this.consecutiveFailures = 0;
    this.trialHolder = undefined;
    if (this.current !== 'closed') this.setState('closed', undefined);
  }

  /** The pool closed: a turn failing during its shutdown grace may still open the circuit, but arms no timer. */
  dispose(): void {
    this.disposed = true;
    this.clearTimer();
  }

  private open(reason: string): void {
    this.clearTimer();
    const cooldownMs = this.options.cooldownMs;
    this.retryAtWall = this.disposed ? undefined : this.options.clock.wallNow() + cooldownMs;
    this.setState('open', reason);
    if (this.disposed) return;
    this.cooldownTimer = this.options.clock.setTimeout(() => {
      this.cooldownTimer = undefined;
      this.setState('half-open', this.currentReason);
    }, cooldownMs);
    this.cooldownTimer.unref?.();
  }

  private setState(state: CircuitState, reason: string | undefined): void {
    this.current = state;
    this.currentReason = reason;
    this.onChange(state, reason);
  }

  private clearTimer(): void {
    if (this.cooldownTimer) this.options.clock.clearTimeout(this.cooldownTimer);
    this.cooldownTimer = undefined;
  }
}

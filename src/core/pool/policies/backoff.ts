import type { CircuitState } from '../events';

/**
 * Restart delay for the n-th consecutive crash (1-based): exponential from `baseMs`, capped at
 * `maxMs`, with "equal jitter" (half fixed, half random) so restarts of several windows spread out
 * yet never come sooner than half the nominal delay.
 */
export function restartDelay(attempt: number, baseMs: number, maxMs: number, rng: () => number): number {
  const nominal = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(nominal / 2 + rng() * (nominal / 2));
}

/** What decides a crashed agent's fate once its process and slot are gone. */
export interface CrashFacts {
  poolClosed: boolean;
  circuit: CircuitState;
  /** Whether the agent is still to come back, and how (undefined: the user stopped it meanwhile). */
  comingBack: 'after-crash' | 'for-user' | undefined;
}

/**
 * After a crash: `give-up` (the pool closed or the circuit opened: the agent is dropped), `forget`
 * (stopped by the user during the clean-up), `user-restart` (a user's restart already runs and
 * spawns it), or `queue-restart` (the restart queue starts it after its backoff, restartTiming).
 */
export type AfterCrash = 'give-up' | 'forget' | 'user-restart' | 'queue-restart';

export function afterCrash(facts: CrashFacts): AfterCrash {
  if (facts.poolClosed || facts.circuit === 'open') return 'give-up';
  if (facts.comingBack === undefined) return 'forget';
  return facts.comingBack === 'for-user' ? 'user-restart' : 'queue-restart';
}

export interface BackoffLimits {
  restartBaseDelayMs: number;
  restartMaxDelayMs: number;
  rng: () => number;
}

/**
 * When the next queued restart starts: the first crash after a good turn at once (a one-off crash
 * should cost only a cold start); only crashes in a row back off, so a crash loop cannot burn CPU
 * and budget. `attempt` is what the `restart` event reports.
 */
export function restartTiming(consecutiveCrashes: number, limits: BackoffLimits): { attempt: number; delayMs: number } {
  const attempt = Math.max(1, consecutiveCrashes);
  const delayMs = attempt === 1 ? 0 : restartDelay(attempt - 1, limits.restartBaseDelayMs, limits.restartMaxDelayMs, limits.rng);
  return { attempt, delayMs };
}

/**
 * Restart delay for the n-th consecutive crash (1-based): exponential from `baseMs`, capped at
 * `maxMs`, with "equal jitter" (half fixed, half random) so restarts of several windows spread out
 * yet never come sooner than half the nominal delay.
 */
export function restartDelay(attempt: number, baseMs: number, maxMs: number, rng: () => number): number {
  const nominal = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(nominal / 2 + rng() * (nominal / 2));
}

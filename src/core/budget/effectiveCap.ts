/**
 * One cap per store: the smallest cap declared by a live participant, this one's own included. A
 * participant configured with a larger cap can then never push the total past a smaller one, and
 * when the smallest leaves, the next smallest holds.
 */
export function effectiveCap(ownCap: number, declaredCaps: readonly number[]): number {
  let cap = ownCap;
  for (const declared of declaredCaps) if (Number.isInteger(declared) && declared >= 1 && declared < cap) cap = declared;
  return cap;
}

/**
 * How many of this participant's idle agents to stop when the cap dropped below the running count:
 * the excess, but never more than it holds idle (a busy agent is never stopped mid-turn). Several
 * participants may each stop their share of one excess; the surplus is only re-spawned under the cap.
 */
export function idleAgentsToStop(snapshot: { cap: number; used: number }, idleHere: number): number {
  return Math.max(0, Math.min(idleHere, snapshot.used - snapshot.cap));
}

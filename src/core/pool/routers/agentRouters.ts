import { pairKey, type PairScores } from './affinity';

/**
 * Routing strategies: pure functions `(request, candidates, state) => agent | undefined`, chosen per
 * pool (piscina's balancer shape). Candidates are only agents that may take work now (idle,
 * healthy, circuit not open), so no strategy can pick an unhealthy agent. Returning undefined
 * with candidates present means "wait": sticky sessions wait for their busy agent.
 * Candidates come in ordinal (creation) order and `state.candidatesById` indexes them, so the
 * keyed strategies are O(1) or O(log n) and the scanning ones a tight O(n) loop with no allocation.
 */
export interface RoutableAgent {
  readonly id: string;
  /** Creation order in the pool; round-robin walks it. */
  readonly ordinal: number;
  /** Total time spent leased: the load measure of least-busy and power-of-two. */
  readonly busyMs: number;
  readonly turns: number;
  /** Monotonic ms of the last release; 0 when never used. */
  readonly lastReleasedAt: number;
}

export interface RouteRequest {
  sessionKey?: string;
  sourceModule?: string;
  targetModule?: string;
  priority?: number;
}

export interface RoutingState {
  /** Ordinal of the agent picked last, for round-robin. */
  readonly lastPickedOrdinal: number;
  readonly rng: () => number;
  /** sessionKey -> the agent holding that conversation, if one does. */
  readonly sticky: { get(sessionKey: string): { readonly agentId?: string } | undefined };
  /** Agents that are alive (any state but stopped), so sticky can tell "busy, wait" from "gone, move". */
  readonly liveAgentIds: ReadonlySet<string>;
  /** pairKey -> successful turns per agent for that pair, best first. */
  readonly affinity: ReadonlyMap<string, Pick<PairScores, 'ranked'>>;
  /** agentId -> the pair it is dedicated to, when the pool dedicates agents to pairs. */
  readonly dedicated?: ReadonlyMap<string, string>;
  /** The candidates by id (a Map will do); when absent, keyed lookups scan the candidates. */
  readonly candidatesById?: { get(id: string): RoutableAgent | undefined };
}

export type RoutingStrategy = (request: RouteRequest, candidates: readonly RoutableAgent[], state: RoutingState) => RoutableAgent | undefined;

function candidateById(id: string, candidates: readonly RoutableAgent[], state: RoutingState): RoutableAgent | undefined {
  if (state.candidatesById) return state.candidatesById.get(id);
  for (let i = 0; i < candidates.length; i++) if (candidates[i].id === id) return candidates[i];
  return undefined;
}

/** The first candidate after the one picked last, by a binary search over the ordinal order; wraps around. */
export const roundRobin: RoutingStrategy = (_request, candidates, state) => {
  let low = 0;
  let high = candidates.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (candidates[middle].ordinal <= state.lastPickedOrdinal) low = middle + 1;
    else high = middle;
  }
  return candidates[low] ?? candidates[0];
};

// The scans below keep the best value in a local: reading it back from the best agent on every
// step costs a third more at 1,000 agents.
export const leastBusy: RoutingStrategy = (_request, candidates) => {
  let best = candidates[0];
  if (!best) return undefined;
  let bestBusy = best.busyMs;
  for (let i = 1; i < candidates.length; i++) {
    const agent = candidates[i];
    const busy = agent.busyMs;
    if (busy < bestBusy || (busy === bestBusy && agent.turns < best.turns)) {
      best = agent;
      bestBusy = busy;
    }
  }
  return best;
};

export const leastRecentlyUsed: RoutingStrategy = (_request, candidates) => {
  let best = candidates[0];
  if (!best) return undefined;
  let bestReleasedAt = best.lastReleasedAt;
  for (let i = 1; i < candidates.length; i++) {
    const releasedAt = candidates[i].lastReleasedAt;
    if (releasedAt < bestReleasedAt) {
      best = candidates[i];
      bestReleasedAt = releasedAt;
    }
  }
  return best;
};

export const random: RoutingStrategy = (_request, candidates, state) =>
  candidates.length ? candidates[Math.floor(state.rng() * candidates.length) % candidates.length] : undefined;

/** Two random candidates, the less loaded wins: near least-busy balance without a full scan's herd effect. */
export const powerOfTwoChoices: RoutingStrategy = (_request, candidates, state) => {
  if (candidates.length <= 1) return candidates[0];
  const first = Math.floor(state.rng() * candidates.length) % candidates.length;
  let second = Math.floor(state.rng() * (candidates.length - 1)) % (candidates.length - 1);
  if (second >= first) second++;
  const a = candidates[first];
  const b = candidates[second];
  return b.busyMs < a.busyMs ? b : a;
};

/** Keeps a conversation on its agent; waits while that agent is busy; moves it only when the agent is gone. */
export const stickySession: RoutingStrategy = (request, candidates, state) => {
  const held = request.sessionKey === undefined ? undefined : state.sticky.get(request.sessionKey)?.agentId;
  if (held !== undefined) {
    const agent = candidateById(held, candidates, state);
    if (agent) return agent;
    if (state.liveAgentIds.has(held)) return undefined;
  }
  return leastBusy(request, candidates, state);
};

/**
 * The agent with the highest score for (source, target); ties and unknown pairs go to the least
 * busy. With dedicated agents, never one dedicated to another pair. The scores come ranked, so the
 * walk stops at the first score below the best idle agent found.
 */
export const moduleAffinity: RoutingStrategy = (request, candidates, state) => {
  const key = pairKey(request.sourceModule, request.targetModule);
  const ranked = key === undefined ? undefined : state.affinity.get(key)?.ranked;
  const dedicated = state.dedicated;
  let best: RoutableAgent | undefined;
  if (ranked) {
    const byId = state.candidatesById;
    let bestScore = 0;
    for (let i = 0; i < ranked.length; i++) {
      const entry = ranked[i];
      if (entry.score < bestScore) break;
      // Most entries ranked above the winner are busy agents: one map lookup each, nothing more.
      const agent = byId ? byId.get(entry.agentId) : candidateById(entry.agentId, candidates, state);
      if (agent === undefined || (best !== undefined && agent.busyMs >= best.busyMs)) continue;
      const owner = dedicated?.get(entry.agentId);
      if (owner !== undefined && owner !== key) continue;
      best = agent;
      bestScore = entry.score;
    }
    if (best) return best;
  }
  let own: RoutableAgent | undefined;
  for (let i = 0; i < candidates.length; i++) {
    const agent = candidates[i];
    if (dedicated) {
      const owner = dedicated.get(agent.id);
      if (owner !== undefined && owner !== key) continue;
      // An agent dedicated to this very pair goes first: it exists for it.
      if (owner !== undefined && (!own || agent.busyMs < own.busyMs)) own = agent;
    }
    if (!best || agent.busyMs < best.busyMs) best = agent;
  }
  return own ?? best;
};

export const ROUTING_STRATEGIES = {
  'round-robin': roundRobin,
  'least-busy': leastBusy,
  'least-recently-used': leastRecentlyUsed,
  random,
  'power-of-two': powerOfTwoChoices,
  'sticky-session': stickySession,
  'module-affinity': moduleAffinity,
} as const satisfies Record<string, RoutingStrategy>;

export type RoutingStrategyName = keyof typeof ROUTING_STRATEGIES;

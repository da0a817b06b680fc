import type { PoolLoad } from '../policies/autoscaler';
import { pairKey } from './affinity';
import type { RouteRequest } from './agentRouters';

/**
 * Pool routers: which of several pools (one per profile) takes a task. Pure functions of the
 * request, the eligible pools and the manager's state, like the agent routers beside them; the
 * manager has already left out closed pools, pools whose circuit is open, and pools the caller
 * did not ask for, so `pools` is never empty.
 */
export interface RoutablePool {
  readonly profile: string;
  /** Read only by the routers that weigh load, so round-robin costs no load computation. */
  load(): Pick<PoolLoad, 'busy' | 'queued' | 'maxAgents'>;
}

export interface PoolRoutingState {
  /** Tasks handed out so far by round-robin. */
  readonly rotation: number;
  /** pairKey -> profile -> successful turns of that pair on that profile. */
  readonly affinity: ReadonlyMap<string, ReadonlyMap<string, number>>;
}

export type PoolRouter = <P extends RoutablePool>(request: RouteRequest, pools: readonly P[], state: PoolRoutingState) => P;

/** The pool whose agents are least occupied (busy plus queued, per allowed agent). */
export const leastLoadedPool: PoolRouter = (_request, pools) => {
  let best = pools[0];
  let bestLoad = Infinity;
  for (const pool of pools) {
    const load = pool.load();
    const share = (load.busy + load.queued) / Math.max(1, load.maxAgents);
    if (share < bestLoad) [best, bestLoad] = [pool, share];
  }
  return best;
};

export const roundRobinPool: PoolRouter = (_request, pools, state) => pools[state.rotation % pools.length];

/** The profile with the most successful turns for the request's module pair; the least loaded when none has any. */
export const affinityPool: PoolRouter = (request, pools, state) => {
  const key = pairKey(request.sourceModule, request.targetModule);
  const scores = key === undefined ? undefined : state.affinity.get(key);
  let best: (typeof pools)[number] | undefined;
  let bestScore = 0;
  for (const pool of pools) {
    const score = scores?.get(pool.profile) ?? 0;
    if (score > bestScore) [best, bestScore] = [pool, score];
  }
  return best ?? leastLoadedPool(request, pools, state);
};

export const POOL_ROUTERS = {
  'least-loaded': leastLoadedPool,
  'round-robin': roundRobinPool,
  affinity: affinityPool,
} as const satisfies Record<string, PoolRouter>;

export type CrossPoolRouting = keyof typeof POOL_ROUTERS;

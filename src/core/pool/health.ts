import type { AgentState, PoolSnapshot } from './events';

/** healthy: serves at full strength; degraded: serves, but below what it was asked for; down: serves nothing. */
export type HealthStatus = 'healthy' | 'degraded' | 'down';

export interface PoolHealth {
  profile: string;
  status: HealthStatus;
  /** Agents that can take a prompt now or are working on one. */
  ready: number;
  idle: number;
  busy: number;
  starting: number;
  /** Agents on their way out or crashed (draining, recycling, unhealthy). */
  leaving: number;
  minAgents: number;
  maxAgents: number;
  queueDepth: number;
  /** Busy share of the ready agents. */
  utilization: number;
  circuit: PoolSnapshot['circuit'];
  /** One sentence per reason the pool is not healthy; empty when it is. */
  problems: string[];
}

export interface ManagerHealth {
  /** The worst of the pools; down when no pool runs. */
  status: HealthStatus;
  pools: PoolHealth[];
}

const RANK: Record<HealthStatus, number> = { healthy: 0, degraded: 1, down: 2 };

/** A pool's health from its snapshot alone, so every surface (API, CLI, view) reads the same verdict. */
export function poolHealth(snapshot: PoolSnapshot): PoolHealth {
  const count = (...states: AgentState[]) => snapshot.agents.filter((agent) => states.includes(agent.state)).length;
  const idle = count('idle');
  const busy = count('busy');
  const starting = count('starting');
  const leaving = count('draining', 'recycling', 'unhealthy');
  const ready = idle + busy;
  const problems: string[] = [];
  let status: HealthStatus = 'healthy';
  const worsen = (to: HealthStatus, problem: string) => {
    if (RANK[to] > RANK[status]) status = to;
    problems.push(problem);
  };
  if (snapshot.closed) worsen('down', 'the pool is closed');
  if (snapshot.circuit.state === 'open') worsen('down', `the circuit is open: ${snapshot.circuit.reason ?? 'too many failures'}`);
  else if (snapshot.circuit.state === 'half-open') worsen('degraded', `the circuit is half-open (one trial at a time): ${snapshot.circuit.reason ?? 'after failures'}`);
  if (!snapshot.closed && ready === 0 && snapshot.minAgents > 0) {
    worsen(starting > 0 ? 'degraded' : 'down', starting > 0 ? `no agent is ready yet (${starting} starting)` : 'no agent is running');
  } else if (!snapshot.closed && ready < snapshot.minAgents) {
    worsen('degraded', `${ready} of ${snapshot.minAgents} warm agent(s) ready${starting > 0 ? ` (${starting} starting)` : ''}`);
  }
  if (snapshot.queueDepth > 0 && idle === 0) worsen('degraded', `${snapshot.queueDepth} request(s) wait for an agent`);
  return {
    profile: snapshot.profile,
    status,
    ready,
    idle,
    busy,
    starting,
    leaving,
    minAgents: snapshot.minAgents,
    maxAgents: snapshot.maxAgents,
    queueDepth: snapshot.queueDepth,
    utilization: ready === 0 ? 0 : busy / ready,
    circuit: snapshot.circuit,
    problems,
  };
}

export function managerHealth(snapshots: readonly PoolSnapshot[]): ManagerHealth {
  const pools = snapshots.map(poolHealth);
  let status: HealthStatus = pools.length === 0 ? 'down' : 'healthy';
  for (const pool of pools) if (RANK[pool.status] > RANK[status]) status = pool.status;
  return { status, pools };
}

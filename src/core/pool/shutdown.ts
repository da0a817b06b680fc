import type { PooledAgent } from './agentRecord';
import type { Emitter } from '../common/event';
import type { AgentState, PoolEvent } from './events';
import type { ResolvedPoolOptions } from './options';
import type { Supervisor } from './supervisor';
import { waitUntil } from './waiting';

export interface ClosingPool {
  readonly options: ResolvedPoolOptions;
  readonly agents: Map<string, PooledAgent>;
  readonly events: Emitter<PoolEvent>;
  transition(agent: PooledAgent, to: AgentState, reason?: string): void;
}

/**
 * Steps 2 to 4 of a pool's shutdown, once it accepts no more work: running turns get
 * `shutdownGraceMs` to finish, then are cancelled and get `cancelGraceMs`; then every process group
 * is killed (including those of agents still starting), and each budget slot is released once its
 * process is gone. Resolves only when no spawn is in flight.
 */
export async function shutdownPool(pool: ClosingPool, supervisor: Supervisor): Promise<void> {
  const { clock, shutdownGraceMs, cancelGraceMs } = pool.options;
  const leased = [...pool.agents.values()].filter((agent) => agent.lease);
  for (const agent of leased) if (agent.state === 'busy') pool.transition(agent, 'draining', 'pool closing');
  await waitUntil(pool.events.event, () => leased.every((agent) => !agent.lease || !agent.connection), shutdownGraceMs, clock);
  const open = leased.filter((agent) => agent.turn && agent.connection);
  for (const agent of open) void agent.connection!.cancel(agent.turn!.sessionId).catch(() => undefined);
  // A turn clears agent.turn when it settles, just before its turn-finished event.
  await waitUntil(pool.events.event, () => open.every((agent) => !agent.turn), cancelGraceMs, clock);
  // An agent still starting is retired like the others; its spawn settles once the kill has reached
  // the process it was starting, so waiting for both leaves no process and no slot behind.
  await Promise.all([...[...pool.agents.values()].map((agent) => supervisor.retire(agent, 'draining', 'pool closing')), supervisor.spawnsSettled()]);
}

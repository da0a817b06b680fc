import type { Emitter } from '../common/event';
import { canTransition, type PooledAgent } from './agentRecord';
import type { AgentState, PoolEvent } from './events';

/**
 * The agents of one pool and the indexes routing needs, kept in step by `transition`, the one place
 * agent states change: the idle agents in ordinal order (what strategies expect) and by id, a count
 * per state, and the ids of live agents (for sticky sessions: "busy, wait" versus "gone, move").
 */
export class AgentTable {
  readonly agents = new Map<string, PooledAgent>();
  readonly idle: PooledAgent[] = [];
  /**
   * The idle agents by id, read through the table of all agents: a Map kept in step would take a
   * delete and a set on every acquire and release.
   */
  readonly idleById = {
    get: (id: string): PooledAgent | undefined => {
      const agent = this.agents.get(id);
      return agent?.state === 'idle' ? agent : undefined;
    },
  };
  readonly liveAgentIds = new Set<string>();
  readonly counts: Record<AgentState, number> = { starting: 0, idle: 0, busy: 0, draining: 0, recycling: 0, unhealthy: 0, stopped: 0 };

  constructor(
    private readonly profile: string,
    private readonly events: Emitter<PoolEvent>,
  ) {}

  /** Checks the transition table, updates every index, and fires the one `agent-state` event. */
  transition(agent: PooledAgent, to: AgentState, reason?: string): void {
    const from = agent.state;
    if (from === to) return;
    // Idle to busy and back, every acquire and release, are always allowed: only the rest is looked up.
    const everyTurn = (from === 'idle' && to === 'busy') || (from === 'busy' && to === 'idle');
    if (!everyTurn && !canTransition(from, to)) throw new Error(`agent ${agent.id} cannot go from ${from ?? 'new'} to ${to}`);
    agent.enter(to);
    if (from) this.counts[from]--;
    this.counts[to]++;
    if (from === 'idle') this.removeIdle(agent);
    else if (to === 'idle') this.insertIdle(agent);
    if (to === 'stopped') this.liveAgentIds.delete(agent.id);
    else if (from === undefined || from === 'stopped') this.liveAgentIds.add(agent.id);
    this.events.fire({ type: 'agent-state', agentId: agent.id, profile: this.profile, from, to, reason });
  }

  /** Agents that exist or are coming back (crashed ones awaiting a restart count). */
  liveCount(): number {
    let live = 0;
    for (const agent of this.agents.values()) if (agent.live) live++;
    return live;
  }

  /**
   * Every acquire and release moves one agent in or out of the idle list, so these shift in place
   * rather than splice, which allocates an array of the removed elements on each call.
   */
  private removeIdle(agent: PooledAgent): void {
    const { idle } = this;
    const index = idle.indexOf(agent);
    for (let i = index + 1; i < idle.length; i++) idle[i - 1] = idle[i];
    idle.pop();
  }

  /** Keeps the ordinal order routing expects; a released agent usually goes at or near the end. */
  private insertIdle(agent: PooledAgent): void {
    const { idle } = this;
    let index = idle.length;
    idle.push(agent);
    for (; index > 0 && idle[index - 1].ordinal > agent.ordinal; index--) idle[index] = idle[index - 1];
    idle[index] = agent;
  }

  /** Ids of the agents a request could still target, for error messages. */
  describeLive(): string {
    const ids = [...this.agents.values()].filter((agent) => agent.live).map((agent) => `${agent.id} (${agent.state})`);
    return ids.length ? ids.join(', ') : 'none';
  }
}

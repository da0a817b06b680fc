import { idleAgentsToStop } from '../budget/effectiveCap';
import type { BudgetSnapshot } from '../budget/budget';
import type { PoolSnapshot } from '../pool/events';

export interface CapSheddingDeps {
  budget: () => BudgetSnapshot;
  pools: () => PoolSnapshot[];
  stopAgent: (agentId: string) => void;
  log: (message: string) => void;
}

/**
 * When the store's cap drops below the agents running (a participant with a smaller cap joined),
 * this window stops idle agents, never one mid-turn, until the count is under the cap; the budget
 * starts no new agent meanwhile. An agent stays counted as "being stopped" until its slot is gone
 * from the budget, so a stale count never makes this window stop more than its share.
 */
export class CapShedding {
  /** Agent id -> pid, for agents stopped for the cap whose slot the budget may still list. */
  private readonly stopping = new Map<string, number | undefined>();

  constructor(private readonly deps: CapSheddingDeps) {}

  check(): void {
    const snapshot = this.deps.budget();
    const heldPids = new Set(snapshot.holders.map((holder) => holder.childPid));
    const agents = this.deps.pools().flatMap((pool) => pool.agents);
    const present = new Set(agents.filter((agent) => agent.state !== 'stopped').map((agent) => agent.id));
    for (const [id, pid] of this.stopping) if (!present.has(id) && (pid === undefined || !heldPids.has(pid))) this.stopping.delete(id);
    const idle = agents.filter((agent) => agent.state === 'idle' && !this.stopping.has(agent.id));
    const count = idleAgentsToStop({ cap: snapshot.cap, used: snapshot.used - this.stopping.size }, idle.length);
    if (count === 0) return;
    const victims = idle.slice(0, count);
    for (const agent of victims) {
      this.stopping.set(agent.id, agent.pid);
      this.deps.stopAgent(agent.id);
    }
    const own = snapshot.configuredCap !== undefined && snapshot.configuredCap !== snapshot.cap ? ` (this window's own is ${snapshot.configuredCap})` : '';
    this.deps.log(
      `the agent cap is now ${snapshot.cap}${own}, the smallest any open window or run declares, and ${snapshot.used} agents run: ` +
        `stopped ${victims.map((agent) => agent.id).join(', ')} (idle); no agent starts until fewer than ${snapshot.cap} run`,
    );
  }
}

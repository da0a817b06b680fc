import type { Emitter } from '../common/event';
import type { PooledAgent } from './agentRecord';
import type { AgentTable } from './agentTable';
import type { Dispatcher } from './dispatcher';
import { PoolError } from './errors';
import type { PoolEvent } from './events';
import type { ResolvedPoolOptions } from './options';
import { isUnderused, ScaleDownTimer, spawnsWanted, type PoolLoad } from './policies/autoscaler';
import type { CircuitBreaker } from './policies/circuitBreaker';
import { describePair, pairKey, type ModuleAffinity } from './routers/affinity';
import type { Supervisor } from './supervisor';

/** What the size policy needs from its pool. */
export interface SizedPool {
  readonly options: ResolvedPoolOptions;
  readonly profile: string;
  readonly closed: boolean;
  readonly breaker: CircuitBreaker;
  readonly affinity: ModuleAffinity;
  readonly events: Emitter<PoolEvent>;
  /** The pool shrank (or its maxAgents did): at most `room` more agents can start, so no more recycled positions can be refilled. */
  shrunk(room: number): void;
}

/**
 * The pool's size policy: its limits, the load the autoscaler reads, the spawns it asks for (the
 * spare kept ahead, dedicated agents included), the scale-down after a long idle, and a resize
 * that stops the agents above a new maximum. The decisions come from policies/autoscaler.ts; this
 * applies them through the supervisor.
 */
export class PoolCapacity {
  private minLimit: number;
  private maxLimit: number;
  private readonly scaleDown: ScaleDownTimer;
  /** One pair key per agent that must serve that pair only (configured, or asked for with createDedicatedAgent). */
  private readonly wantedDedications: string[] = [];
  /** Dedicated spawns in flight, by pair key. */
  private readonly dedicatedSpawns = new Map<string, number>();

  constructor(
    private readonly pool: SizedPool,
    private readonly table: AgentTable,
    private readonly supervisor: Supervisor,
    private readonly dispatcher: Dispatcher,
  ) {
    const { options } = pool;
    this.minLimit = options.minAgents;
    this.maxLimit = options.maxAgents;
    for (const pair of options.dedicatedAgents) this.wantedDedications.push(pairKey(pair.sourceModule, pair.targetModule)!);
    this.scaleDown = new ScaleDownTimer(options.clock, options.scaleDownAfterMs, () => this.onLongIdle());
  }

  get minAgents(): number {
    return this.minLimit;
  }

  get maxAgents(): number {
    return this.maxLimit;
  }

  liveCount(): number {
    return this.table.liveCount() + this.supervisor.pendingSpawns;
  }

  /** Counts for the autoscaler; `queued` leaves out requests that target one agent (more agents would not serve them). */
  load(): PoolLoad {
    const counts = this.table.counts;
    return {
      live: this.liveCount(),
      starting: counts.starting + this.supervisor.pendingSpawns,
      idle: counts.idle,
      busy: counts.busy,
      queued: this.dispatcher.routable,
      blocked: this.dispatcher.blockedByDedication(),
      minAgents: this.minLimit,
      maxAgents: this.maxLimit,
    };
  }

  afterChange(): void {
    if (this.pool.closed) return;
    this.dispatcher.pump();
    const load = this.load();
    this.ensure(load);
    this.scaleDown.update(this.pool.options.autoscale && isUnderused(load));
  }

  /**
   * After an agent was handed out: utilization rose, so the autoscaler may start one ahead (seed
   * 002's 80% rule) and a pending scale-down no longer holds. Cheap when there is no room to grow.
   */
  afterHandOut(): void {
    const { options } = this.pool;
    if (this.pool.closed || !options.autoscale || !options.keepSpareAgent) return;
    if (this.scaleDown.armed || this.liveCount() < this.maxLimit) {
      const load = this.load();
      this.ensure(load);
      this.scaleDown.update(isUnderused(load));
    }
  }

  /**
   * afterChange, minus what a release cannot change: a freed agent never calls for a new one unless
   * the pool has room (the hot path of every turn, so it skips building the load when it can).
   */
  afterRelease(): void {
    if (this.pool.closed) return;
    this.dispatcher.pump();
    const live = this.liveCount();
    if (live < this.minLimit || this.scaleDown.armed || (this.pool.options.autoscale && (live > this.minLimit || live < this.maxLimit))) this.afterChange();
  }

  /** Starts what the autoscaler and the wanted dedications ask for; the spawns settle once each agent is ready or gone. */
  ensure(load = this.load()): Promise<void>[] {
    const { pool } = this;
    if (pool.closed || pool.breaker.state === 'open') return [];
    const spawns: Promise<void>[] = this.wantedDedications.length > 0 && pool.breaker.state === 'closed' ? this.ensureDedicated() : [];
    if (spawns.length > 0) load = this.load();
    let { count, reason } = spawnsWanted(load, pool.options.autoscale, pool.options.keepSpareAgent);
    if (pool.breaker.state === 'half-open') count = Math.min(count, pool.breaker.isPassable() && this.table.counts.idle === 0 ? 1 : 0);
    for (let i = 0; i < count; i++) spawns.push(this.supervisor.spawn(undefined, reason));
    return spawns;
  }

  /** New limits (already validated); agents above the new maximum are stopped with `stopAgent`, those holding no conversation first. */
  resize(minAgents: number, maxAgents: number, stopAgent: (agentId: string) => void): void {
    this.minLimit = minAgents;
    this.maxLimit = maxAgents;
    // Agents already on their way out (draining, recycling, unhealthy with no restart coming) do not count.
    const staying = [...this.table.agents.values()].filter((a) => a.awaitingRestart || a.state === 'idle' || a.state === 'starting' || a.state === 'busy');
    const from = staying.length + this.supervisor.pendingSpawns;
    const excess = from - maxAgents;
    if (excess > 0) {
      // Agents holding no conversation go first: a conversation resumes elsewhere, but that is not free.
      staying.sort((a, b) => rankForStopping(a) - rankForStopping(b) || a.stickySessions.size - b.stickySessions.size || a.lastReleasedAt - b.lastReleasedAt);
      const { pool } = this;
      pool.events.fire({ type: 'scale', profile: pool.profile, direction: 'down', from, to: from - excess, reason: `maxAgents set to ${maxAgents}`, at: pool.options.clock.wallNow() });
      for (const agent of staying.slice(0, excess)) stopAgent(agent.id);
    }
    // Spawns in flight still take their positions' histories: only the agents staying hold theirs.
    this.pool.shrunk(maxAgents - Math.min(staying.length, maxAgents));
    this.afterChange();
  }

  /**
   * Starts an agent that serves one module pair only, from its first turn on (seed 000's
   * create_dedicated_instance); resolves with its id once it is ready. It counts toward maxAgents,
   * is replaced when recycled, is never stopped for being idle, and leaves with Stop Agent or a
   * scale down. Needs the module-affinity strategy, the only router that honours dedication.
   */
  async createDedicatedAgent(sourceModule: string | undefined, targetModule: string | undefined): Promise<string> {
    const { pool } = this;
    const { profile, affinity, breaker } = pool;
    if (pool.closed) throw this.dispatcher.closedError();
    const key = pairKey(sourceModule, targetModule);
    if (key === undefined) throw new PoolError('POOL_INVALID_OPTION', `Agent pool "${profile}": a dedicated agent needs a module pair (sourceModule and/or targetModule).`);
    if (!affinity.dedicated) {
      throw new PoolError('POOL_INVALID_OPTION', `Agent pool "${profile}" routes with "${pool.options.strategy}"; dedicated agents need the "module-affinity" strategy (setting agentPool.pool.strategy).`);
    }
    if (breaker.state === 'open') throw this.dispatcher.circuitError();
    if (this.liveCount() >= this.maxLimit) {
      throw new PoolError('POOL_AT_LIMIT', `Agent pool "${profile}" has ${this.liveCount()} agent(s), its maxAgents (${this.maxLimit}): no room for an agent dedicated to ${describePair(key)}. Raise agentPool.pool.maxAgents or scale the pool up.`);
    }
    const before = new Set([...affinity.pinned].filter(([, owner]) => owner === key).map(([id]) => id));
    this.wantedDedications.push(key);
    await this.spawnDedicated(key);
    const agent = [...affinity.pinned].filter(([id, owner]) => owner === key && !before.has(id)).map(([id]) => this.table.agents.get(id))[0];
    if (agent && (agent.state === 'idle' || agent.state === 'busy')) return agent.id;
    this.forgetDedication(key);
    const why = (breaker.state as string) === 'open' ? `the circuit is open: ${breaker.reason}` : (this.supervisor.budgetRefusal ?? this.supervisor.lastStartError ?? 'it stopped while starting');
    throw new PoolError('POOL_AGENT_LOST', `Agent pool "${profile}" could not start an agent dedicated to ${describePair(key)}: ${why}.`);
  }

  /** A stopped dedicated agent is not replaced: the pair no longer wants one more. */
  forgetDedication(key: string): void {
    const index = this.wantedDedications.lastIndexOf(key);
    if (index >= 0) this.wantedDedications.splice(index, 1);
  }

  dispose(): void {
    this.scaleDown.dispose();
  }

  /** One live agent per wanted dedication, within maxAgents: a recycled or stopped one is replaced. */
  private ensureDedicated(): Promise<void>[] {
    const spawns: Promise<void>[] = [];
    const wanted = new Map<string, number>();
    for (const key of this.wantedDedications) wanted.set(key, (wanted.get(key) ?? 0) + 1);
    for (const [key, count] of wanted) {
      for (let missing = count - this.pool.affinity.pinnedTo(key) - (this.dedicatedSpawns.get(key) ?? 0); missing > 0 && this.liveCount() < this.maxLimit; missing--) {
        spawns.push(this.spawnDedicated(key));
      }
    }
    return spawns;
  }

  private spawnDedicated(key: string): Promise<void> {
    this.dedicatedSpawns.set(key, (this.dedicatedSpawns.get(key) ?? 0) + 1);
    return this.supervisor.spawn(undefined, `dedicated to ${describePair(key)}`, key).finally(() => {
      const left = (this.dedicatedSpawns.get(key) ?? 1) - 1;
      if (left > 0) this.dedicatedSpawns.set(key, left);
      else this.dedicatedSpawns.delete(key);
    });
  }

  private onLongIdle(): void {
    const { pool } = this;
    const load = this.load();
    if (pool.closed || !pool.options.autoscale || !isUnderused(load)) return;
    let victim: PooledAgent | undefined;
    // The idle agent holding the fewest conversations, the longest idle among those; a dedicated agent waits for its pair however long it idles.
    for (const agent of this.table.idle) {
      if (pool.affinity.pinned.has(agent.id)) continue;
      const held = agent.stickySessions.size;
      if (!victim || held < victim.stickySessions.size || (held === victim.stickySessions.size && agent.lastReleasedAt < victim.lastReleasedAt)) victim = agent;
    }
    if (!victim) return;
    const reason = `utilization below 20% for ${pool.options.scaleDownAfterMs} ms`;
    pool.events.fire({ type: 'scale', profile: pool.profile, direction: 'down', from: load.live, to: load.live - 1, reason, at: pool.options.clock.wallNow() });
    void this.supervisor.retire(victim, 'draining', reason);
    pool.shrunk(this.maxLimit - (load.live - 1));
  }
}

/** Who goes first when the pool shrinks: crashed agents not yet back, then starting, idle, busy. */
function rankForStopping(agent: PooledAgent): number {
  return agent.awaitingRestart ? -1 : agent.state === 'starting' ? 0 : agent.state === 'idle' ? 1 : 2;
}

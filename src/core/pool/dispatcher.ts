import { describeHolders } from '../budget/budget';
import type { Emitter } from '../common/event';
import type { ConversationTable } from '../conversations/conversationTable';
import { describePair, mayServe, pairKey, type ModuleAffinity } from './routers/affinity';
import type { PooledAgent } from './agentRecord';
import type { AgentTable } from './agentTable';
import type { PoolLoad } from './policies/autoscaler';
import type { CircuitBreaker } from './policies/circuitBreaker';
import { PoolError, type WaitReason } from './errors';
import type { AgentState, PoolEvent } from './events';
import { Lease, type AcquireOptions, type LeaseHost, type LeaseTurns } from './lease';
import type { ResolvedPoolOptions } from './options';
import { ROUTING_STRATEGIES, type RoutingState, type RoutingStrategy } from './routers/agentRouters';
import type { Supervisor } from './supervisor';
import { WaitQueue, type Waiter } from './waitQueue';

/** What the dispatcher needs from its pool. */
export interface DispatchHost extends LeaseHost {
  readonly options: ResolvedPoolOptions;
  readonly profile: string;
  readonly closed: boolean;
  readonly breaker: CircuitBreaker;
  readonly events: Emitter<PoolEvent>;
  readonly conversations: ConversationTable;
  readonly affinity: ModuleAffinity;
  readonly maxAgents: number;
  load(): PoolLoad;
  /** The one place agent states change (AgentTable.transition). */
  transition(agent: PooledAgent, to: AgentState, reason?: string): void;
  afterChange(): void;
  /** An agent was just handed out: the autoscaler may keep one ahead. */
  afterHandOut(): void;
}

/**
 * Hands agents out: routes a request to an idle agent through the pool's strategy, or queues it
 * (bounded, highest priority first) with a timeout and an error that says why it waited. A request
 * with `agentId` waits for that agent only and fails at once when it cannot come.
 */
export class Dispatcher {
  private readonly queue = new WaitQueue();
  private readonly strategy: RoutingStrategy;
  private readonly routingState: RoutingState & { lastPickedOrdinal: number };
  private sequence = 0;
  /** Queued requests that target one agent: they do not ask the autoscaler for more agents. */
  private targeted = 0;

  constructor(
    private readonly host: DispatchHost,
    private readonly table: AgentTable,
    private readonly supervisor: Supervisor,
    /** Handed to each lease: its prompts go straight to the turn runner. */
    private readonly turns: LeaseTurns,
  ) {
    const { options } = host;
    this.strategy = ROUTING_STRATEGIES[options.strategy];
    this.routingState = {
      lastPickedOrdinal: -1,
      rng: options.rng,
      sticky: host.conversations,
      liveAgentIds: table.liveAgentIds,
      affinity: host.affinity.pairs,
      dedicated: host.affinity.dedicated,
      candidatesById: table.idleById,
    };
  }

  get queued(): number {
    return this.queue.size;
  }

  /** Queued requests that any agent could serve. */
  get routable(): number {
    return this.queue.size - this.targeted;
  }

  /**
   * The lease at once when an idle agent can take the request now, without a promise; undefined
   * when it must go through `acquire` (queued work first, a target agent, a closed pool or circuit).
   */
  acquireNow(options: AcquireOptions, task = options.task): Lease | undefined {
    const { host } = this;
    if (host.closed || host.breaker.state === 'open' || options.agentId !== undefined || options.signal?.aborted) return undefined;
    if (this.queue.size > 0 || this.table.idle.length === 0) return undefined;
    const lease = this.serveNow(options, task);
    if (lease) host.afterHandOut();
    return lease;
  }

  /** Queued requests that no idle agent may take, because each idle one is dedicated to another module pair. */
  blockedByDedication(): number {
    const dedicated = this.host.affinity.dedicated;
    if (!dedicated || dedicated.size === 0 || this.queue.size === this.targeted) return 0;
    let blocked = 0;
    for (const waiter of this.queue) {
      if (waiter.request.agentId !== undefined) continue;
      const key = pairKey(waiter.request.sourceModule, waiter.request.targetModule);
      if (!this.table.idle.some((agent) => mayServe(dedicated, agent.id, key))) blocked++;
    }
    return blocked;
  }

  /** `task` overrides options.task as the agent's current task (run() passes the prompt's start). */
  acquire(options: AcquireOptions, task = options.task): Promise<Lease> {
    const { host } = this;
    if (host.closed) return Promise.reject(this.closedError());
    // Before anything else: an idle agent must not go to a request its caller already gave up.
    if (options.signal?.aborted) return Promise.reject(this.cancelledError());
    if (host.breaker.state === 'open') return Promise.reject(this.circuitError());
    if (options.agentId !== undefined) {
      const unavailable = this.targetUnavailable(options.agentId);
      if (unavailable) return Promise.reject(unavailable);
    }
    if (this.queue.size === 0 && this.table.idle.length > 0) {
      const lease = this.serveNow(options, task);
      if (lease) {
        host.afterHandOut();
        return Promise.resolve(lease);
      }
    }
    return new Promise<Lease>((resolve, reject) => {
      const { clock } = host.options;
      const waiter: Waiter = { request: options, task, priority: options.priority ?? 0, sequence: this.sequence++, enqueuedAt: clock.monotonicNow(), resolve, reject };
      if (this.queue.size >= host.options.queueLimit) {
        const [waitReason, why] = this.waitReason(options);
        reject(new PoolError('POOL_QUEUE_FULL', `Agent pool "${host.profile}" refused the request: ${this.queue.size} request(s) already wait (queueLimit ${host.options.queueLimit}) because ${why}.`, { waitReason }));
        return;
      }
      const timeoutMs = options.timeout ?? host.options.acquireTimeoutMs;
      const onAbort = () => this.fail(waiter, this.cancelledError());
      options.signal?.addEventListener('abort', onAbort, { once: true });
      waiter.timer = clock.setTimeout(() => {
        const [waitReason, why] = this.waitReason(options);
        const what = options.agentId === undefined ? `No "${host.profile}" agent` : `Agent ${options.agentId} of pool "${host.profile}"`;
        this.fail(waiter, new PoolError('POOL_ACQUIRE_TIMEOUT', `${what} became free within ${timeoutMs} ms: ${why}.`, { waitReason }));
      }, timeoutMs);
      waiter.cleanup = () => {
        options.signal?.removeEventListener('abort', onAbort);
        if (waiter.timer) clock.clearTimeout(waiter.timer);
      };
      this.queue.add(waiter);
      if (options.agentId !== undefined) this.targeted++;
      host.events.fire({ type: 'queue', profile: host.profile, depth: this.queue.size });
      host.afterChange();
    });
  }

  /** Hands queued requests to idle agents, highest priority first; fails requests whose target is gone. */
  pump(): void {
    if (this.targeted > 0) this.failLostTargets();
    if (this.queue.size === 0 || this.table.idle.length === 0) return;
    for (const waiter of this.queue) {
      if (this.table.idle.length === 0) break;
      // A listener of the events fired below may acquire and pump again: skip whom that served.
      if (!this.queue.has(waiter)) continue;
      const lease = this.serveNow(waiter.request, waiter.task);
      if (!lease) continue;
      this.remove(waiter);
      waiter.cleanup?.();
      waiter.resolve(lease);
      this.host.events.fire({ type: 'queue', profile: this.host.profile, depth: this.queue.size, waitedMs: this.host.options.clock.monotonicNow() - waiter.enqueuedAt });
    }
  }

  /** Rejects everything queued (the pool closes, or the circuit opened). */
  rejectAll(error: () => Error): void {
    this.targeted = 0;
    for (const waiter of this.queue.drain()) {
      waiter.cleanup?.();
      waiter.reject(error());
    }
  }

  circuitError(): PoolError {
    const { host } = this;
    return new PoolError('POOL_CIRCUIT_OPEN', `Agent profile "${host.profile}" is paused (circuit ${host.breaker.state}): ${host.breaker.reason ?? 'too many failures'}.`, { waitReason: 'circuit-open' });
  }

  private cancelledError(): PoolError {
    return new PoolError('POOL_ACQUIRE_CANCELLED', `waiting for a "${this.host.profile}" agent was cancelled`);
  }

  closedError(): PoolError {
    return new PoolError('POOL_CLOSED', `Agent pool "${this.host.profile}" is closed and accepts no more work.`);
  }

  /** Routes the request to an idle agent and leases it, or returns undefined when it must wait. */
  private serveNow(request: AcquireOptions, task: string | undefined): Lease | undefined {
    const { host, table } = this;
    while (table.idle.length > 0) {
      if (host.breaker.state === 'open') return undefined;
      const agent = (
        request.agentId !== undefined ? table.idleById.get(request.agentId) : request.sessionKey !== undefined ? this.conversationAgent(request) : this.strategy(request, table.idle, this.routingState)
      ) as PooledAgent | undefined;
      if (!agent) return undefined;
      const health = agent.connection?.health();
      if (!health?.alive || !health.ready) {
        void this.supervisor.retire(agent, 'unhealthy', 'failed the health check before hand-out');
        continue;
      }
      const now = host.options.clock.monotonicNow();
      const lease = new Lease(host, this.turns, agent.id, host.profile, request, now);
      if (host.breaker.state === 'half-open' && !host.breaker.tryPass(lease)) return undefined;
      // Claimed at hand-out, before its session opens: a second turn of it must wait for this agent.
      if (request.sessionKey !== undefined) this.claimConversation(request.sessionKey, agent);
      agent.leaseTo(lease, task, now);
      host.transition(agent, 'busy');
      this.routingState.lastPickedOrdinal = agent.ordinal;
      if (host.affinity.dedicated) host.affinity.dedicate(agent.id, request.sourceModule, request.targetModule);
      return lease;
    }
    return undefined;
  }

  /**
   * Where a conversation's turn goes, whatever the strategy: to the agent holding its session, or
   * nowhere yet while that agent is busy or starting (the turn waits, with the usual timeout and
   * cancel). The strategy chooses only for a new conversation or one whose agent has gone; that
   * turn then resumes the session on the agent chosen.
   */
  private conversationAgent(request: AcquireOptions): PooledAgent | undefined {
    const { table } = this;
    const held = this.host.conversations.get(request.sessionKey!)?.agentId;
    if (held !== undefined && table.liveAgentIds.has(held)) return table.idleById.get(held);
    return this.strategy(request, table.idle, this.routingState) as PooledAgent | undefined;
  }

  private claimConversation(key: string, agent: PooledAgent): void {
    const conversation = this.host.conversations.open(key);
    // Sent to another agent on purpose (agentId): the old holder's copy of the session is stale from now on.
    if (conversation.agentId !== undefined && conversation.agentId !== agent.id) this.table.agents.get(conversation.agentId)?.stickySessions.delete(key);
    conversation.agentId = agent.id;
  }

  /** Why a request for `agentId` can never be served, or undefined while the agent may still come. */
  private targetUnavailable(agentId: string): PoolError | undefined {
    const agent = this.table.agents.get(agentId);
    const profile = this.host.profile;
    if (!agent) {
      return new PoolError(
        'POOL_AGENT_NOT_FOUND',
        `Agent pool "${profile}" has no agent "${agentId}" (it may have been stopped, scaled down or recycled under a new id). Live agents: ${this.table.describeLive()}. Pick one of them or send the prompt to the pool.`,
      );
    }
    if (agent.state === 'idle' || agent.state === 'busy' || agent.state === 'starting' || agent.awaitingRestart) return undefined;
    return new PoolError(
      'POOL_AGENT_UNAVAILABLE',
      `Agent ${agentId} of pool "${profile}" is ${agent.state} and takes no more work${agent.state === 'recycling' ? ' (a fresh agent replaces it under a new id)' : ''}. Live agents: ${this.table.describeLive()}. Pick another agent or send the prompt to the pool.`,
    );
  }

  private failLostTargets(): void {
    for (const waiter of this.queue) {
      const agentId = waiter.request.agentId;
      if (agentId === undefined) continue;
      const unavailable = this.targetUnavailable(agentId);
      if (unavailable) this.fail(waiter, unavailable);
    }
  }

  private fail(waiter: Waiter, error: Error): void {
    if (!this.remove(waiter)) return;
    waiter.cleanup?.();
    waiter.reject(error);
    this.host.events.fire({ type: 'queue', profile: this.host.profile, depth: this.queue.size, waitedMs: this.host.options.clock.monotonicNow() - waiter.enqueuedAt });
  }

  private remove(waiter: Waiter): boolean {
    if (!this.queue.remove(waiter)) return false;
    if (waiter.request.agentId !== undefined) this.targeted--;
    return true;
  }

  private waitReason(request: AcquireOptions): [WaitReason, string] {
    const { host, supervisor } = this;
    if (host.breaker.state !== 'closed') return ['circuit-open', `the circuit breaker of profile "${host.profile}" is ${host.breaker.state}: ${host.breaker.reason ?? 'no reason recorded'}`];
    const holder = request.sessionKey === undefined ? undefined : this.host.conversations.get(request.sessionKey)?.agentId;
    if (holder !== undefined && request.agentId === undefined && this.table.liveAgentIds.has(holder)) {
      const agent = this.table.agents.get(holder);
      const doing = agent?.state === 'busy' ? `busy${agent.currentTask ? ` with "${agent.currentTask}"` : ''}` : (agent?.state ?? 'gone');
      return ['target-agent-busy', `conversation "${request.sessionKey}" waits for agent ${holder}, which holds its session and is ${doing}; a conversation's turns run one at a time on its agent`];
    }
    if (request.agentId !== undefined) {
      const agent = this.table.agents.get(request.agentId);
      const doing = agent?.awaitingRestart ? 'restarting' : agent?.state === 'busy' ? `busy${agent.currentTask ? ` with "${agent.currentTask}"` : ''}` : (agent?.state ?? 'gone');
      return ['target-agent-busy', `the request targets agent ${request.agentId} only, and it is ${doing}; send it to the pool to let any agent take it`];
    }
    const load = host.load();
    if (load.live < host.maxAgents && supervisor.budgetRefusal !== undefined) {
      return ['budget-exhausted', `the global agent budget is exhausted (${describeHolders(host.options.budget.snapshot())}); stop an agent or raise agentPool.maxAgentsTotal`];
    }
    const limit = `the pool is at its limit (maxAgents ${host.maxAgents}${host.options.autoscale ? '' : ', autoscaling off'})`;
    const dedicated = host.affinity.dedicated;
    if (dedicated && dedicated.size > 0 && load.starting === 0) {
      const key = pairKey(request.sourceModule, request.targetModule);
      const wanted = key === undefined ? 'work with no module pair' : `the pair ${describePair(key)}`;
      const serving = [...this.table.agents.values()].filter((agent) => (agent.state === 'idle' || agent.state === 'busy') && mayServe(dedicated, agent.id, key));
      const elsewhere = [...dedicated].filter(([id, owner]) => owner !== key && this.table.agents.get(id)?.live);
      const pairs = [...new Set(elsewhere.map(([, owner]) => describePair(owner)))].join(', ');
      if (serving.length === 0) {
        return ['agents-dedicated', `every agent (${elsewhere.length}) is dedicated to another module pair (${pairs}), none may take ${wanted}, and ${limit}; raise agentPool.pool.maxAgents or dedicate fewer agents`];
      }
      if (elsewhere.length > 0) {
        return ['all-agents-busy', `all ${serving.length} agent(s) that may take ${wanted} are busy, ${elsewhere.length} other(s) are dedicated to other module pairs (${pairs}), and ${limit}`];
      }
    }
    if (load.starting > 0) return ['agents-starting', `${load.starting} agent(s) are still starting and all others are busy`];
    return ['all-agents-busy', `all ${load.busy} agent(s) are busy and ${limit}`];
  }
}

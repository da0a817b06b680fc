import type { PromptResult } from '../agents/adapter';
import { describeHolders } from '../budget/budget';
import { Emitter, type Disposable } from '../common/event';
import { canTransition, type PooledAgent } from './agentRecord';
import { isUnderused, ScaleDownTimer, spawnsWanted, type PoolLoad } from './autoscaler';
import { CircuitBreaker } from './circuitBreaker';
import { PoolError, type WaitReason } from './errors';
import type { AgentState, PoolEvent, PoolSnapshot } from './events';
import { Lease, type AcquireOptions, type LeaseHost, type TurnOptions } from './lease';
import { resolvePoolOptions, type PoolOptions, type ResolvedPoolOptions } from './options';
import { RecycleMonitor, recycleReason } from './recycler';
import { pairKey, ROUTING_STRATEGIES, type RoutingStrategy } from './routing';
import { Supervisor, type SupervisedPool } from './supervisor';
import { TurnRunner } from './turnRunner';
import { waitUntil, withTimeout } from './waiting';
import { WaitQueue, type Waiter } from './waitQueue';

export interface RunOptions extends AcquireOptions, TurnOptions {}

export type RunResult = PromptResult & { agentId: string; sessionId: string };

/**
 * A pool of warm agent processes of one profile.
 *
 * Shutdown order (close()): 1. stop accepting work and reject everything queued; 2. let running
 * turns finish for `shutdownGraceMs`, then cancel them and wait `cancelGraceMs`; 3. kill every
 * agent's process group (SIGTERM, SIGKILL after `killGraceMs`); 4. release each budget slot once
 * its process is gone.
 */
export class AgentPool implements SupervisedPool, LeaseHost, Disposable {
  readonly options: ResolvedPoolOptions;
  readonly agents = new Map<string, PooledAgent>();
  readonly events = new Emitter<PoolEvent>();
  readonly onDidEvent = this.events.event;
  readonly breaker: CircuitBreaker;
  closed = false;

  private readonly supervisor: Supervisor;
  private readonly turns: TurnRunner;
  private readonly queue = new WaitQueue();
  private readonly strategy: RoutingStrategy;
  /** Idle agents in ordinal order (what strategies expect), and the same by id. */
  private readonly idle: PooledAgent[] = [];
  private readonly idleById = new Map<string, PooledAgent>();
  private readonly stateCounts: Record<AgentState, number> = { starting: 0, idle: 0, busy: 0, draining: 0, recycling: 0, unhealthy: 0, stopped: 0 };
  private readonly liveAgentIds = new Set<string>();
  readonly sticky = new Map<string, { agentId: string; sessionId?: string }>();
  readonly affinity = new Map<string, Map<string, number>>();
  private readonly dedicated: Map<string, string> | undefined;
  private readonly routingState;
  private readonly scaleDown: ScaleDownTimer;
  private readonly subscriptions: Disposable[] = [];
  private minAgents: number;
  private maxAgents: number;
  private sequence = 0;
  private closing: Promise<void> | undefined;
  private readonly recycleMonitor: RecycleMonitor;

  constructor(options: PoolOptions) {
    this.options = resolvePoolOptions(options);
    this.minAgents = this.options.minAgents;
    this.maxAgents = this.options.maxAgents;
    this.strategy = ROUTING_STRATEGIES[this.options.strategy];
    this.dedicated = this.options.dedicatedPairs && this.options.strategy === 'module-affinity' ? new Map() : undefined;
    this.routingState = {
      lastPickedOrdinal: -1,
      rng: this.options.rng,
      sticky: this.sticky,
      liveAgentIds: this.liveAgentIds,
      affinity: this.affinity,
      dedicated: this.dedicated,
      candidatesById: this.idleById,
    };
    this.breaker = new CircuitBreaker(
      { failureThreshold: this.options.circuitFailureThreshold, cooldownMs: this.options.circuitCooldownMs, clock: this.options.clock },
      (state, reason) => this.onCircuitChange(state, reason),
    );
    this.supervisor = new Supervisor(this);
    this.turns = new TurnRunner(this, this.supervisor);
    this.recycleMonitor = new RecycleMonitor(this.options, () => this.agents.values(), (agent, reason) => {
      if (this.closed) return;
      if (agent.state === 'idle') this.recycle(agent, reason);
      else agent.recyclePending = reason;
    });
    this.scaleDown = new ScaleDownTimer(this.options.clock, this.options.scaleDownAfterMs, () => this.onLongIdle());
    this.subscriptions.push(
      this.options.budget.onDidChange(() => {
        if (this.supervisor.budgetRefusal !== undefined) this.ensureCapacity();
      }),
    );
  }

  get profile(): string {
    return this.options.profile.name;
  }

  /** Starts minAgents and resolves once they are ready; rejects with the reason if the profile cannot start. */
  async start(): Promise<void> {
    if (this.closed) throw this.closedError();
    await Promise.all(this.ensureCapacity());
    this.recycleMonitor.start();
    if (this.breaker.state === 'open' && this.supervisor.lastStartError) {
      throw new PoolError('POOL_CIRCUIT_OPEN', this.supervisor.lastStartError);
    }
  }

  acquire(options: AcquireOptions = {}): Promise<Lease> {
    if (this.closed) return Promise.reject(this.closedError());
    if (this.breaker.state === 'open') return Promise.reject(this.circuitError());
    if (this.queue.size === 0 && this.idle.length > 0) {
      const lease = this.serveNow(options);
      if (lease) return Promise.resolve(lease);
    }
    return new Promise<Lease>((resolve, reject) => {
      const waiter: Waiter = {
        request: options,
        priority: options.priority ?? 0,
        sequence: this.sequence++,
        enqueuedAt: this.options.clock.monotonicNow(),
        resolve,
        reject,
      };
      if (this.queue.size >= this.options.queueLimit) {
        const [waitReason, why] = this.waitReason();
        reject(new PoolError('POOL_QUEUE_FULL', `Agent pool "${this.profile}" refused the request: ${this.queue.size} request(s) already wait (queueLimit ${this.options.queueLimit}) because ${why}.`, { waitReason }));
        return;
      }
      const timeoutMs = options.timeout ?? this.options.acquireTimeoutMs;
      const onAbort = () => this.failWaiter(waiter, new PoolError('POOL_ACQUIRE_CANCELLED', `waiting for a "${this.profile}" agent was cancelled`));
      if (options.signal?.aborted) return onAbort();
      options.signal?.addEventListener('abort', onAbort, { once: true });
      waiter.timer = this.options.clock.setTimeout(() => {
        const [waitReason, why] = this.waitReason();
        this.failWaiter(waiter, new PoolError('POOL_ACQUIRE_TIMEOUT', `No "${this.profile}" agent became free within ${timeoutMs} ms: ${why}.`, { waitReason }));
      }, timeoutMs);
      waiter.cleanup = () => {
        options.signal?.removeEventListener('abort', onAbort);
        if (waiter.timer) this.options.clock.clearTimeout(waiter.timer);
      };
      this.queue.add(waiter);
      this.events.fire({ type: 'queue', profile: this.profile, depth: this.queue.size });
      this.afterChange();
    });
  }

  /** acquire + one turn + release. Events stream to `options.onEvent`. */
  async run(prompt: string, options: RunOptions = {}): Promise<RunResult> {
    const lease = await this.acquire({ ...options, task: options.task ?? prompt.slice(0, 80) });
    try {
      const result = await lease.prompt(prompt, options);
      return { ...result, agentId: lease.agentId };
    } finally {
      lease.release();
    }
  }

  runLeasedTurn(lease: Lease, text: string, options: TurnOptions): Promise<PromptResult & { sessionId: string }> {
    return this.turns.run(lease, text, options);
  }

  releaseLease(lease: Lease): void {
    const agent = this.agents.get(lease.agentId);
    if (!agent || agent.lease !== lease) return;
    const now = this.options.clock.monotonicNow();
    agent.lease = undefined;
    agent.currentTask = undefined;
    agent.busyMs += now - agent.leasedAt;
    agent.lastReleasedAt = now;
    if (this.breaker.state === 'half-open') this.breaker.releaseTrial();
    if (agent.state === 'draining') {
      if (!this.closed) void this.supervisor.retire(agent, 'draining', 'stopped after its lease');
      return;
    }
    if (agent.state !== 'busy') return;
    const reason = recycleReason(agent, now, this.options);
    if (reason) return this.recycle(agent, reason);
    this.transition(agent, 'idle');
    this.afterChange();
  }

  /** The one place agent states change: checks the transition table and fires the event. */
  transition(agent: PooledAgent, to: AgentState, reason?: string): void {
    const from = agent.state;
    if (from === to) return;
    if (!canTransition(from, to)) throw new Error(`agent ${agent.id} cannot go from ${from ?? 'new'} to ${to}`);
    agent.state = to;
    if (from) this.stateCounts[from]--;
    this.stateCounts[to]++;
    if (from === 'idle') {
      this.idle.splice(this.idle.indexOf(agent), 1);
      this.idleById.delete(agent.id);
    }
    if (to === 'idle') {
      let index = this.idle.length;
      while (index > 0 && this.idle[index - 1].ordinal > agent.ordinal) index--;
      this.idle.splice(index, 0, agent);
      this.idleById.set(agent.id, agent);
    }
    if (to === 'stopped') this.liveAgentIds.delete(agent.id);
    else this.liveAgentIds.add(agent.id);
    this.events.fire({ type: 'agent-state', agentId: agent.id, profile: this.profile, from, to, reason });
  }

  afterChange(): void {
    if (this.closed) return;
    this.pump();
    const load = this.load();
    this.ensureCapacity(load);
    this.scaleDown.update(this.options.autoscale && isUnderused(load));
  }

  liveCount(): number {
    let live = this.supervisor.pendingSpawns;
    for (const agent of this.agents.values()) if (agent.live) live++;
    return live;
  }

  /** Changes the size limits at run time; agents above the new maximum stop (busy ones after their lease). */
  scale(limits: { minAgents?: number; maxAgents?: number }): void {
    const minAgents = limits.minAgents ?? this.minAgents;
    const maxAgents = limits.maxAgents ?? this.maxAgents;
    resolvePoolOptions({ ...this.optionsForValidation(), minAgents, maxAgents });
    this.minAgents = minAgents;
    this.maxAgents = maxAgents;
    const excess = this.liveCount() - maxAgents;
    if (excess > 0) {
      const victims = [...this.agents.values()].filter((a) => a.state === 'idle' || a.state === 'starting' || a.state === 'busy');
      victims.sort((a, b) => rankForStopping(a) - rankForStopping(b) || a.lastReleasedAt - b.lastReleasedAt);
      const from = this.liveCount();
      this.events.fire({ type: 'scale', profile: this.profile, direction: 'down', from, to: from - excess, reason: `maxAgents set to ${maxAgents}`, at: this.options.clock.wallNow() });
      for (const agent of victims.slice(0, excess)) this.stopAgent(agent.id);
    }
    this.afterChange();
  }

  /** Stops one agent: at once when idle, after its lease when busy. */
  stopAgent(agentId: string): void {
    const agent = this.agents.get(agentId);
    if (!agent || agent.state === 'stopped') return;
    if (agent.state === 'busy') this.transition(agent, 'draining', 'stop requested');
    else void this.supervisor.retire(agent, 'draining', 'stop requested');
  }

  /** Replaces an agent with a fresh process: at once when idle, after its lease when busy. */
  recycleAgent(agentId: string): void {
    const agent = this.agents.get(agentId);
    if (!agent) return;
    if (agent.state === 'busy') agent.recyclePending = 'manual';
    else if (agent.state === 'idle') this.recycle(agent, 'manual');
  }

  /** Forgets a conversation's binding to an agent and session. */
  forgetSession(sessionKey: string): void {
    const binding = this.sticky.get(sessionKey);
    this.sticky.delete(sessionKey);
    if (binding) this.agents.get(binding.agentId)?.stickySessions.delete(sessionKey);
  }

  snapshot(): PoolSnapshot {
    return {
      profile: this.profile,
      minAgents: this.minAgents,
      maxAgents: this.maxAgents,
      strategy: this.options.strategy,
      agents: [...this.agents.values()].map((agent) => agent.info(this.profile)),
      queueDepth: this.queue.size,
      circuit: { state: this.breaker.state, reason: this.breaker.reason },
      closed: this.closed,
    };
  }

  load(): PoolLoad {
    const counts = this.stateCounts;
    return {
      live: this.liveCount(),
      starting: counts.starting + this.supervisor.pendingSpawns,
      idle: counts.idle,
      busy: counts.busy,
      queued: this.queue.size,
      minAgents: this.minAgents,
      maxAgents: this.maxAgents,
    };
  }

  close(): Promise<void> {
    return (this.closing ??= this.shutdown());
  }

  dispose(): void {
    void this.close();
  }

  private async shutdown(): Promise<void> {
    const { clock, shutdownGraceMs, cancelGraceMs } = this.options;
    // 1. Stop accepting work.
    this.closed = true;
    for (const waiter of this.queue.drain()) this.settleWaiter(waiter, undefined, this.closedError());
    this.scaleDown.dispose();
    this.recycleMonitor.dispose();
    this.supervisor.stopRestarts();
    this.breaker.dispose();
    for (const subscription of this.subscriptions.splice(0)) subscription.dispose();
    // 2. Running turns get a grace to finish, then are cancelled.
    const leased = [...this.agents.values()].filter((agent) => agent.lease);
    for (const agent of leased) if (agent.state === 'busy') this.transition(agent, 'draining', 'pool closing');
    await waitUntil(this.events.event, () => leased.every((agent) => !agent.lease || !agent.connection), shutdownGraceMs, clock);
    const open = leased.filter((agent) => agent.turn && agent.connection);
    for (const agent of open) void agent.connection!.cancel(agent.turn!.sessionId).catch(() => undefined);
    await withTimeout(Promise.all(open.map((agent) => agent.turn?.settled)), cancelGraceMs, clock);
    // 3 and 4. Kill every process group; each slot is released once its process is gone.
    await Promise.all([...this.agents.values()].map((agent) => this.supervisor.retire(agent, 'draining', 'pool closing')));
    this.events.dispose();
  }

  /** Hands queued requests to idle agents, highest priority first. */
  private pump(): void {
    if (this.queue.size === 0 || this.idle.length === 0) return;
    for (const waiter of this.queue) {
      if (this.idle.length === 0) break;
      if (this.tryServe(waiter)) {
        this.queue.remove(waiter);
        waiter.cleanup?.();
        this.events.fire({ type: 'queue', profile: this.profile, depth: this.queue.size, waitedMs: this.options.clock.monotonicNow() - waiter.enqueuedAt });
      }
    }
  }

  private tryServe(waiter: Waiter): boolean {
    const lease = this.serveNow(waiter.request);
    if (lease) waiter.resolve(lease);
    return lease !== undefined;
  }

  /** Routes the request to an idle agent and leases it, or returns undefined when it must wait. */
  private serveNow(request: AcquireOptions): Lease | undefined {
    while (this.idle.length > 0) {
      if (this.breaker.state === 'open') return undefined;
      const agent = this.strategy(request, this.idle, this.routingState) as PooledAgent | undefined;
      if (!agent) return undefined;
      const health = agent.connection?.health();
      if (!health?.alive || !health.ready) {
        void this.supervisor.retire(agent, 'unhealthy', 'failed the health check before hand-out');
        continue;
      }
      if (this.breaker.state === 'half-open' && !this.breaker.tryPass()) return undefined;
      const now = this.options.clock.monotonicNow();
      const lease = new Lease(this, agent.id, this.profile, request, now);
      agent.lease = lease;
      agent.leasedAt = now;
      agent.currentTask = request.task;
      this.transition(agent, 'busy');
      this.routingState.lastPickedOrdinal = agent.ordinal;
      if (this.dedicated) {
        const pair = pairKey(request.sourceModule, request.targetModule);
        if (pair !== undefined) this.dedicated.set(agent.id, pair);
      }
      return lease;
    }
    return undefined;
  }

  private failWaiter(waiter: Waiter, error: Error): void {
    if (this.queue.remove(waiter)) {
      this.settleWaiter(waiter, undefined, error);
      this.events.fire({ type: 'queue', profile: this.profile, depth: this.queue.size, waitedMs: this.options.clock.monotonicNow() - waiter.enqueuedAt });
    }
  }

  private settleWaiter(waiter: Waiter, lease: Lease | undefined, error?: Error): void {
    waiter.cleanup?.();
    if (error) waiter.reject(error);
    else waiter.resolve(lease!);
  }

  private ensureCapacity(load = this.load()): Promise<void>[] {
    if (this.closed || this.breaker.state === 'open') return [];
    let { count, reason } = spawnsWanted(load, this.options.autoscale);
    if (this.breaker.state === 'half-open') count = Math.min(count, this.breaker.isPassable() && this.stateCounts.idle === 0 ? 1 : 0);
    const spawns: Promise<void>[] = [];
    for (let i = 0; i < count; i++) spawns.push(this.supervisor.spawn(undefined, reason));
    return spawns;
  }

  private recycle(agent: PooledAgent, reason: 'age' | 'turns' | 'memory' | 'manual'): void {
    this.events.fire({ type: 'recycle', agentId: agent.id, profile: this.profile, reason });
    void this.supervisor.retire(agent, 'recycling', `recycled (${reason})`);
  }

  private onLongIdle(): void {
    const load = this.load();
    if (this.closed || !this.options.autoscale || !isUnderused(load)) return;
    let victim: PooledAgent | undefined;
    for (const agent of this.idle) if (!victim || agent.lastReleasedAt < victim.lastReleasedAt) victim = agent;
    if (!victim) return;
    const reason = `utilization below 20% for ${this.options.scaleDownAfterMs} ms`;
    this.events.fire({ type: 'scale', profile: this.profile, direction: 'down', from: load.live, to: load.live - 1, reason, at: this.options.clock.wallNow() });
    void this.supervisor.retire(victim, 'draining', reason);
  }

  private onCircuitChange(state: 'closed' | 'open' | 'half-open', reason: string | undefined): void {
    this.events.fire({ type: 'circuit', profile: this.profile, state, reason });
    if (state === 'open') {
      for (const waiter of this.queue.drain()) this.settleWaiter(waiter, undefined, this.circuitError());
    } else {
      this.afterChange();
    }
  }

  private waitReason(): [WaitReason, string] {
    if (this.breaker.state !== 'closed') return ['circuit-open', `the circuit breaker of profile "${this.profile}" is ${this.breaker.state}: ${this.breaker.reason ?? 'no reason recorded'}`];
    const load = this.load();
    if (load.live < this.maxAgents && this.supervisor.budgetRefusal !== undefined) {
      return ['budget-exhausted', `the global agent budget is exhausted (${describeHolders(this.options.budget.snapshot())}); stop an agent or raise agentPool.maxAgentsTotal`];
    }
    if (load.starting > 0) return ['agents-starting', `${load.starting} agent(s) are still starting and all others are busy`];
    return ['all-agents-busy', `all ${load.busy} agent(s) are busy and the pool is at its limit (maxAgents ${this.maxAgents}${this.options.autoscale ? '' : ', autoscaling off'})`];
  }

  private circuitError(): PoolError {
    return new PoolError('POOL_CIRCUIT_OPEN', `Agent profile "${this.profile}" is paused (circuit ${this.breaker.state}): ${this.breaker.reason ?? 'too many failures'}.`, { waitReason: 'circuit-open' });
  }

  private closedError(): PoolError {
    return new PoolError('POOL_CLOSED', `Agent pool "${this.profile}" is closed and accepts no more work.`);
  }

  private optionsForValidation(): PoolOptions {
    const { permissionHandler, log, ...rest } = this.options;
    void permissionHandler;
    void log;
    return rest;
  }
}

function rankForStopping(agent: PooledAgent): number {
  return agent.state === 'starting' ? 0 : agent.state === 'idle' ? 1 : 2;
}

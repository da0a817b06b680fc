import { Emitter, type Disposable } from '../common/event';
import type { ConversationInfo } from '../conversations/conversation';
import { ConversationTable, type AdoptedConversation } from '../conversations/conversationTable';
import { describePair, ModuleAffinity, pairKey } from './routers/affinity';
import type { PooledAgent } from './agentRecord';
import { AgentTable } from './agentTable';
import { isUnderused, ScaleDownTimer, spawnsWanted, type PoolLoad } from './policies/autoscaler';
import { CircuitBreaker } from './policies/circuitBreaker';
import { Dispatcher } from './dispatcher';
import { PoolError } from './errors';
import type { AgentState, PoolEvent, PoolSnapshot } from './events';
import type { AcquireOptions, Lease, LeaseHost, TurnOptions, TurnResult } from './lease';
import { resolvePoolOptions, type PoolOptions, type ResolvedPoolOptions } from './options';
import { RecycleMonitor, recycleCap, recycleReason, type AutomaticRecycleReason, type RecycleReason } from './policies/recycler';
import { shutdownPool } from './shutdown';
import { Supervisor, type SupervisedPool } from './supervisor';
import { TurnRunner } from './turnRunner';

export interface RunOptions extends AcquireOptions, TurnOptions {}

export type RunResult = TurnResult & { agentId: string };
export type { TurnResult };

/**
 * A pool of warm agent processes of one profile. This class holds the public API and the size
 * policy; the agent table (states), the dispatcher (routing and the wait queue), the supervisor
 * (processes) and the turn runner (one prompt) do the work.
 *
 * Shutdown order (close()): 1. stop accepting work and reject everything queued; 2. let running
 * turns finish for `shutdownGraceMs`, then cancel them and wait `cancelGraceMs`; 3. kill every
 * agent's process group (SIGTERM, SIGKILL after `killGraceMs`); 4. release each budget slot once
 * its process is gone.
 */
export class AgentPool implements SupervisedPool, LeaseHost, Disposable {
  readonly options: ResolvedPoolOptions;
  readonly events = new Emitter<PoolEvent>();
  readonly onDidEvent = this.events.event;
  readonly breaker: CircuitBreaker;
  readonly conversations: ConversationTable;
  readonly affinity: ModuleAffinity;
  closed = false;

  private readonly table: AgentTable;
  private readonly supervisor: Supervisor;
  private readonly dispatcher: Dispatcher;
  private readonly turns: TurnRunner;
  private readonly scaleDown: ScaleDownTimer;
  private readonly recycleMonitor: RecycleMonitor<PooledAgent>;
  private readonly subscriptions: Disposable[] = [];
  private minLimit: number;
  private maxLimit: number;
  private closing: Promise<void> | undefined;
  /** One pair key per agent that must serve that pair only (configured, or asked for with createDedicatedAgent). */
  private readonly wantedDedications: string[] = [];
  /** Dedicated spawns in flight, by pair key. */
  private readonly dedicatedSpawns = new Map<string, number>();
  /** Recycled positions' histories, each waiting for the agent that replaces it (see recycleCap). */
  private readonly recycleHistories: number[][] = [];

  constructor(options: PoolOptions) {
    this.options = resolvePoolOptions(options);
    this.minLimit = this.options.minAgents;
    this.maxLimit = this.options.maxAgents;
    this.affinity = new ModuleAffinity(this.options.strategy === 'module-affinity', this.options.dedicatedPairs && this.options.strategy === 'module-affinity');
    for (const pair of this.options.dedicatedAgents) this.wantedDedications.push(pairKey(pair.sourceModule, pair.targetModule)!);
    this.table = new AgentTable(this.options.profile.name, this.events);
    this.conversations = new ConversationTable(this.options.profile.name, () => this.options.clock.wallNow());
    this.breaker = new CircuitBreaker(
      { failureThreshold: this.options.circuitFailureThreshold, cooldownMs: this.options.circuitCooldownMs, clock: this.options.clock },
      (state, reason) => this.onCircuitChange(state, reason),
    );
    this.supervisor = new Supervisor(this);
    this.dispatcher = new Dispatcher(this, this.table, this.supervisor);
    this.turns = new TurnRunner(this, this.supervisor);
    this.recycleMonitor = new RecycleMonitor(this.options, () => this.agents.values(), (agent, reason) => {
      if (this.closed) return;
      if (agent.state === 'idle') this.recycle(agent, reason);
      else agent.recycleAfterLease(reason);
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

  get agents(): Map<string, PooledAgent> {
    return this.table.agents;
  }

  get minAgents(): number {
    return this.minLimit;
  }

  get maxAgents(): number {
    return this.maxLimit;
  }

  /** Starts minAgents and resolves once they are ready; rejects with the reason if the profile cannot start. */
  async start(): Promise<void> {
    if (this.closed) throw this.dispatcher.closedError();
    await Promise.all(this.ensureCapacity());
    this.recycleMonitor.start();
    const failure = this.supervisor.lastStartFailure;
    if (this.breaker.state === 'open' && failure) {
      throw new PoolError('POOL_CIRCUIT_OPEN', failure.facts, { cause: failure, advice: failure.advice });
    }
  }

  /** A lease on one agent. With `agentId`, that agent only (see AcquireOptions.agentId). */
  acquire(options: AcquireOptions = {}): Promise<Lease> {
    return this.dispatcher.acquire(options);
  }

  /** acquire + one turn + release. Events stream to `options.onEvent`. */
  run(prompt: string, options: RunOptions = {}): Promise<RunResult> {
    let task: string | undefined;
    let lease: Lease | undefined;
    try {
      task = options.task ?? prompt.slice(0, 80);
      // A warm agent is handed out synchronously: the round trip pays no wait for the lease.
      lease = this.dispatcher.acquireNow(options, task);
    } catch (error) {
      return Promise.reject(error as Error);
    }
    if (lease) return this.runOnLease(lease, prompt, options);
    return this.dispatcher.acquire(options, task).then((queued) => this.runOnLease(queued, prompt, options));
  }

  /** run()'s own lease, which no caller can touch: the turn goes straight to the runner, past Lease.prompt's guards. */
  private async runOnLease(lease: Lease, prompt: string, options: RunOptions): Promise<RunResult> {
    try {
      const result = (await this.turns.run(lease, prompt, options, lease.acquiredAt)) as RunResult;
      result.agentId = lease.agentId;
      return result;
    } finally {
      lease.release();
    }
  }

  runLeasedTurn(lease: Lease, text: string, options: TurnOptions): Promise<TurnResult> {
    return this.turns.run(lease, text, options);
  }

  releaseLease(lease: Lease): void {
    // First: a trial lease whose agent died or was replaced gives the trial back all the same.
    this.breaker.releaseTrial(lease);
    const agent = this.agents.get(lease.agentId);
    const now = this.options.clock.monotonicNow();
    if (!agent?.release(lease, now)) return;
    if (agent.state === 'draining') {
      // Also while closing: the close waits for this agent, and only a state change tells it the lease ended.
      void this.supervisor.retire(agent, 'draining', 'stopped after its lease');
      return;
    }
    if (agent.state !== 'busy') return;
    const reason = recycleReason(agent, now, this.options);
    if (reason && this.recycle(agent, reason)) return;
    this.transition(agent, 'idle');
    this.afterRelease();
    // After the hand-back, not at the next acquire: the next prompt must not queue behind session/new.
    if (this.options.sessionMode === 'fresh' && (agent.state as AgentState) === 'idle') agent.prepareSession(this.options.cwd);
  }

  /** The one place agent states change (see AgentTable.transition). */
  transition(agent: PooledAgent, to: AgentState, reason?: string): void {
    this.table.transition(agent, to, reason);
  }

  afterChange(): void {
    if (this.closed) return;
    this.dispatcher.pump();
    const load = this.load();
    this.ensureCapacity(load);
    this.scaleDown.update(this.options.autoscale && isUnderused(load));
  }

  /**
   * After an agent was handed out: utilization rose, so the autoscaler may start one ahead (seed
   * 002's 80% rule) and a pending scale-down no longer holds. Cheap when there is no room to grow.
   */
  afterHandOut(): void {
    if (this.closed || !this.options.autoscale || !this.options.keepSpareAgent) return;
    if (this.scaleDown.armed || this.liveCount() < this.maxLimit) {
      const load = this.load();
      this.ensureCapacity(load);
      this.scaleDown.update(isUnderused(load));
    }
  }

  /**
   * afterChange, minus what a release cannot change: a freed agent never calls for a new one unless
   * the pool has room (the hot path of every turn, so it skips building the load when it can).
   */
  private afterRelease(): void {
    if (this.closed) return;
    this.dispatcher.pump();
    const live = this.liveCount();
    if (live < this.minLimit || this.scaleDown.armed || (this.options.autoscale && (live > this.minLimit || live < this.maxLimit))) this.afterChange();
  }

  liveCount(): number {
    return this.table.liveCount() + this.supervisor.pendingSpawns;
  }

  /** Changes the size limits at run time; agents above the new maximum stop (busy ones after their lease). */
  scale(limits: { minAgents?: number; maxAgents?: number }): void {
    const minAgents = limits.minAgents ?? this.minLimit;
    const maxAgents = limits.maxAgents ?? this.maxLimit;
    resolvePoolOptions({ ...this.optionsForValidation(), minAgents, maxAgents });
    this.minLimit = minAgents;
    this.maxLimit = maxAgents;
    // Agents already on their way out (draining, recycling, unhealthy with no restart coming) do not count.
    const staying = [...this.agents.values()].filter((a) => a.awaitingRestart || a.state === 'idle' || a.state === 'starting' || a.state === 'busy');
    const from = staying.length + this.supervisor.pendingSpawns;
    const excess = from - maxAgents;
    if (excess > 0) {
      // Agents holding no conversation go first: a conversation resumes elsewhere, but that is not free.
      staying.sort((a, b) => rankForStopping(a) - rankForStopping(b) || a.stickySessions.size - b.stickySessions.size || a.lastReleasedAt - b.lastReleasedAt);
      this.events.fire({ type: 'scale', profile: this.profile, direction: 'down', from, to: from - excess, reason: `maxAgents set to ${maxAgents}`, at: this.options.clock.wallNow() });
      for (const agent of staying.slice(0, excess)) this.stopAgent(agent.id);
    }
    this.afterChange();
  }

  /** Stops one agent: at once when idle, after its lease when busy; a crashed one is not restarted. */
  stopAgent(agentId: string): void {
    const agent = this.agents.get(agentId);
    if (!agent) return;
    // A stopped dedicated agent is not replaced: the pair no longer wants one more.
    const pinned = this.affinity.pinned.get(agentId);
    if (pinned !== undefined) this.forgetDedication(pinned);
    if (agent.awaitingRestart) return this.supervisor.cancelRestart(agent);
    if (agent.state === 'stopped') return;
    if (agent.state === 'busy') {
      this.transition(agent, 'draining', 'stop requested');
      // Requests waiting for this very agent learn at once that it will not come back.
      this.afterChange();
    } else void this.supervisor.retire(agent, 'draining', 'stop requested');
  }

  /** Replaces an agent with a fresh process under a new id: at once when idle, after its lease when busy. */
  recycleAgent(agentId: string): void {
    const agent = this.agents.get(agentId);
    if (!agent) return;
    if (agent.state === 'busy') agent.recycleAfterLease('manual');
    else if (agent.state === 'idle') this.recycle(agent, 'manual');
  }

  /**
   * Restarts an agent now, keeping its id: a running turn fails at once with POOL_AGENT_LOST ("restarted
   * by the user"), the process group is killed, and a new process starts at once (no backoff; not a
   * crash; no effect on the circuit). A crashed agent waiting for its backoff restarts at once.
   * Throws POOL_AGENT_NOT_FOUND for an unknown id and POOL_AGENT_UNAVAILABLE for one being stopped;
   * the promise resolves once the new process is ready and rejects with the reason if it cannot start.
   * A caller that ignores the promise causes no unhandled rejection.
   */
  restartAgent(agentId: string): Promise<void> {
    const agent = this.agents.get(agentId);
    if (this.closed) throw this.dispatcher.closedError();
    if (!agent) {
      throw new PoolError('POOL_AGENT_NOT_FOUND', `Agent pool "${this.profile}" has no agent "${agentId}" to restart. Live agents: ${this.table.describeLive()}.`);
    }
    if (agent.state === 'draining' || (agent.state === 'stopped' && !agent.awaitingRestart)) {
      throw new PoolError('POOL_AGENT_UNAVAILABLE', `Agent ${agentId} of pool "${this.profile}" is being stopped and will not be restarted; scale the pool up for a new agent.`);
    }
    if (this.breaker.state === 'open') throw this.dispatcher.circuitError();
    const restarted = this.supervisor.restartNow(agent, 'restart requested by the user');
    restarted.catch(() => undefined);
    return restarted;
  }

  /** A conversation of this pool, as it stands. */
  conversation(key: string): ConversationInfo | undefined {
    return this.conversations.get(key)?.info();
  }

  /**
   * Takes over a conversation another window or process recorded, so its next turn here resumes
   * the recorded session. An agent here holding an older copy of it lets go of that copy.
   */
  adoptConversation(record: AdoptedConversation): void {
    const stale = this.conversations.adopt(record);
    if (stale !== undefined) this.agents.get(stale)?.stickySessions.delete(record.key);
  }

  /**
   * Ends a conversation: its session is closed with `session/close` where the agent supports it (so
   * idle agents do not pile up sessions), and the next turn with its key starts a new one. Resolves
   * true when it existed here.
   */
  async closeConversation(key: string): Promise<boolean> {
    const conversation = this.conversations.delete(key);
    if (!conversation) return false;
    const holder = conversation.agentId === undefined ? undefined : this.agents.get(conversation.agentId);
    const heldSession = holder?.stickySessions.get(key);
    holder?.stickySessions.delete(key);
    // Not held by a process here (it went, or another window served it): any agent able to close sessions will do.
    const closer = heldSession !== undefined ? holder : conversation.sessionId !== undefined ? this.table.idle.find((agent) => agent.connection?.sessionSupport?.().close) : undefined;
    const sessionId = heldSession ?? conversation.sessionId;
    if (closer?.connection?.closeSession && sessionId !== undefined) {
      await closer.connection.closeSession(sessionId).catch((error: unknown) => this.options.log?.('warn', `closing session ${sessionId} of conversation "${key}": ${String(error)}`));
    }
    this.events.fire({ type: 'conversation', profile: this.profile, key, change: 'closed', conversation: { ...conversation.info(), agentId: undefined } });
    return true;
  }

  snapshot(): PoolSnapshot {
    return {
      profile: this.profile,
      minAgents: this.minLimit,
      maxAgents: this.maxLimit,
      strategy: this.options.strategy,
      agents: [...this.agents.values()].map((agent) => agent.info(this.profile, this.conversations)),
      queueDepth: this.dispatcher.queued,
      circuit: circuitView(this.breaker),
      closed: this.closed,
      conversations: [...this.conversations.values()].map((conversation) => conversation.info()),
    };
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

  close(): Promise<void> {
    return (this.closing ??= this.shutdown());
  }

  /**
   * Stop now, not gracefully: closes the pool and kills every agent's process group at once (a
   * turn in progress fails). The close still releases each slot only once its process is gone.
   */
  hurry(): void {
    void this.close();
    for (const agent of this.agents.values()) void agent.connection?.kill(0).catch(() => undefined);
  }

  dispose(): void {
    void this.close();
  }

  private async shutdown(): Promise<void> {
    // 1. Stop accepting work.
    this.closed = true;
    this.dispatcher.rejectAll(() => this.dispatcher.closedError());
    this.scaleDown.dispose();
    this.recycleMonitor.dispose();
    this.supervisor.stopRestarts();
    this.breaker.dispose();
    for (const subscription of this.subscriptions.splice(0)) subscription.dispose();
    // 2 to 4: see shutdownPool.
    await shutdownPool(this, this.supervisor);
    this.turns.dispose();
    this.events.dispose();
  }

  private ensureCapacity(load = this.load()): Promise<void>[] {
    if (this.closed || this.breaker.state === 'open') return [];
    const spawns: Promise<void>[] = this.wantedDedications.length > 0 && this.breaker.state === 'closed' ? this.ensureDedicated() : [];
    if (spawns.length > 0) load = this.load();
    let { count, reason } = spawnsWanted(load, this.options.autoscale, this.options.keepSpareAgent);
    if (this.breaker.state === 'half-open') count = Math.min(count, this.breaker.isPassable() && this.table.counts.idle === 0 ? 1 : 0);
    for (let i = 0; i < count; i++) spawns.push(this.supervisor.spawn(undefined, reason));
    return spawns;
  }

  /** One live agent per wanted dedication, within maxAgents: a recycled or stopped one is replaced. */
  private ensureDedicated(): Promise<void>[] {
    const spawns: Promise<void>[] = [];
    const wanted = new Map<string, number>();
    for (const key of this.wantedDedications) wanted.set(key, (wanted.get(key) ?? 0) + 1);
    for (const [key, count] of wanted) {
      for (let missing = count - this.affinity.pinnedTo(key) - (this.dedicatedSpawns.get(key) ?? 0); missing > 0 && this.liveCount() < this.maxLimit; missing--) {
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

  /**
   * Starts an agent that serves one module pair only, from its first turn on (seed 000's
   * create_dedicated_instance); resolves with its id once it is ready. It counts toward maxAgents,
   * is replaced when recycled, is never stopped for being idle, and leaves with Stop Agent or a
   * scale down. Needs the module-affinity strategy, the only router that honours dedication.
   */
  async createDedicatedAgent(sourceModule: string | undefined, targetModule: string | undefined): Promise<string> {
    if (this.closed) throw this.dispatcher.closedError();
    const key = pairKey(sourceModule, targetModule);
    if (key === undefined) throw new PoolError('POOL_INVALID_OPTION', `Agent pool "${this.profile}": a dedicated agent needs a module pair (sourceModule and/or targetModule).`);
    if (!this.affinity.dedicated) {
      throw new PoolError('POOL_INVALID_OPTION', `Agent pool "${this.profile}" routes with "${this.options.strategy}"; dedicated agents need the "module-affinity" strategy (setting agentPool.pool.strategy).`);
    }
    if (this.breaker.state === 'open') throw this.dispatcher.circuitError();
    if (this.liveCount() >= this.maxLimit) {
      throw new PoolError('POOL_AT_LIMIT', `Agent pool "${this.profile}" has ${this.liveCount()} agent(s), its maxAgents (${this.maxLimit}): no room for an agent dedicated to ${describePair(key)}. Raise agentPool.pool.maxAgents or scale the pool up.`);
    }
    const before = new Set([...this.affinity.pinned].filter(([, owner]) => owner === key).map(([id]) => id));
    this.wantedDedications.push(key);
    await this.spawnDedicated(key);
    const agent = [...this.affinity.pinned].filter(([id, owner]) => owner === key && !before.has(id)).map(([id]) => this.agents.get(id))[0];
    if (agent && (agent.state === 'idle' || agent.state === 'busy')) return agent.id;
    this.forgetDedication(key);
    const why = (this.breaker.state as string) === 'open' ? `the circuit is open: ${this.breaker.reason}` : (this.supervisor.budgetRefusal ?? this.supervisor.lastStartError ?? 'it stopped while starting');
    throw new PoolError('POOL_AGENT_LOST', `Agent pool "${this.profile}" could not start an agent dedicated to ${describePair(key)}: ${why}.`);
  }

  private forgetDedication(key: string): void {
    const index = this.wantedDedications.lastIndexOf(key);
    if (index >= 0) this.wantedDedications.splice(index, 1);
  }

  /** Replaces the agent unless the cap on recycles per hour holds it back; true when it goes. */
  private recycle(agent: PooledAgent, reason: RecycleReason): boolean {
    if (reason !== 'manual' && this.recycleCapHolds(agent, reason)) return false;
    if (reason !== 'manual') agent.recycleHistory.push(this.options.clock.monotonicNow());
    this.recycleHistories.push(agent.recycleHistory);
    this.events.fire({ type: 'recycle', agentId: agent.id, profile: this.profile, reason });
    void this.supervisor.retire(agent, 'recycling', `recycled (${reason})`);
    return true;
  }

  /** True when this position was recycled recycleMaxPerHour times within the hour: the agent stays, and says so once. */
  private recycleCapHolds(agent: PooledAgent, reason: AutomaticRecycleReason): boolean {
    const now = this.options.clock.monotonicNow();
    const { recent, blockedUntil } = recycleCap(agent.recycleHistory, now, this.options.recycleMaxPerHour);
    agent.recycleHistory = recent;
    if (blockedUntil === undefined) {
      agent.recycleCapped = undefined;
      return false;
    }
    agent.dropPendingRecycle();
    if (agent.recycleCapped !== reason) {
      agent.recycleCapped = reason;
      const resumesAt = this.options.clock.wallNow() + (blockedUntil - now);
      this.events.fire({ type: 'recycle-capped', agentId: agent.id, profile: this.profile, reason, count: recent.length, resumesAt });
    }
    return true;
  }

  /** The recycle history a new agent takes over: the oldest recycled position still waiting for its replacement. */
  takeRecycleHistory(): number[] {
    return this.recycleHistories.shift() ?? [];
  }

  failWaiting(error: Error): void {
    this.dispatcher.rejectAll(() => error);
  }

  private onLongIdle(): void {
    const load = this.load();
    if (this.closed || !this.options.autoscale || !isUnderused(load)) return;
    let victim: PooledAgent | undefined;
    // The idle agent holding the fewest conversations, the longest idle among those; a dedicated agent waits for its pair however long it idles.
    for (const agent of this.table.idle) {
      if (this.affinity.pinned.has(agent.id)) continue;
      const held = agent.stickySessions.size;
      if (!victim || held < victim.stickySessions.size || (held === victim.stickySessions.size && agent.lastReleasedAt < victim.lastReleasedAt)) victim = agent;
    }
    if (!victim) return;
    const reason = `utilization below 20% for ${this.options.scaleDownAfterMs} ms`;
    this.events.fire({ type: 'scale', profile: this.profile, direction: 'down', from: load.live, to: load.live - 1, reason, at: this.options.clock.wallNow() });
    void this.supervisor.retire(victim, 'draining', reason);
  }

  private onCircuitChange(state: 'closed' | 'open' | 'half-open', reason: string | undefined): void {
    const lastFailure = this.breaker.lastFailure;
    this.events.fire({ type: 'circuit', profile: this.profile, state, reason, retryAt: this.breaker.retryAt, ...(lastFailure ? { lastFailure: { ...lastFailure } } : {}) });
    if (state === 'open') this.dispatcher.rejectAll(() => this.dispatcher.circuitError());
    else this.afterChange();
  }

  private optionsForValidation(): PoolOptions {
    const { permissionHandler, log, ...rest } = this.options;
    void permissionHandler;
    void log;
    return rest;
  }
}

/** Who goes first when the pool shrinks: crashed agents not yet back, then starting, idle, busy. */
function rankForStopping(agent: PooledAgent): number {
  return agent.awaitingRestart ? -1 : agent.state === 'starting' ? 0 : agent.state === 'idle' ? 1 : 2;
}

function circuitView(breaker: CircuitBreaker): PoolSnapshot['circuit'] {
  const view: PoolSnapshot['circuit'] = { state: breaker.state };
  if (breaker.reason !== undefined) view.reason = breaker.reason;
  if (breaker.retryAt !== undefined) view.retryAt = breaker.retryAt;
  if (breaker.lastFailure) view.lastFailure = { ...breaker.lastFailure };
  return view;
}

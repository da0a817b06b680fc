import { Emitter, type Disposable } from '../common/event';
import type { ConversationInfo } from '../conversations/conversation';
import { ConversationTable, type AdoptedConversation } from '../conversations/conversationTable';
import { ModuleAffinity } from './routers/affinity';
import type { PooledAgent } from './agentRecord';
import { AgentTable } from './agentTable';
import type { PoolLoad } from './policies/autoscaler';
import { PoolCapacity } from './capacity';
import { CircuitBreaker } from './policies/circuitBreaker';
import { Dispatcher } from './dispatcher';
import { PoolError } from './errors';
import type { AgentState, PoolEvent, PoolSnapshot } from './events';
import type { AcquireOptions, Lease, LeaseHost, TurnOptions, TurnResult } from './lease';
import { resolvePoolOptions, type PoolOptions, type ResolvedPoolOptions } from './options';
import { Recycling } from './recycling';
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
  private readonly capacity: PoolCapacity;
  private readonly recycling: Recycling;
  private readonly subscriptions: Disposable[] = [];
  private closing: Promise<void> | undefined;

  constructor(options: PoolOptions) {
    this.options = resolvePoolOptions(options);
    this.affinity = new ModuleAffinity(this.options.strategy === 'module-affinity', this.options.dedicatedPairs && this.options.strategy === 'module-affinity');
    this.table = new AgentTable(this.options.profile.name, this.events);
    this.conversations = new ConversationTable(this.options.profile.name, () => this.options.clock.wallNow());
    this.breaker = new CircuitBreaker(
      { failureThreshold: this.options.circuitFailureThreshold, cooldownMs: this.options.circuitCooldownMs, clock: this.options.clock },
      (state, reason) => this.onCircuitChange(state, reason),
    );
    this.supervisor = new Supervisor(this);
    this.turns = new TurnRunner(this, this.supervisor);
    this.dispatcher = new Dispatcher(this, this.table, this.supervisor, this.turns);
    this.recycling = new Recycling(this, this.supervisor);
    this.capacity = new PoolCapacity(this, this.table, this.supervisor, this.dispatcher);
    this.subscriptions.push(
      this.options.budget.onDidChange(() => {
        if (this.supervisor.budgetRefusal !== undefined) this.capacity.ensure();
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
    return this.capacity.minAgents;
  }

  get maxAgents(): number {
    return this.capacity.maxAgents;
  }

  /** Starts minAgents and resolves once they are ready; rejects with the reason if the profile cannot start. */
  async start(): Promise<void> {
    if (this.closed) throw this.dispatcher.closedError();
    await Promise.all(this.capacity.ensure());
    this.recycling.start();
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

  /**
   * run()'s own lease, which no caller can touch: its one turn is the same Turn a lease's prompt
   * runs, started from the hand-out time and answering with the agent, past Lease.prompt's guards.
   */
  private async runOnLease(lease: Lease, prompt: string, options: RunOptions): Promise<RunResult> {
    try {
      return (await this.turns.run(lease, prompt, options, lease.acquiredAt, lease.agentId)) as RunResult;
    } finally {
      lease.release();
    }
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
    if (this.recycling.recycleIfDue(agent, now)) return;
    this.transition(agent, 'idle');
    this.capacity.afterRelease();
    // After the hand-back, not at the next acquire: the next prompt must not queue behind session/new.
    if (this.options.sessionMode === 'fresh' && (agent.state as AgentState) === 'idle') agent.prepareSession(this.options.cwd);
  }

  /** The one place agent states change (see AgentTable.transition). */
  transition(agent: PooledAgent, to: AgentState, reason?: string): void {
    this.table.transition(agent, to, reason);
  }

  afterChange(): void {
    this.capacity.afterChange();
  }

  /** An agent was just handed out: the size policy may keep one ahead. */
  afterHandOut(): void {
    this.capacity.afterHandOut();
  }

  liveCount(): number {
    return this.capacity.liveCount();
  }

  /** Changes the size limits at run time; agents above the new maximum stop (busy ones after their lease). */
  scale(limits: { minAgents?: number; maxAgents?: number }): void {
    const minAgents = limits.minAgents ?? this.minAgents;
    const maxAgents = limits.maxAgents ?? this.maxAgents;
    resolvePoolOptions({ ...this.optionsForValidation(), minAgents, maxAgents });
    this.capacity.resize(minAgents, maxAgents, (agentId) => this.stopAgent(agentId));
  }

  /** Stops one agent: at once when idle, after its lease when busy; a crashed one is not restarted. */
  stopAgent(agentId: string): void {
    const agent = this.agents.get(agentId);
    if (!agent) return;
    // A stopped dedicated agent is not replaced: the pair no longer wants one more.
    const pinned = this.affinity.pinned.get(agentId);
    if (pinned !== undefined) this.capacity.forgetDedication(pinned);
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
    else if (agent.state === 'idle') this.recycling.recycle(agent, 'manual');
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
      minAgents: this.minAgents,
      maxAgents: this.maxAgents,
      strategy: this.options.strategy,
      agents: [...this.agents.values()].map((agent) => agent.info(this.profile, this.recycling.rssBytes(agent), this.conversations)),
      queueDepth: this.dispatcher.queued,
      circuit: circuitView(this.breaker),
      closed: this.closed,
      conversations: [...this.conversations.values()].map((conversation) => conversation.info()),
    };
  }

  /** Counts for the autoscaler (see PoolCapacity.load). */
  load(): PoolLoad {
    return this.capacity.load();
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
    this.capacity.dispose();
    this.recycling.dispose();
    this.supervisor.stopRestarts();
    this.breaker.dispose();
    for (const subscription of this.subscriptions.splice(0)) subscription.dispose();
    // 2 to 4: see shutdownPool.
    await shutdownPool(this, this.supervisor);
    this.turns.dispose();
    this.events.dispose();
  }

  /** See PoolCapacity.createDedicatedAgent. */
  createDedicatedAgent(sourceModule: string | undefined, targetModule: string | undefined): Promise<string> {
    return this.capacity.createDedicatedAgent(sourceModule, targetModule);
  }

  /** See SizedPool.shrunk: recycled positions beyond `room` will not be refilled, so their histories go. */
  shrunk(room: number): void {
    this.recycling.fitWaitingHistories(room);
  }

  /** The recycle history a new agent takes over (see Recycling.takeHistory). */
  takeRecycleHistory(): number[] {
    return this.recycling.takeHistory();
  }

  failWaiting(error: Error): void {
    this.dispatcher.rejectAll(() => error);
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

function circuitView(breaker: CircuitBreaker): PoolSnapshot['circuit'] {
  const view: PoolSnapshot['circuit'] = { state: breaker.state };
  if (breaker.reason !== undefined) view.reason = breaker.reason;
  if (breaker.retryAt !== undefined) view.retryAt = breaker.retryAt;
  if (breaker.lastFailure) view.lastFailure = { ...breaker.lastFailure };
  return view;
}

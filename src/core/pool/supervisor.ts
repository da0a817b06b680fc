import type { AgentConnection, AgentExit } from '../agents/adapter';
import { BudgetError, describeHolders } from '../budget/budget';
import type { TimerHandle } from '../common/clock';
import { AgentPoolError, errorMessage } from '../common/errors';
import { AgentError, withoutProfilePrefix } from '../agents/agentError';
import type { AgentProfile } from '../agents/adapter';
import type { Emitter } from '../common/event';
import type { ConversationTable } from '../conversations/conversationTable';
import type { ModuleAffinity } from './routers/affinity';
import { PooledAgent } from './agentRecord';
import { afterCrash, restartTiming } from './policies/backoff';
import type { CircuitBreaker } from './policies/circuitBreaker';
import { errorCode, PoolError } from './errors';
import type { AgentState, PoolEvent } from './events';
import type { ResolvedPoolOptions } from './options';

/** What the supervisor needs from its pool: the agent table and the one place states change. */
export interface SupervisedPool {
  readonly options: ResolvedPoolOptions;
  readonly agents: Map<string, PooledAgent>;
  readonly events: Emitter<PoolEvent>;
  /** The conversations: an agent's process that goes lets go of them, and they resume elsewhere. */
  readonly conversations: ConversationTable;
  /** Module-pair scores and dedications: like sessions, they belong to one process. */
  readonly affinity: ModuleAffinity;
  readonly breaker: CircuitBreaker;
  readonly closed: boolean;
  transition(agent: PooledAgent, to: AgentState, reason?: string): void;
  /** Called after anything that changes capacity: the pool hands out work and rescales. */
  afterChange(): void;
  liveCount(): number;
  /** A new agent takes over a recycled position's history, so the cap on recycles per hour sees a loop. */
  takeRecycleHistory(): number[];
  /** Fails every queued request now: no new agent can come (the budget's directory is unusable). */
  failWaiting(error: Error): void;
}

/**
 * Starts, stops and restarts agent processes. Every spawn first takes a budget slot, binds it to
 * the child's identity, and gives it back only once the process is gone. Crashes are restarted one
 * at a time per profile: the first crash after a good turn at once, repeated crashes with jittered
 * exponential backoff. Failures to start open the circuit instead, so a missing binary or an agent
 * that exits at once never becomes a restart loop. A user's restart skips the queue and the backoff
 * and counts neither as a crash nor for the circuit.
 */
export class Supervisor {
  pendingSpawns = 0;
  /** Set while the budget refuses a slot: what acquire errors quote. */
  budgetRefusal: string | undefined;
  lastStartError: string | undefined;
  private repeatedStartFailures = 0;
  /** The same, as an error that keeps the agent's code, detail and per-surface advice. */
  lastStartFailure: AgentPoolError | undefined;
  consecutiveCrashes = 0;
  private nextOrdinal = 0;
  private readonly restartQueue: PooledAgent[] = [];
  private restarting = false;
  private readonly sleeps = new Map<TimerHandle, () => void>();
  /** The crashed agent whose backoff is running, and how to cut it short. */
  private sleeping: { agent: PooledAgent; wake: () => void } | undefined;
  private readonly userRestarts = new Map<PooledAgent, Promise<void>>();
  private readonly spawnsInFlight = new Set<Promise<void>>();

  constructor(private readonly pool: SupervisedPool) {}

  private get profileName(): string {
    return this.pool.options.profile.name;
  }

  /** Starts one agent (a new one, or `existing` after a crash). Never rejects; failures go to the circuit. */
  spawn(existing?: PooledAgent, reason = 'scale up', dedicateTo?: string): Promise<void> {
    const spawning = this.startAgent(existing, reason, dedicateTo).finally(() => this.spawnsInFlight.delete(spawning));
    this.spawnsInFlight.add(spawning);
    return spawning;
  }

  /**
   * Settles once no spawn is in flight. Part of the pool's shutdown: a spawn that passed its `closed`
   * check is still taking its budget slot or starting its process, and close() must not return before
   * it has released that slot or had that process killed.
   */
  async spawnsSettled(): Promise<void> {
    while (this.spawnsInFlight.size > 0) await Promise.all([...this.spawnsInFlight]);
  }

  private async startAgent(existing: PooledAgent | undefined, reason: string, dedicateTo?: string): Promise<void> {
    const { pool } = this;
    const { options } = pool;
    // With the circuit half-open, this spawn is the trial: the token lets only this spawn give it back.
    const trial = pool.breaker.state === 'half-open' ? {} : undefined;
    if (pool.closed || pool.breaker.state === 'open' || (trial && !pool.breaker.tryPass(trial))) return this.dropRestart(existing);
    const liveBefore = pool.liveCount() - (existing ? 1 : 0);
    this.pendingSpawns++;
    let slot;
    try {
      slot = await options.budget.tryAcquire({ label: this.profileName });
      if (!slot) this.budgetRefusal = describeHolders(options.budget.snapshot());
    } catch (error) {
      this.budgetRefusal = errorMessage(error);
      // Read-only, full, not a directory, no permission: no slot can be recorded, so waiting for this
      // agent cannot help; the requests waiting for it are told why now, not at their acquire timeout.
      if (error instanceof BudgetError && error.code === 'BUDGET_UNAVAILABLE') pool.failWaiting(error);
    } finally {
      this.pendingSpawns--;
    }
    if (!slot || pool.closed) {
      if (slot) await slot.release();
      if (trial) pool.breaker.releaseTrial(trial);
      this.dropRestart(existing);
      return;
    }
    this.budgetRefusal = undefined;
    const agent = existing ?? new PooledAgent(`${this.profileName}-${++this.nextOrdinal}`, this.nextOrdinal);
    if (!existing) agent.recycleHistory = pool.takeRecycleHistory();
    agent.stayDown();
    agent.holdSlot(slot);
    pool.agents.set(agent.id, agent);
    // Before the agent can take work: a dedicated agent's first turn is its pair's.
    if (dedicateTo !== undefined) pool.affinity.pin(agent.id, dedicateTo);
    if (!existing) {
      pool.events.fire({ type: 'scale', profile: this.profileName, direction: 'up', from: liveBefore, to: liveBefore + 1, reason, at: options.clock.wallNow() });
    }
    pool.transition(agent, 'starting', reason);
    const spawnStartedAt = options.clock.monotonicNow();
    const connection = options.createConnection(options.profile, { cwd: options.cwd, permissionHandler: options.permissionHandler, log: options.log });
    agent.attach(connection, [
      // A backend that lost this slot (its lease) before anyone else can take it: the agent stops now.
      ...(slot.onRevoked ? [slot.onRevoked((why) => void this.fence(agent, why))] : []),
      connection.onDidSpawn((identity) => {
        agent.noteSpawned(identity.pid);
        slot.bindProcess(identity).catch((error: unknown) => options.log?.('warn', `could not bind budget slot to pid ${identity.pid}: ${errorMessage(error)}`));
        pool.events.fire({ type: 'agent-spawned', agentId: agent.id, profile: this.profileName, pid: identity.pid, startMs: options.clock.monotonicNow() - spawnStartedAt });
      }),
      connection.onDidExit((exit) => this.handleExit(agent, connection, exit)),
    ]);
    try {
      await connection.start();
      // The first session is part of warming up: agents without credentials fail here, not at the first prompt.
      await agent.openSpareSession(connection, options.cwd);
    } catch (error) {
      return this.handleStartFailure(agent, connection, error, trial);
    }
    if (agent.connection !== connection || agent.state !== 'starting') {
      // Stopped on purpose during its handshake (scale down, a restart): no verdict on the profile.
      if (trial) pool.breaker.releaseTrial(trial);
      return;
    }
    agent.becameReady(options.clock.wallNow(), options.clock.monotonicNow());
    pool.transition(agent, 'idle', 'ready');
    this.lastStartError = undefined;
    if (trial) pool.breaker.recordSuccess();
    pool.afterChange();
  }

  /**
   * The agent's budget slot can no longer be proven (its backend's lease is lost): its process group
   * is killed at once, with no grace, and a running turn fails with `reason`. No restart follows until
   * the budget grants a slot again.
   */
  fence(agent: PooledAgent, reason: string): Promise<void> {
    if (agent.turn && !agent.turn.abandoned) agent.abandonTurn(new PoolError('POOL_AGENT_LOST', `Agent ${agent.id} of profile "${this.profileName}" was stopped: ${reason}. Send the prompt again once etcd answers.`));
    this.pool.options.log?.('error', `agent ${agent.id} stopped: ${reason}`);
    return this.retire(agent, 'unhealthy', reason, 0);
  }

  /** Stops an agent's process on purpose (recycle, scale down, watchdog, shutdown) and frees its slot. */
  retire(agent: PooledAgent, via: 'draining' | 'recycling' | 'unhealthy', reason: string, killGraceMs?: number): Promise<void> {
    if (agent.stopping) return agent.stopping;
    if (agent.state === 'stopped') return Promise.resolve();
    return agent.stopWith(true, this.stop(agent, via, reason, killGraceMs));
  }

  /**
   * Replaces the agent's process now, under the same id: a running turn fails at once with
   * POOL_AGENT_LOST, the process group is killed, and a fresh process starts without waiting for
   * any backoff. Resolves once the new process is ready; rejects with the reason when it cannot start.
   */
  restartNow(agent: PooledAgent, reason: string): Promise<void> {
    // A second request while one runs (a double click) joins it.
    let restart = this.userRestarts.get(agent);
    if (!restart) {
      this.pool.events.fire({ type: 'user-restart', agentId: agent.id, profile: this.profileName });
      restart = this.replaceProcess(agent, reason).finally(() => this.userRestarts.delete(agent));
      this.userRestarts.set(agent, restart);
    }
    return restart;
  }

  private async replaceProcess(agent: PooledAgent, reason: string): Promise<void> {
    const { pool } = this;
    agent.comeBack('for-user');
    try {
      if (agent.lease) pool.breaker.releaseTrial(agent.lease);
      // Before the kill: a turn still opening its session must not go on to prompt a dying process.
      agent.abandonTurn(new PoolError('POOL_AGENT_LOST', `Agent ${agent.id} of profile "${this.profileName}" was restarted by the user during this turn; the turn was abandoned. Send the prompt again.`));
      // Whatever is stopping the process (this restart, a recycle, a crash's clean-up) finishes first.
      await this.retire(agent, 'recycling', reason);
      const queued = this.restartQueue.indexOf(agent);
      if (queued >= 0) this.restartQueue.splice(queued, 1);
      if (this.sleeping?.agent === agent) this.sleeping.wake();
      if (pool.closed) throw new PoolError('POOL_CLOSED', `Agent pool "${this.profileName}" closed before agent ${agent.id} could restart.`);
      await this.spawn(agent, reason);
    } finally {
      // Normally the spawn has cleared it; after a throw the agent is left as a crashed one would be.
      if (agent.restartingForUser) agent.comeBack('after-crash');
    }
    if (agent.state !== 'idle' && agent.state !== 'busy') {
      const why = pool.breaker.state === 'open' ? `the circuit is open: ${pool.breaker.reason}` : (this.budgetRefusal ?? this.lastStartError ?? `it is ${agent.state}`);
      throw new PoolError('POOL_AGENT_LOST', `Agent ${agent.id} of profile "${this.profileName}" was stopped but could not restart: ${why}.`);
    }
  }

  private async stop(agent: PooledAgent, via: 'draining' | 'recycling' | 'unhealthy', reason: string, killGraceMs = this.pool.options.killGraceMs): Promise<void> {
    // An agent already out of service (its turn timed out, it awaits the kill) goes straight to the kill.
    if (agent.state !== via && agent.state !== 'unhealthy') this.pool.transition(agent, via, reason);
    const connection = agent.connection;
    if (connection) {
      try {
        await connection.kill(killGraceMs);
      } catch (error) {
        this.pool.options.log?.('warn', `killing agent ${agent.id} failed: ${errorMessage(error)}`);
      }
      connection.dispose();
    }
    this.detach(agent);
    await this.releaseSlot(agent);
    this.pool.transition(agent, 'stopped', reason);
    this.forget(agent);
    this.pool.afterChange();
  }

  /** Gives up pending restarts and wakes their sleeps: part of the pool's shutdown. */
  stopRestarts(): void {
    for (const agent of this.restartQueue.splice(0)) this.dropRestart(agent);
    this.sleeping = undefined;
    for (const [handle, wake] of this.sleeps) {
      this.pool.options.clock.clearTimeout(handle);
      wake();
    }
    this.sleeps.clear();
  }

  private handleExit(agent: PooledAgent, connection: AgentConnection, exit: AgentExit): void {
    const { pool } = this;
    if (agent.connection !== connection) return;
    pool.events.fire({ type: 'agent-exited', agentId: agent.id, profile: this.profileName, exitCode: exit.exitCode, signal: exit.signal, expected: exit.expected || agent.retiring });
    // Our own kills are finished by retire(); an exit while starting is reported by start() itself.
    if (exit.expected || agent.retiring || agent.state === 'starting' || agent.state === 'stopped') return;
    const how = exit.signal ? `signal ${exit.signal}` : `exit code ${exit.exitCode}`;
    const why = `agent ${agent.id} ("${this.profileName}") exited unexpectedly (${how})${exit.stderrTail ? `: ${exit.stderrTail.trim().split('\n').slice(-3).join(' | ')}` : ''}`;
    // Marked at once, so a request targeting this agent keeps waiting for its replacement.
    if (!agent.restartingForUser) agent.comeBack('after-crash');
    pool.transition(agent, 'unhealthy', why);
    this.detach(agent);
    connection.dispose();
    const stopping = this.releaseSlot(agent).then(() => {
      pool.transition(agent, 'stopped', why);
      this.consecutiveCrashes++;
      pool.breaker.recordFailure(why);
      const decision = afterCrash({ poolClosed: pool.closed, circuit: pool.breaker.state, comingBack: agent.restartingForUser ? 'for-user' : agent.awaitingRestart ? 'after-crash' : undefined });
      if (decision === 'give-up') this.dropRestart(agent);
      else if (decision === 'forget') this.forget(agent);
      else if (decision === 'queue-restart') this.scheduleRestart(agent);
      pool.afterChange();
    });
    void agent.stopWith(false, stopping);
  }

  private async handleStartFailure(agent: PooledAgent, connection: AgentConnection, error: unknown, trial: object | undefined): Promise<void> {
    const { pool } = this;
    if (agent.connection !== connection || agent.stopping) {
      // A deliberate stop (shutdown, a user's restart) killed the handshake: it cleans up itself.
      if (trial) pool.breaker.releaseTrial(trial);
      return;
    }
    const deliberate = pool.closed;
    const failure = startFailure(pool.options.profile, error);
    const message = failure.message;
    const detail = withoutProfilePrefix(failure.facts, this.profileName);
    if (!deliberate) {
      // The circuit retries a lasting fault every cooldown; the log says it once, then again only after 2, 4, 8… failed tries.
      const repeat = message === this.lastStartError;
      this.repeatedStartFailures = repeat ? this.repeatedStartFailures + 1 : 0;
      const tries = this.repeatedStartFailures + 1;
      if (!repeat) pool.options.log?.('error', message, failure);
      else if ((tries & (tries - 1)) === 0) pool.options.log?.('warn', `${this.profileName} still cannot start after ${tries} tries: ${detail}`);
      else pool.options.log?.('debug', `${this.profileName} still cannot start (try ${tries})`);
      this.lastStartError = message;
      this.lastStartFailure = failure;
    }
    if (agent.state === 'starting') pool.transition(agent, 'unhealthy', message);
    try {
      await connection.kill(0);
    } catch {
      // Already gone: a failed start usually means the process never ran or exited.
    }
    connection.dispose();
    this.detach(agent);
    await this.releaseSlot(agent);
    if (agent.state !== 'stopped') pool.transition(agent, 'stopped', message);
    this.forget(agent);
    // Any failure to start opens the circuit at once: retrying a missing binary only burns CPU and budget.
    // The breaker's reason is shown under the pool's name: without the profile, it reads once.
    if (!deliberate) pool.breaker.recordFailure(`${withoutProfilePrefix(message, this.profileName)} [${errorCode(error) ?? 'error'}]`, true);
    else if (trial) pool.breaker.releaseTrial(trial);
    pool.afterChange();
  }

  private scheduleRestart(agent: PooledAgent): void {
    agent.comeBack('after-crash');
    this.restartQueue.push(agent);
    void this.processRestarts();
  }

  /** One restart at a time per profile: agents that share a login or a rate limit should not stampede. */
  private async processRestarts(): Promise<void> {
    if (this.restarting) return;
    this.restarting = true;
    try {
      let agent: PooledAgent | undefined;
      while ((agent = this.restartQueue.shift())) {
        const { options } = this.pool;
        if (this.pool.closed || this.pool.breaker.state === 'open') {
          this.dropRestart(agent);
          continue;
        }
        const { attempt, delayMs } = restartTiming(this.consecutiveCrashes, options);
        agent.countRestart();
        this.pool.events.fire({ type: 'restart', agentId: agent.id, profile: this.profileName, attempt, delayMs });
        if (delayMs > 0) await this.sleepFor(agent, delayMs);
        // A user's restart took this agent over during the backoff.
        if (agent.restartingForUser || !agent.awaitingRestart) continue;
        if (this.pool.closed) this.dropRestart(agent);
        else await this.spawn(agent, `restart ${agent.restarts}`);
      }
    } finally {
      this.restarting = false;
    }
  }

  private sleepFor(agent: PooledAgent, ms: number): Promise<void> {
    return new Promise((resolve) => {
      const { clock } = this.pool.options;
      const wake = () => {
        clock.clearTimeout(handle);
        this.sleeps.delete(handle);
        if (this.sleeping?.agent === agent) this.sleeping = undefined;
        resolve();
      };
      const handle = clock.setTimeout(wake, ms);
      this.sleeps.set(handle, wake);
      this.sleeping = { agent, wake };
    });
  }

  /**
   * A crashed agent stopped before its restart (the user's Stop, a scale down): it leaves the restart
   * queue, its backoff ends, and it does not come back.
   */
  cancelRestart(agent: PooledAgent): void {
    if (!agent.awaitingRestart || agent.restartingForUser) return;
    const queued = this.restartQueue.indexOf(agent);
    if (queued >= 0) this.restartQueue.splice(queued, 1);
    const sleeping = this.sleeping?.agent === agent ? this.sleeping : undefined;
    // Still being cleaned up after the crash: handleExit forgets it when done.
    if (agent.state === 'stopped') this.dropRestart(agent);
    else agent.stayDown();
    sleeping?.wake();
  }

  private dropRestart(agent: PooledAgent | undefined): void {
    if (!agent?.awaitingRestart) return;
    agent.stayDown();
    this.forget(agent);
    this.pool.afterChange();
  }

  private async releaseSlot(agent: PooledAgent): Promise<void> {
    const slot = agent.takeSlot();
    try {
      await slot?.release();
    } catch (error) {
      this.pool.options.log?.('warn', `releasing the budget slot of agent ${agent.id} failed: ${errorMessage(error)}`);
    }
  }

  /**
   * Drops the old process from the agent with the module pairs it learned (they died with it). Its
   * conversations keep their session ids: their next turns resume them on another process.
   */
  private detach(agent: PooledAgent): void {
    this.pool.affinity.forgetAgent(agent.id);
    this.pool.conversations.unbindAgent(agent.id);
    agent.detachProcess();
  }

  private forget(agent: PooledAgent): void {
    if (agent.state !== 'stopped' || agent.awaitingRestart) return;
    this.pool.agents.delete(agent.id);
    this.pool.affinity.unpin(agent.id);
  }
}

/**
 * "Agent profile "x" (command "y …") could not start: <what the agent said>", said once: the
 * adapter's own "Agent profile "x"" is dropped, and its code, detail and advice are kept.
 */
export function startFailure(profile: AgentProfile, error: unknown): AgentPoolError {
  const commandLine = [profile.command, ...profile.args].join(' ');
  const facts = error instanceof AgentPoolError ? error.facts : errorMessage(error);
  const message = `Agent profile "${profile.name}" could not start (command "${commandLine}"): ${withoutProfilePrefix(facts, profile.name)}`;
  const code = errorCode(error) ?? 'AGENT_SPAWN_FAILED';
  if (error instanceof AgentError) {
    return new AgentError(error.code, message, {
      profile: profile.name,
      command: profile.command,
      stderrTail: error.stderrTail,
      rpcCode: error.rpcCode,
      agentDetail: error.agentDetail,
      advice: error.advice,
      cause: error,
    });
  }
  return new AgentPoolError(code, message, { cause: error, advice: error instanceof AgentPoolError ? error.advice : undefined });
}

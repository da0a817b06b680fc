import type { AgentConnection, AgentExit } from '../agents/adapter';
import { describeHolders } from '../budget/budget';
import type { TimerHandle } from '../common/clock';
import { errorMessage } from '../common/errors';
import type { Emitter } from '../common/event';
import { PooledAgent } from './agentRecord';
import { restartDelay } from './backoff';
import type { CircuitBreaker } from './circuitBreaker';
import { errorCode } from './errors';
import type { AgentState, PoolEvent } from './events';
import type { ResolvedPoolOptions } from './options';

/** What the supervisor needs from its pool: the agent table and the one place states change. */
export interface SupervisedPool {
  readonly options: ResolvedPoolOptions;
  readonly agents: Map<string, PooledAgent>;
  readonly events: Emitter<PoolEvent>;
  readonly breaker: CircuitBreaker;
  readonly closed: boolean;
  transition(agent: PooledAgent, to: AgentState, reason?: string): void;
  /** Called after anything that changes capacity: the pool hands out work and rescales. */
  afterChange(): void;
  liveCount(): number;
}

/**
 * Starts, stops and restarts agent processes. Every spawn first takes a budget slot, binds it to
 * the child's identity, and gives it back only once the process is gone. Crashes are restarted one
 * at a time with jittered exponential backoff; failures to start open the circuit instead, so a
 * missing binary or an agent that exits at once never becomes a restart loop.
 */
export class Supervisor {
  pendingSpawns = 0;
  /** Set while the budget refuses a slot: what acquire errors quote. */
  budgetRefusal: string | undefined;
  lastStartError: string | undefined;
  consecutiveCrashes = 0;
  private nextOrdinal = 0;
  private readonly restartQueue: PooledAgent[] = [];
  private restarting = false;
  private readonly sleeps = new Map<TimerHandle, () => void>();

  constructor(private readonly pool: SupervisedPool) {}

  private get profileName(): string {
    return this.pool.options.profile.name;
  }

  /** Starts one agent (a new one, or `existing` after a crash). Never rejects; failures go to the circuit. */
  async spawn(existing?: PooledAgent, reason = 'scale up'): Promise<void> {
    const { pool } = this;
    const { options } = pool;
    const trial = pool.breaker.state === 'half-open';
    if (pool.closed || pool.breaker.state === 'open' || (trial && !pool.breaker.tryPass())) return this.dropRestart(existing);
    const liveBefore = pool.liveCount() - (existing ? 1 : 0);
    this.pendingSpawns++;
    let slot;
    try {
      slot = await options.budget.tryAcquire({ label: this.profileName });
      if (!slot) this.budgetRefusal = describeHolders(options.budget.snapshot());
    } catch (error) {
      this.budgetRefusal = errorMessage(error);
    } finally {
      this.pendingSpawns--;
    }
    if (!slot || pool.closed) {
      if (slot) await slot.release();
      if (trial) pool.breaker.releaseTrial();
      this.dropRestart(existing);
      return;
    }
    this.budgetRefusal = undefined;
    const agent = existing ?? new PooledAgent(`${this.profileName}-${++this.nextOrdinal}`, this.nextOrdinal);
    agent.awaitingRestart = false;
    agent.slot = slot;
    pool.agents.set(agent.id, agent);
    if (!existing) {
      pool.events.fire({ type: 'scale', profile: this.profileName, direction: 'up', from: liveBefore, to: liveBefore + 1, reason, at: options.clock.wallNow() });
    }
    pool.transition(agent, 'starting', existing ? `restart ${agent.restarts}` : reason);
    const spawnStartedAt = options.clock.monotonicNow();
    const connection = options.createConnection(options.profile, { cwd: options.cwd, permissionHandler: options.permissionHandler, log: options.log });
    agent.connection = connection;
    agent.connectionListeners.push(
      connection.onDidSpawn((identity) => {
        agent.pid = identity.pid;
        slot.bindProcess(identity).catch((error: unknown) => options.log?.('warn', `could not bind budget slot to pid ${identity.pid}: ${errorMessage(error)}`));
        pool.events.fire({ type: 'agent-spawned', agentId: agent.id, profile: this.profileName, pid: identity.pid, startMs: options.clock.monotonicNow() - spawnStartedAt });
      }),
      connection.onDidExit((exit) => this.handleExit(agent, connection, exit)),
    );
    try {
      await connection.start();
      // The first session is part of warming up: agents without credentials fail here, not at the first prompt.
      const firstSession = connection.openSession({ cwd: options.cwd });
      agent.spareSession = firstSession;
      await firstSession;
    } catch (error) {
      return this.handleStartFailure(agent, connection, error, trial);
    }
    if (agent.connection !== connection || agent.state !== 'starting') return;
    agent.startedAt = options.clock.wallNow();
    agent.startedMonotonic = options.clock.monotonicNow();
    pool.transition(agent, 'idle', 'ready');
    if (trial) pool.breaker.recordSuccess();
    pool.afterChange();
  }

  /** Stops an agent's process on purpose (recycle, scale down, watchdog, shutdown) and frees its slot. */
  async retire(agent: PooledAgent, via: 'draining' | 'recycling' | 'unhealthy', reason: string): Promise<void> {
    if (agent.retiring || agent.state === 'stopped') return;
    agent.retiring = true;
    try {
      if (agent.state !== via) this.pool.transition(agent, via, reason);
      const connection = agent.connection;
      if (connection) {
        try {
          await connection.kill(this.pool.options.killGraceMs);
        } catch (error) {
          this.pool.options.log?.('warn', `killing agent ${agent.id} failed: ${errorMessage(error)}`);
        }
        connection.dispose();
      }
      agent.detachProcess();
      await this.releaseSlot(agent);
      this.pool.transition(agent, 'stopped', reason);
      this.forget(agent);
    } finally {
      agent.retiring = false;
    }
    this.pool.afterChange();
  }

  /** Gives up pending restarts and wakes their sleeps: part of the pool's shutdown. */
  stopRestarts(): void {
    for (const agent of this.restartQueue.splice(0)) this.dropRestart(agent);
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
    pool.transition(agent, 'unhealthy', why);
    agent.detachProcess();
    connection.dispose();
    void this.releaseSlot(agent).then(() => {
      pool.transition(agent, 'stopped', why);
      this.consecutiveCrashes++;
      pool.breaker.recordFailure(why);
      if (pool.closed || pool.breaker.state === 'open') this.forget(agent);
      else this.scheduleRestart(agent);
      pool.afterChange();
    });
  }

  private async handleStartFailure(agent: PooledAgent, connection: AgentConnection, error: unknown, trial: boolean): Promise<void> {
    const { pool } = this;
    const deliberate = agent.retiring || pool.closed;
    const message = `Agent profile "${this.profileName}" (command "${pool.options.profile.command}") could not start: ${errorMessage(error)}`;
    if (!deliberate) {
      this.lastStartError = message;
      pool.options.log?.('error', message);
    }
    if (agent.state === 'starting') pool.transition(agent, 'unhealthy', message);
    try {
      await connection.kill(0);
    } catch {
      // Already gone: a failed start usually means the process never ran or exited.
    }
    connection.dispose();
    agent.detachProcess();
    await this.releaseSlot(agent);
    if (agent.state !== 'stopped') pool.transition(agent, 'stopped', message);
    this.forget(agent);
    // Any failure to start opens the circuit at once: retrying a missing binary only burns CPU and budget.
    if (!deliberate) pool.breaker.recordFailure(`${message} [${errorCode(error) ?? 'error'}]`, true);
    else if (trial) pool.breaker.releaseTrial();
    pool.afterChange();
  }

  private scheduleRestart(agent: PooledAgent): void {
    agent.awaitingRestart = true;
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
        const attempt = Math.max(1, this.consecutiveCrashes);
        const delayMs = restartDelay(attempt, options.restartBaseDelayMs, options.restartMaxDelayMs, options.rng);
        agent.restarts++;
        this.pool.events.fire({ type: 'restart', agentId: agent.id, profile: this.profileName, attempt, delayMs });
        await this.sleep(delayMs);
        if (this.pool.closed) this.dropRestart(agent);
        else await this.spawn(agent, 'restart');
      }
    } finally {
      this.restarting = false;
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const handle = this.pool.options.clock.setTimeout(() => {
        this.sleeps.delete(handle);
        resolve();
      }, ms);
      this.sleeps.set(handle, resolve);
    });
  }

  private dropRestart(agent: PooledAgent | undefined): void {
    if (!agent?.awaitingRestart) return;
    agent.awaitingRestart = false;
    this.forget(agent);
    this.pool.afterChange();
  }

  private async releaseSlot(agent: PooledAgent): Promise<void> {
    const slot = agent.slot;
    agent.slot = undefined;
    try {
      await slot?.release();
    } catch (error) {
      this.pool.options.log?.('warn', `releasing the budget slot of agent ${agent.id} failed: ${errorMessage(error)}`);
    }
  }

  private forget(agent: PooledAgent): void {
    if (agent.state === 'stopped' && !agent.awaitingRestart) this.pool.agents.delete(agent.id);
  }
}

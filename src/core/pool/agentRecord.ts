import type { AgentConnection } from '../agents/adapter';
import type { BudgetSlot } from '../budget/budget';
import type { Disposable } from '../common/event';
import { PoolError } from './errors';
import type { AgentInfo, AgentState } from './events';
import type { RoutableAgent } from './routing';

/**
 * Which state may follow which. The pool changes state only through `AgentPool.transition`, which
 * checks this table and fires the one `agent-state` event, so no code path can skip a step.
 */
const ALLOWED_TRANSITIONS: Record<AgentState | 'new', readonly AgentState[]> = {
  new: ['starting'],
  starting: ['idle', 'unhealthy', 'draining', 'stopped'],
  idle: ['busy', 'draining', 'recycling', 'unhealthy', 'stopped'],
  busy: ['idle', 'draining', 'recycling', 'unhealthy', 'stopped'],
  draining: ['stopped', 'unhealthy'],
  recycling: ['stopped', 'unhealthy'],
  unhealthy: ['stopped'],
  // A crashed agent is restarted under the same id, so its history (restarts) stays visible.
  stopped: ['starting'],
};

export function canTransition(from: AgentState | undefined, to: AgentState): boolean {
  return ALLOWED_TRANSITIONS[from ?? 'new'].includes(to);
}

export type RecycleReason = 'age' | 'turns' | 'memory' | 'manual';

/** One logical agent of a pool: its current process, its budget slot and its statistics. */
export class PooledAgent implements RoutableAgent {
  state: AgentState | undefined;
  connection: AgentConnection | undefined;
  connectionListeners: Disposable[] = [];
  slot: BudgetSlot | undefined;
  pid: number | undefined;
  startedAt = 0;
  startedMonotonic = 0;
  turns = 0;
  /** Turns of the current process only: what recycling by turns counts. */
  processTurns = 0;
  busyMs = 0;
  lastReleasedAt = 0;
  leasedAt = 0;
  restarts = 0;
  /** The lease holding this agent, if any. */
  lease: object | undefined;
  /** Session and settlement of the turn in progress, so shutdown can cancel it and wait. */
  turn: { sessionId: string; settled: Promise<void> } | undefined;
  /** Set while the pool is stopping this agent's process on purpose. */
  retiring = false;
  currentTask: string | undefined;
  rssBytes: number | undefined;
  samplesOverMemoryLimit = 0;
  /** Set when a limit is reached mid-lease: recycled as soon as the lease ends, never mid-turn. */
  recyclePending: RecycleReason | undefined;
  /** Crashed and queued for a restart: counts toward the pool's size so nothing double-spawns. */
  awaitingRestart = false;
  /** The agent's own session ('reuse' mode) or the next fresh one, opened ahead of the lease that takes it. */
  spareSession: Promise<string> | undefined;
  defaultSession: string | undefined;
  /** sessionKey -> ACP session id on this process. */
  readonly stickySessions = new Map<string, string>();

  constructor(
    readonly id: string,
    readonly ordinal: number,
  ) {}

  get live(): boolean {
    return this.state !== 'stopped' || this.awaitingRestart;
  }

  info(profile: string): AgentInfo {
    return {
      id: this.id,
      profile,
      pid: this.pid,
      state: this.state ?? 'starting',
      turns: this.turns,
      startedAt: this.startedAt,
      currentTask: this.currentTask,
      rssBytes: this.rssBytes,
      restarts: this.restarts,
    };
  }

  /** Forgets everything tied to the old process. */
  detachProcess(): AgentConnection | undefined {
    const connection = this.connection;
    for (const listener of this.connectionListeners.splice(0)) listener.dispose();
    this.connection = undefined;
    this.pid = undefined;
    this.spareSession?.catch(() => undefined);
    this.spareSession = undefined;
    this.defaultSession = undefined;
    this.stickySessions.clear();
    this.rssBytes = undefined;
    this.samplesOverMemoryLimit = 0;
    this.processTurns = 0;
    this.recyclePending = undefined;
    this.turn = undefined;
    // A lease on a dead process is lost: its next turn fails with POOL_AGENT_LOST, its release is a no-op.
    this.lease = undefined;
    this.currentTask = undefined;
    return connection;
  }

  /** Takes a session for a non-sticky lease; in 'fresh' mode starts opening the next one at once. */
  async takeSession(mode: 'fresh' | 'reuse', cwd: string): Promise<string> {
    const connection = this.connection;
    if (!connection) throw new PoolError('POOL_AGENT_LOST', `agent ${this.id} has no running process`);
    if (mode === 'reuse') {
      this.defaultSession ??= await (this.spareSession ?? connection.openSession({ cwd }));
      this.spareSession = undefined;
      return this.defaultSession;
    }
    const spare = this.spareSession;
    this.spareSession = connection.openSession({ cwd });
    // The prefetched session is only needed by the next lease; its failure surfaces there.
    this.spareSession.catch(() => undefined);
    if (spare) {
      try {
        return await spare;
      } catch {
        // A spare that failed (e.g. opened while the agent was busy dying) is replaced, not fatal.
      }
    }
    return connection.openSession({ cwd });
  }
}

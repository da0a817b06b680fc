import type { Emitter } from '../common/event';
import type { PooledAgent } from './agentRecord';
import type { PoolEvent } from './events';
import type { ResolvedPoolOptions } from './options';
import { RecycleMonitor, recycleCap, type AutomaticRecycleReason, type RecycleReason } from './policies/recycler';
import type { Supervisor } from './supervisor';

/** What recycling needs from its pool. */
export interface RecyclingPool {
  readonly options: ResolvedPoolOptions;
  readonly profile: string;
  readonly closed: boolean;
  readonly agents: Map<string, PooledAgent>;
  readonly events: Emitter<PoolEvent>;
  readonly maxAgents: number;
}

/**
 * Replacing agents that reached a limit (age, turns, memory, idle CPU; policies/recycler.ts
 * decides) or that the user asked to recycle: at once when idle, after the lease when busy, never
 * mid-turn; and the cap on recycles of one pool position per hour, which keeps the agent and says
 * which limit keeps firing.
 */
export class Recycling {
  private readonly monitor: RecycleMonitor<PooledAgent>;
  /**
   * Recycled positions' histories, each waiting for the agent that replaces it (see recycleCap),
   * oldest first. Only new spawns take them, so they are bounded by maxAgents and dropped when the
   * pool shrinks below the positions they stand for (see fitWaitingHistories).
   */
  private readonly histories: number[][] = [];

  constructor(
    private readonly pool: RecyclingPool,
    private readonly supervisor: Pick<Supervisor, 'retire'>,
  ) {
    this.monitor = new RecycleMonitor(pool.options, () => pool.agents.values(), (decisions) => {
      for (const { agent, reason } of decisions) {
        if (pool.closed) return;
        if (agent.state === 'idle') this.recycle(agent, reason);
        else if (agent.state === 'busy') agent.recycleAfterLease(reason);
      }
    });
  }

  /** Starts sampling memory and CPU on the options' interval. */
  start(): void {
    this.monitor.start();
  }

  dispose(): void {
    this.monitor.dispose();
  }

  /** At the end of a lease: the limit the agent reached, if any, and whether it went (false: the cap kept it). */
  recycleIfDue(agent: PooledAgent, now: number): boolean {
    const reason = this.monitor.reasonFor(agent, now);
    return reason !== undefined && this.recycle(agent, reason);
  }

  /** The resident memory last sampled of the agent's current process, for its info. */
  rssBytes(agent: PooledAgent): number | undefined {
    return this.monitor.samplesOf(agent)?.rssBytes;
  }

  /** Agents whose samples the monitor keeps (tests: the samples go with their agents). */
  get sampledAgents(): number {
    return this.monitor.sampledAgents;
  }

  /** Recycled positions whose histories still wait for a replacement. */
  get waitingHistories(): number {
    return this.histories.length;
  }

  /**
   * The pool shrank, or its maxAgents did: at most `room` recycled positions can still be refilled,
   * so the oldest histories beyond that are dropped (the newest say most about a loop).
   */
  fitWaitingHistories(room: number): void {
    const excess = this.histories.length - Math.max(0, room);
    if (excess > 0) this.histories.splice(0, excess);
  }

  /** Replaces the agent unless the cap on recycles per hour holds it back; true when it goes. */
  recycle(agent: PooledAgent, reason: RecycleReason): boolean {
    const { pool } = this;
    if (reason !== 'manual' && this.capHolds(agent, reason)) return false;
    if (reason !== 'manual') agent.recycleHistory.push(pool.options.clock.monotonicNow());
    this.histories.push(agent.recycleHistory);
    this.fitWaitingHistories(pool.maxAgents);
    pool.events.fire({ type: 'recycle', agentId: agent.id, profile: pool.profile, reason });
    void this.supervisor.retire(agent, 'recycling', `recycled (${reason})`);
    return true;
  }

  /** The recycle history a new agent takes over: the oldest recycled position still waiting for its replacement. */
  takeHistory(): number[] {
    return this.histories.shift() ?? [];
  }

  /** True when this position was recycled recycleMaxPerHour times within the hour: the agent stays, and says so once. */
  private capHolds(agent: PooledAgent, reason: AutomaticRecycleReason): boolean {
    const { options, events, profile } = this.pool;
    const now = options.clock.monotonicNow();
    const { recent, blockedUntil } = recycleCap(agent.recycleHistory, now, options.recycleMaxPerHour);
    agent.recycleHistory = recent;
    if (blockedUntil === undefined) {
      agent.recycleCapped = undefined;
      return false;
    }
    agent.dropPendingRecycle();
    if (agent.recycleCapped !== reason) {
      agent.recycleCapped = reason;
      const resumesAt = options.clock.wallNow() + (blockedUntil - now);
      events.fire({ type: 'recycle-capped', agentId: agent.id, profile, reason, count: recent.length, resumesAt });
    }
    return true;
  }
}

import type { Clock, TimerHandle } from '../../common/clock';

export const SCALE_UP_UTILIZATION = 0.8;
export const SCALE_DOWN_UTILIZATION = 0.2;

export interface PoolLoad {
  /** Agents that exist or are coming: starting, idle, busy, and crashed ones waiting for a restart. */
  live: number;
  starting: number;
  idle: number;
  busy: number;
  queued: number;
  /** Queued requests that no idle agent may take (every idle one is dedicated to another module pair). */
  blocked?: number;
  minAgents: number;
  maxAgents: number;
}

/** Busy share of the agents that could serve now; 0 for an empty pool. */
export function utilization(load: PoolLoad): number {
  const ready = load.busy + load.idle;
  return ready === 0 ? 0 : load.busy / ready;
}

/** Fewest busy agents for the one-ahead rule: a single busy agent is one conversation, not load. */
export const SPARE_MIN_BUSY = 2;

/**
 * How many agents to start now and why. Always tops up to minAgents; with autoscaling, also one
 * per queued request that no starting or idle agent will take, or, with `keepSpare`, one ahead when
 * utilization is above 80% and at least two agents are busy (seed 002). Never beyond maxAgents (the
 * budget may still refuse).
 */
export function spawnsWanted(load: PoolLoad, autoscale: boolean, keepSpare = true): { count: number; reason: string } {
  const room = Math.max(0, load.maxAgents - load.live);
  let count = Math.max(0, load.minAgents - load.live);
  let reason = `keeping ${load.minAgents} agent(s) warm`;
  if (autoscale) {
    // A new agent serves any pair; an idle one dedicated to another pair serves none of the blocked requests.
    const unserved = Math.max(load.queued - load.starting - load.idle, (load.blocked ?? 0) - load.starting);
    const busyShare = utilization(load);
    if (unserved > count) {
      count = unserved;
      reason = `${load.queued} request(s) queued`;
    } else if (keepSpare && count === 0 && load.starting === 0 && load.busy >= SPARE_MIN_BUSY && busyShare > SCALE_UP_UTILIZATION) {
      count = 1;
      reason = `utilization ${Math.round(busyShare * 100)}% > ${SCALE_UP_UTILIZATION * 100}%`;
    }
  }
  return { count: Math.min(count, room), reason };
}

/** True when an idle agent above minAgents is a candidate to stop. */
export function isUnderused(load: PoolLoad): boolean {
  return load.queued === 0 && load.starting === 0 && load.idle > 0 && load.live > load.minAgents && utilization(load) < SCALE_DOWN_UTILIZATION;
}

/** Fires `onLongIdle` once utilization has stayed low for `afterMs` without interruption. */
export class ScaleDownTimer {
  private timer: TimerHandle | undefined;

  constructor(
    private readonly clock: Clock,
    private readonly afterMs: number,
    private readonly onLongIdle: () => void,
  ) {}

  get armed(): boolean {
    return this.timer !== undefined;
  }

  update(underused: boolean): void {
    if (underused && !this.timer) {
      this.timer = this.clock.setTimeout(() => {
        this.timer = undefined;
        this.onLongIdle();
      }, this.afterMs);
      this.timer.unref?.();
    } else if (!underused && this.timer) {
      this.dispose();
    }
  }

  dispose(): void {
    if (this.timer) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }
}

import type { Clock, TimerHandle } from '../../common/clock';
import type { AgentState } from '../events';

export type RecycleReason = 'age' | 'turns' | 'memory' | 'manual';

/** What the recycling limits read and write of an agent. */
export interface RecyclableAgent {
  readonly state: AgentState | undefined;
  readonly pid: number | undefined;
  /** Turns of the current process only. */
  readonly processTurns: number;
  /** Monotonic ms the current process became ready; 0 before. */
  readonly startedMonotonic: number;
  /** A limit reached mid-lease, applied when the lease ends. */
  readonly recyclePending: RecycleReason | undefined;
  rssBytes: number | undefined;
  samplesOverMemoryLimit: number;
}

export interface RecycleLimits {
  recycleMaxAgeMs: number;
  recycleMaxTurns: number;
  recycleMaxMemoryBytes: number;
  memorySamplesOverLimit: number;
}

/** Why this agent should be replaced now, if at all (0 disables a limit). Memory needs N samples in a row. */
export function recycleReason(agent: RecyclableAgent, now: number, limits: RecycleLimits): RecycleReason | undefined {
  if (agent.recyclePending) return agent.recyclePending;
  if (limits.recycleMaxTurns > 0 && agent.processTurns >= limits.recycleMaxTurns) return 'turns';
  if (limits.recycleMaxAgeMs > 0 && agent.startedMonotonic > 0 && now - agent.startedMonotonic >= limits.recycleMaxAgeMs) return 'age';
  if (limits.recycleMaxMemoryBytes > 0 && agent.samplesOverMemoryLimit >= limits.memorySamplesOverLimit) return 'memory';
  return undefined;
}

/** Records one memory sample; a sample under the limit resets the streak, so a single spike never recycles. */
export function recordMemorySample(agent: RecyclableAgent, rssBytes: number | undefined, limits: RecycleLimits): void {
  if (rssBytes === undefined) return;
  agent.rssBytes = rssBytes;
  if (limits.recycleMaxMemoryBytes > 0 && rssBytes > limits.recycleMaxMemoryBytes) agent.samplesOverMemoryLimit++;
  else agent.samplesOverMemoryLimit = 0;
}

export interface RecycleMonitorOptions extends RecycleLimits {
  memorySampleIntervalMs: number;
  clock: Clock;
  sampleMemory(pid: number): Promise<number | undefined>;
}

/**
 * Samples memory and checks age on a timer (never overlapping: the next tick is armed when this one
 * ends). Reports agents to recycle; the pool decides when (an idle agent now, a busy one after its lease).
 */
export class RecycleMonitor<Agent extends RecyclableAgent> {
  private timer: TimerHandle | undefined;
  private stopped = false;

  constructor(
    private readonly options: RecycleMonitorOptions,
    private readonly agents: () => Iterable<Agent>,
    private readonly onRecycle: (agent: Agent, reason: RecycleReason) => void,
  ) {}

  start(): void {
    const { recycleMaxMemoryBytes, recycleMaxAgeMs, memorySampleIntervalMs, clock } = this.options;
    if (this.stopped || (recycleMaxMemoryBytes === 0 && recycleMaxAgeMs === 0) || this.timer) return;
    this.timer = clock.setTimeout(() => {
      void this.tick().finally(() => {
        this.timer = undefined;
        this.start();
      });
    }, memorySampleIntervalMs);
    this.timer.unref?.();
  }

  dispose(): void {
    this.stopped = true;
    if (this.timer) this.options.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  private async tick(): Promise<void> {
    const agents = [...this.agents()].filter((agent) => agent.pid !== undefined && (agent.state === 'idle' || agent.state === 'busy'));
    await Promise.all(
      agents.map(async (agent) => {
        if (this.options.recycleMaxMemoryBytes > 0) recordMemorySample(agent, await this.options.sampleMemory(agent.pid!), this.options);
        const reason = recycleReason(agent, this.options.clock.monotonicNow(), this.options);
        if (reason && !this.stopped && (agent.state === 'idle' || agent.state === 'busy')) this.onRecycle(agent, reason);
      }),
    );
  }
}

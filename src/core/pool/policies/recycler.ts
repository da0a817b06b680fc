import type { Clock, TimerHandle } from '../../common/clock';
import type { AgentState } from '../events';

export type RecycleReason = 'age' | 'turns' | 'memory' | 'cpu' | 'manual';

/** The automatic reasons: those the cap on recycles per hour counts (a user's recycle is never capped). */
export type AutomaticRecycleReason = Exclude<RecycleReason, 'manual'>;

/** A CPU sample of an agent's process tree while it idles: monotonic ms and CPU ms used by then. */
export interface CpuSample {
  at: number;
  cpuMs: number;
}

/** What the recycling limits read of an agent (they write nothing on it). */
export interface RecyclableAgent {
  readonly state: AgentState | undefined;
  readonly pid: number | undefined;
  /** Turns of the current process only. */
  readonly processTurns: number;
  /** Monotonic ms the current process became ready; 0 before. */
  readonly startedMonotonic: number;
  /** A limit reached mid-lease, applied when the lease ends. */
  readonly recyclePending: RecycleReason | undefined;
  /** Monotonic ms the last lease ended: a turn since a CPU sample starts the idle window over. */
  readonly lastReleasedAt: number;
}

/**
 * The recycle monitor's measurements of one agent process, kept by the monitor (by agent id), never
 * on the agent: a new process (another pid) starts them over, and they go when the agent goes.
 */
export interface ProcessSamples {
  readonly pid: number;
  rssBytes: number | undefined;
  samplesOverMemoryLimit: number;
  /** CPU samples since the agent last became idle, oldest first, trimmed to the idle CPU window. */
  idleCpuSamples: CpuSample[];
  /** Average share of one core (percent) over the last full idle CPU window; undefined until one is full. */
  idleCpuPercent: number | undefined;
}

export function newProcessSamples(pid: number): ProcessSamples {
  return { pid, rssBytes: undefined, samplesOverMemoryLimit: 0, idleCpuSamples: [], idleCpuPercent: undefined };
}

export interface RecycleLimits {
  recycleMaxAgeMs: number;
  recycleMaxTurns: number;
  recycleMaxMemoryBytes: number;
  memorySamplesOverLimit: number;
  /** Percent of one core an idle agent's tree may average over recycleIdleCpuWindowMs; 0 disables. */
  recycleMaxIdleCpuPercent: number;
  recycleIdleCpuWindowMs: number;
}

/** Why this agent should be replaced now, if at all (0 disables a limit). Memory needs N samples in a row. */
export function recycleReason(agent: RecyclableAgent, samples: ProcessSamples | undefined, now: number, limits: RecycleLimits): RecycleReason | undefined {
  if (agent.recyclePending) return agent.recyclePending;
  if (limits.recycleMaxTurns > 0 && agent.processTurns >= limits.recycleMaxTurns) return 'turns';
  if (limits.recycleMaxAgeMs > 0 && agent.startedMonotonic > 0 && now - agent.startedMonotonic >= limits.recycleMaxAgeMs) return 'age';
  if (!samples) return undefined;
  if (limits.recycleMaxMemoryBytes > 0 && samples.samplesOverMemoryLimit >= limits.memorySamplesOverLimit) return 'memory';
  if (limits.recycleMaxIdleCpuPercent > 0 && samples.idleCpuPercent !== undefined && samples.idleCpuPercent > limits.recycleMaxIdleCpuPercent) return 'cpu';
  return undefined;
}

/**
 * Records one CPU sample. Only idle time is judged: an agent at work may use every core it likes, but
 * an idle one is expected to sleep, so one that keeps spinning (a runaway watcher, a busy loop) is
 * replaced. The average is over a sliding window of the last `recycleIdleCpuWindowMs`; any turn, a
 * state other than idle, or a counter that went back (a child exited) starts the window over.
 */
export function recordCpuSample(
  into: ProcessSamples,
  agent: Pick<RecyclableAgent, 'state' | 'lastReleasedAt'>,
  cpuMs: number | undefined,
  now: number,
  limits: RecycleLimits,
): void {
  if (limits.recycleMaxIdleCpuPercent === 0) return;
  const samples = into.idleCpuSamples;
  const restart = cpuMs === undefined || agent.state !== 'idle' || samples.length === 0 || agent.lastReleasedAt > samples[0].at || cpuMs < samples[samples.length - 1].cpuMs;
  if (restart) {
    into.idleCpuSamples = cpuMs !== undefined && agent.state === 'idle' ? [{ at: now, cpuMs }] : [];
    into.idleCpuPercent = undefined;
    return;
  }
  samples.push({ at: now, cpuMs: cpuMs! });
  // Keep the newest sample at or before the window's start, so the window stays full once it was.
  const windowStart = now - limits.recycleIdleCpuWindowMs;
  while (samples.length > 2 && samples[1].at <= windowStart) samples.shift();
  const oldest = samples[0];
  const span = now - oldest.at;
  into.idleCpuPercent = span >= limits.recycleIdleCpuWindowMs ? ((cpuMs! - oldest.cpuMs) / span) * 100 : undefined;
}

/** A pool position's automatic recycles are counted over this rolling window. */
export const RECYCLE_CAP_WINDOW_MS = 3_600_000;

/**
 * The loop stopper: when a fresh process reaches the same limit at once (a profile that needs more memory
 * than allowed, an agent that always spins), recycling would replace it for ever. `history` holds the
 * monotonic times of the recycles of this pool position (each replacement inherits its predecessor's).
 * Returns the times still inside the window, and when the cap is reached, the monotonic time the
 * oldest of them leaves it, after which recycling may go on.
 */
export function recycleCap(history: readonly number[], now: number, maxPerHour: number): { recent: number[]; blockedUntil?: number } {
  const recent = history.filter((at) => now - at < RECYCLE_CAP_WINDOW_MS);
  if (maxPerHour === 0 || recent.length < maxPerHour) return { recent };
  return { recent, blockedUntil: recent[recent.length - maxPerHour] + RECYCLE_CAP_WINDOW_MS };
}

/** Records one memory sample; a sample under the limit resets the streak, so a single spike never recycles. */
export function recordMemorySample(into: ProcessSamples, rssBytes: number | undefined, limits: RecycleLimits): void {
  if (rssBytes === undefined) return;
  into.rssBytes = rssBytes;
  if (limits.recycleMaxMemoryBytes > 0 && rssBytes > limits.recycleMaxMemoryBytes) into.samplesOverMemoryLimit++;
  else into.samplesOverMemoryLimit = 0;
}

export interface RecycleMonitorOptions extends RecycleLimits {
  memorySampleIntervalMs: number;
  clock: Clock;
  sampleMemory(pid: number): Promise<number | undefined>;
  /** CPU ms used so far by the agent's process tree. */
  sampleCpu(pid: number): Promise<number | undefined>;
}

/** An agent the monitor found over a limit: the pool decides when it goes (an idle one now, a busy one after its lease). */
export interface RecycleDecision<Agent> {
  agent: Agent;
  reason: RecycleReason;
}

/**
 * Samples memory and idle CPU and checks age on a timer (never overlapping: the next tick is armed
 * when this one ends). It owns its samples, by agent id (see ProcessSamples), and hands each tick's
 * decisions to `onDecisions`; it changes nothing on an agent.
 */
export class RecycleMonitor<Agent extends RecyclableAgent & { readonly id: string }> {
  private timer: TimerHandle | undefined;
  private stopped = false;
  private readonly samples = new Map<string, ProcessSamples>();

  constructor(
    private readonly options: RecycleMonitorOptions,
    private readonly agents: () => Iterable<Agent>,
    private readonly onDecisions: (decisions: RecycleDecision<Agent>[]) => void,
  ) {}

  start(): void {
    const { recycleMaxMemoryBytes, recycleMaxAgeMs, recycleMaxIdleCpuPercent, memorySampleIntervalMs, clock } = this.options;
    if (this.stopped || (recycleMaxMemoryBytes === 0 && recycleMaxAgeMs === 0 && recycleMaxIdleCpuPercent === 0) || this.timer) return;
    this.timer = clock.setTimeout(() => {
      void this.sample()
        .then((decisions) => {
          if (decisions.length > 0 && !this.stopped) this.onDecisions(decisions);
        })
        .finally(() => {
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
    this.samples.clear();
  }

  /** The samples of the agent's current process, if any were taken. */
  samplesOf(agent: { readonly id: string; readonly pid: number | undefined }): ProcessSamples | undefined {
    const samples = this.samples.get(agent.id);
    return samples !== undefined && samples.pid === agent.pid ? samples : undefined;
  }

  /** Agents with samples kept: only those the pool still has. */
  get sampledAgents(): number {
    return this.samples.size;
  }

  /** The limit this agent reached, if any, judged on the monitor's samples of its current process. */
  reasonFor(agent: Agent, now: number): RecycleReason | undefined {
    return recycleReason(agent, this.samplesOf(agent), now, this.options);
  }

  /**
   * One round of samples; what to recycle. Samples of agents the pool no longer has are dropped
   * first; those of a process that went are ignored (samplesOf) and replaced at its successor's first sample.
   */
  async sample(): Promise<RecycleDecision<Agent>[]> {
    const all = [...this.agents()];
    if (this.samples.size > 0) {
      const present = new Set(all.map((agent) => agent.id));
      for (const id of this.samples.keys()) if (!present.has(id)) this.samples.delete(id);
    }
    const agents = all.filter((agent) => agent.pid !== undefined && (agent.state === 'idle' || agent.state === 'busy'));
    const decisions: RecycleDecision<Agent>[] = [];
    await Promise.all(
      agents.map(async (agent) => {
        const pid = agent.pid!;
        const [rss, cpuMs] = await Promise.all([
          this.options.recycleMaxMemoryBytes > 0 ? this.options.sampleMemory(pid) : undefined,
          this.options.recycleMaxIdleCpuPercent > 0 ? this.options.sampleCpu(pid) : undefined,
        ]);
        // The process went while it was being sampled: these figures are of no agent now.
        if (agent.pid !== pid || this.stopped) return;
        let samples = this.samplesOf(agent);
        if (!samples) this.samples.set(agent.id, (samples = newProcessSamples(pid)));
        recordMemorySample(samples, rss, this.options);
        recordCpuSample(samples, agent, cpuMs, this.options.clock.monotonicNow(), this.options);
        const reason = recycleReason(agent, samples, this.options.clock.monotonicNow(), this.options);
        if (reason && (agent.state === 'idle' || agent.state === 'busy')) decisions.push({ agent, reason });
      }),
    );
    return decisions;
  }
}

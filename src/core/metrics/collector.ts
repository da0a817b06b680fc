import type { Clock } from '../common/clock';
import { systemClock } from '../common/clock';
import { DisposableStore, toDisposable } from '../common/disposable';
import { Emitter, type Disposable, type Event } from '../common/event';
import type { ConversationInfo } from '../conversations/conversation';
import type { AgentInfo, AgentState, CircuitState, PoolEvent, PoolSnapshot, RestartReason } from '../pool/events';
import { Histogram } from './histogram';
import { METRICS_STATE_KIND, METRICS_STATE_SCHEMA, type MetricsState, type PairState } from './metricsState';
import { BoundedMap, KeyedAccumulator, PromptAccumulator } from './promptFigures';
import {
  METRICS_KIND,
  METRICS_SCHEMA,
  errorRateOf,
  restartsByReasonOf,
  type AgentMetrics,
  type ConversationMetrics,
  type MetricsSnapshot,
  type PairMetrics,
  type PoolMetrics,
  type ScaleEventRecord,
} from './snapshot';

/**
 * What the collector needs from a pool or a pool manager: its events, and its current state for
 * the gauges (agent counts, queue depth, circuit, RSS). A manager may return one snapshot per pool.
 */
export interface PoolEventSource {
  readonly onDidEmit: Event<PoolEvent>;
  snapshot(): PoolSnapshot | readonly PoolSnapshot[];
}

export interface MetricsCollectorOptions {
  instanceId: string;
  workspaceKey?: string;
  clock?: Clock;
  /** The last state of the previous instance of this workspace (see `state()`): its counters carry on here. */
  restored?: MetricsState;
  /** Most module pairs and sessions kept (least recently used forgotten first). Default 200 each. */
  maxKeys?: number;
  /** Most stopped agents still listed. Default 20. */
  maxStoppedAgents?: number;
}

type TurnFinished = Extract<PoolEvent, { type: 'turn-finished' }>;

class PoolCounters {
  readonly prompts: PromptAccumulator;
  readonly queueWait: Histogram;
  spawned: number;
  terminated: number;
  restarts: number;
  recycles: number;
  readonly restartsByReason: Record<RestartReason, number>;
  scaleUps: number;
  scaleDowns: number;
  lastScale: ScaleEventRecord | undefined;
  queueDepth = 0;
  circuit: { state: CircuitState; reason?: string; lastFailure?: { message: string; at: number } } = { state: 'closed' };

  constructor(
    readonly profile: string,
    restored?: PoolMetrics,
  ) {
    this.prompts = PromptAccumulator.fromData(restored?.prompts);
    this.queueWait = restored ? Histogram.fromData(restored.queueWaitMs) : new Histogram();
    this.spawned = restored?.spawned ?? 0;
    this.terminated = restored?.terminated ?? 0;
    this.restarts = restored?.restarts ?? 0;
    this.recycles = restored?.recycles ?? 0;
    this.restartsByReason = restartsByReasonOf({ restarts: this.restarts, recycles: this.recycles, restartsByReason: restored?.restartsByReason });
    this.scaleUps = restored?.scaleUps ?? 0;
    this.scaleDowns = restored?.scaleDowns ?? 0;
    this.lastScale = restored?.lastScale;
  }
}

class AgentCounters {
  readonly prompts = new PromptAccumulator();
  restarts = 0;
  recycles = 0;
  state: AgentState = 'starting';
  pid: number | undefined;
  stoppedAt: number | undefined;

  constructor(
    readonly id: string,
    readonly profile: string,
    readonly startedAt: number,
  ) {}
}

/**
 * Turns pool events into this window's metrics. Counters come from events; gauges (agent states,
 * queue depth, circuit, RSS) come from the sources' `snapshot()` at the moment a snapshot is taken,
 * so they can never drift from the pool's own view.
 */
export class MetricsCollector implements Disposable {
  private readonly clock: Clock;
  private readonly pools = new Map<string, PoolCounters>();
  private readonly agents = new Map<string, AgentCounters>();
  private readonly pairs: BoundedMap<KeyedAccumulator>;
  private readonly sessions: BoundedMap<KeyedAccumulator>;
  private readonly pairEnds = new Map<string, { source: string; target: string }>();
  private readonly sources = new Set<PoolEventSource>();
  private readonly subscriptions = new DisposableStore();
  private readonly maxStoppedAgents: number;
  private readonly continuesInstanceId: string | undefined;
  private seq = 0;

  private readonly _onDidChange = new Emitter<void>();
  /** Fires after every event that changed a figure. */
  readonly onDidChange: Event<void> = this._onDidChange.event;

  constructor(private readonly options: MetricsCollectorOptions) {
    this.clock = options.clock ?? systemClock;
    this.maxStoppedAgents = options.maxStoppedAgents ?? 20;
    const maxKeys = options.maxKeys ?? 200;
    this.pairs = new BoundedMap(maxKeys);
    this.sessions = new BoundedMap(maxKeys);
    const restored = options.restored;
    if (restored && restored.instanceId !== options.instanceId) this.continuesInstanceId = restored.instanceId;
    this.seq = restored?.instanceId === options.instanceId ? restored.seq : 0;
    for (const pool of restored?.pools ?? []) this.pools.set(pool.profile, new PoolCounters(pool.profile, pool));
    for (const pair of restored?.pairs ?? []) {
      this.pairs.getOrCreate(pair.key, () => new KeyedAccumulator(pair.key, pair.profile, pair));
      this.pairEnds.set(pair.key, { source: pair.source, target: pair.target });
    }
    for (const session of restored?.sessions ?? []) {
      this.sessions.getOrCreate(session.key, () => new KeyedAccumulator(session.key, session.profile, session));
    }
  }

  /** Follows a pool (or a pool manager) until the returned disposable or the collector is disposed. */
  attach(source: PoolEventSource): Disposable {
    this.sources.add(source);
    const subscription = source.onDidEmit((event) => this.record(event));
    const detach = toDisposable(() => {
      subscription.dispose();
      this.sources.delete(source);
    });
    this.subscriptions.add(detach);
    this._onDidChange.fire();
    return detach;
  }

  record(event: PoolEvent): void {
    const pool = this.poolCounters(event.profile);
    switch (event.type) {
      case 'agent-state': {
        const agent = this.agentCounters(event.agentId, event.profile);
        agent.state = event.to;
        if (event.to === 'stopped') this.markStopped(agent);
        break;
      }
      case 'agent-spawned': {
        pool.spawned++;
        this.agentCounters(event.agentId, event.profile).pid = event.pid;
        break;
      }
      case 'agent-exited': {
        pool.terminated++;
        const agent = this.agentCounters(event.agentId, event.profile);
        agent.state = 'stopped';
        this.markStopped(agent);
        break;
      }
      case 'turn-finished':
        this.recordTurn(pool, event);
        break;
      case 'queue':
        pool.queueDepth = event.depth;
        if (event.waitedMs !== undefined) pool.queueWait.record(event.waitedMs);
        break;
      case 'scale':
        if (event.direction === 'up') pool.scaleUps++;
        else pool.scaleDowns++;
        pool.lastScale = { direction: event.direction, at: event.at ?? this.clock.wallNow(), from: event.from, to: event.to, reason: event.reason };
        break;
      case 'circuit':
        pool.circuit = { state: event.state };
        if (event.reason !== undefined) pool.circuit.reason = event.reason;
        if (event.lastFailure) pool.circuit.lastFailure = event.lastFailure;
        break;
      case 'recycle':
        pool.recycles++;
        pool.restartsByReason.recycle++;
        this.agentCounters(event.agentId, event.profile).recycles++;
        break;
      case 'user-restart':
        pool.restartsByReason.user++;
        break;
      case 'restart':
        pool.restarts++;
        pool.restartsByReason.crash++;
        this.agentCounters(event.agentId, event.profile).restarts++;
        break;
    }
    this._onDidChange.fire();
  }

  /** What the next instance of this workspace restores from: pools, sessions and pairs, with full histograms. */
  state(): MetricsState {
    const pairs: PairState[] = [...this.pairs.values()].map((pair) => ({ ...pair.toState(), ...this.pairEnds.get(pair.key)! }));
    const state: MetricsState = {
      schema: METRICS_STATE_SCHEMA,
      kind: METRICS_STATE_KIND,
      instanceId: this.options.instanceId,
      seq: this.seq,
      writtenAt: this.clock.wallNow(),
      pools: [...this.pools.values()].map((counters) => this.poolMetrics(counters, undefined)),
      pairs,
      sessions: [...this.sessions.values()].map((session) => session.toState()),
    };
    if (this.options.workspaceKey !== undefined) state.workspaceKey = this.options.workspaceKey;
    return state;
  }

  /** This window's metrics to share. Every call advances `seq`, so readers can tell writes apart. */
  snapshot(): MetricsSnapshot {
    const now = this.clock.wallNow();
    const poolSnapshots = this.poolSnapshots();
    const infos = new Map<string, AgentInfo>();
    for (const pool of poolSnapshots) for (const info of pool.agents) infos.set(info.id, info);
    for (const pool of poolSnapshots) this.poolCounters(pool.profile);

    const pools = [...this.pools.values()].map((counters) =>
      this.poolMetrics(counters, poolSnapshots.find((p) => p.profile === counters.profile)),
    );
    const agentIds = new Set([...this.agents.keys(), ...infos.keys()]);
    const agents = [...agentIds].map((id) => this.agentMetrics(id, infos.get(id), now));
    const pairs: PairMetrics[] = [...this.pairs.values()].map((pair) => ({ ...pair.toData(), ...this.pairEnds.get(pair.key)! }));
    const sessions = [...this.sessions.values()].map((session) => session.toData());
    const conversations = poolSnapshots.flatMap((pool) => (pool.conversations ?? []).map(conversationMetrics));
    const snapshot: MetricsSnapshot = {
      schema: METRICS_SCHEMA,
      kind: METRICS_KIND,
      instanceId: this.options.instanceId,
      seq: ++this.seq,
      writtenAt: now,
      pools,
      agents,
      pairs,
      sessions,
    };
    if (conversations.length > 0) snapshot.conversations = conversations;
    if (this.options.workspaceKey !== undefined) snapshot.workspaceKey = this.options.workspaceKey;
    if (this.continuesInstanceId !== undefined) snapshot.continuesInstanceId = this.continuesInstanceId;
    return snapshot;
  }

  dispose(): void {
    this.subscriptions.dispose();
    this.sources.clear();
    this._onDidChange.dispose();
  }

  private recordTurn(pool: PoolCounters, turn: TurnFinished): void {
    pool.prompts.record(turn);
    this.agentCounters(turn.agentId, turn.profile).prompts.record(turn);
    if (turn.sourceModule !== undefined && turn.targetModule !== undefined) {
      const key = `${turn.sourceModule} → ${turn.targetModule}`;
      this.pairEnds.set(key, { source: turn.sourceModule, target: turn.targetModule });
      this.pairs.getOrCreate(key, () => new KeyedAccumulator(key, turn.profile)).record(turn);
    }
    if (turn.sessionKey !== undefined) {
      const key = turn.sessionKey;
      this.sessions.getOrCreate(key, () => new KeyedAccumulator(key, turn.profile)).record(turn);
    }
  }

  private poolSnapshots(): PoolSnapshot[] {
    const snapshots: PoolSnapshot[] = [];
    for (const source of this.sources) {
      try {
        const value = source.snapshot();
        if (Array.isArray(value)) snapshots.push(...(value as readonly PoolSnapshot[]));
        else snapshots.push(value as PoolSnapshot);
      } catch (error) {
        // A pool that cannot describe itself must not stop the others from being reported.
        console.error('[agent-pool] metrics: a pool snapshot failed:', error);
      }
    }
    return snapshots;
  }

  private poolMetrics(counters: PoolCounters, live: PoolSnapshot | undefined): PoolMetrics {
    const agents = { starting: 0, idle: 0, busy: 0, total: 0 };
    for (const info of live?.agents ?? []) {
      if (info.state === 'stopped') continue;
      agents.total++;
      if (info.state === 'starting') agents.starting++;
      else if (info.state === 'idle') agents.idle++;
      else if (info.state === 'busy') agents.busy++;
    }
    const metrics: PoolMetrics = {
      profile: counters.profile,
      agents,
      minAgents: live?.minAgents ?? 0,
      maxAgents: live?.maxAgents ?? 0,
      queueDepth: live?.queueDepth ?? counters.queueDepth,
      queueWaitMs: counters.queueWait.toData(),
      spawned: counters.spawned,
      terminated: counters.terminated,
      restarts: counters.restarts,
      recycles: counters.recycles,
      restartsByReason: { ...counters.restartsByReason },
      scaleUps: counters.scaleUps,
      scaleDowns: counters.scaleDowns,
      utilization: agents.total === 0 ? 0 : agents.busy / agents.total,
      circuit: live?.circuit ?? counters.circuit,
      closed: live?.closed ?? this.sources.size === 0,
      prompts: counters.prompts.toData(),
    };
    if (counters.lastScale) metrics.lastScale = counters.lastScale;
    return metrics;
  }

  private agentMetrics(id: string, info: AgentInfo | undefined, now: number): AgentMetrics {
    const counters = this.agents.get(id) ?? new AgentCounters(id, info!.profile, info!.startedAt);
    const startedAt = info?.startedAt ?? counters.startedAt;
    const prompts = counters.prompts.toSummary();
    const metrics: AgentMetrics = {
      id,
      profile: info?.profile ?? counters.profile,
      state: info?.state ?? counters.state,
      startedAt,
      uptimeMs: Math.max(0, (counters.stoppedAt ?? now) - startedAt),
      restarts: Math.max(counters.restarts, info?.restarts ?? 0),
      recycles: counters.recycles,
      prompts,
      errorRate: errorRateOf(prompts),
    };
    const pid = info?.pid ?? counters.pid;
    if (pid !== undefined) metrics.pid = pid;
    if (info?.rssBytes !== undefined) metrics.rssBytes = info.rssBytes;
    if (info?.conversations) metrics.conversations = info.conversations;
    if (info?.contextUsed !== undefined) metrics.contextUsed = info.contextUsed;
    if (info?.contextSize !== undefined) metrics.contextSize = info.contextSize;
    return metrics;
  }

  private poolCounters(profile: string): PoolCounters {
    let counters = this.pools.get(profile);
    if (!counters) {
      counters = new PoolCounters(profile);
      this.pools.set(profile, counters);
    }
    return counters;
  }

  private agentCounters(id: string, profile: string): AgentCounters {
    let counters = this.agents.get(id);
    if (!counters) {
      counters = new AgentCounters(id, profile, this.clock.wallNow());
      this.agents.set(id, counters);
    }
    return counters;
  }

  private markStopped(agent: AgentCounters): void {
    agent.stoppedAt ??= this.clock.wallNow();
    const stopped = [...this.agents.values()].filter((a) => a.stoppedAt !== undefined);
    for (const old of stopped.slice(0, Math.max(0, stopped.length - this.maxStoppedAgents))) this.agents.delete(old.id);
  }
}

function conversationMetrics(info: ConversationInfo): ConversationMetrics {
  const { usage } = info;
  const metrics: ConversationMetrics = {
    key: info.key,
    profile: info.profile,
    turns: info.turns,
    costUsd: usage.costUsd,
    inputTokens: usage.inputTokens,
    outputTokens: usage.outputTokens,
    lastUsedAt: info.lastUsedAt,
    contextLost: info.contextLost,
  };
  if (info.agentId !== undefined) metrics.agentId = info.agentId;
  if (usage.contextUsed !== undefined) metrics.contextUsed = usage.contextUsed;
  if (usage.contextSize !== undefined) metrics.contextSize = usage.contextSize;
  return metrics;
}

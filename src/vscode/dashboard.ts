/**
 * Turns the service's parts (pools, registry, aggregate, budget) into the two read-only states the
 * status bar and the tree render from. This window's own agents are counted first-hand from its
 * pools (always current); other windows' come from their snapshots. No vscode import.
 */
import type { AggregateView } from '../core/metrics/aggregate';
import type { AgentPoolService } from '../core/service/agentPoolService';
import type { ConversationMetrics, PoolMetrics } from '../core/metrics/snapshot';
import type { StatusInput, UsageFigures } from './statusModel';
import type { DashboardState, WindowFigures } from './treeModel';

export type DashboardSource = Pick<AgentPoolService, 'pools' | 'instances' | 'aggregate' | 'budget' | 'localMetrics'> & Partial<Pick<AgentPoolService, 'lifecycle'>>;

type WindowEntry = AggregateView['windows'][number];

interface Counts extends WindowFigures {
  starting: number;
  idle: number;
  queued: number;
}

/** A window's context in use is that of the conversations its pools hold, from its snapshot; all windows' is their sum. */
export function statusInputOf(source: DashboardSource, cannotStartReason: string | undefined): StatusInput {
  const pools = source.pools();
  const view = source.aggregate();
  const here = ownCounts(source);
  const others = otherWindows(view);
  const budget = source.budget();
  const local = source.localMetrics();
  const othersAgents = sum(others, (w) => countsOf(w).agents);
  return {
    agentsHere: here.agents,
    agentsAll: here.agents + othersAgents,
    windows: others.length + 1,
    busy: here.busy,
    idle: here.idle,
    starting: here.starting,
    queued: here.queued,
    p95Ms: view.totals.completionMs.count > 0 ? view.totals.completionMs.p95 : undefined,
    errorRate: view.totals.errorRate,
    budget: { cap: budget.cap, used: budget.used, unavailableReason: budget.unavailableReason },
    circuits: pools.map((p) => ({ profile: p.profile, state: p.circuit.state, reason: p.circuit.reason })),
    windowList: [
      { name: selfName(view), agents: here.agents, busy: here.busy, health: 'live', isSelf: true, heartbeatAgeMs: 0 },
      ...others.map((w) => ({ name: w.record?.workspaceName || w.id, ...countsOf(w), health: w.health, isSelf: false, heartbeatAgeMs: w.heartbeatAgeMs })),
    ],
    cannotStartReason,
    usage: {
      windows: [
        { name: selfName(view), isSelf: true, ...usageOfPools(local?.pools ?? []), context: contextOf(local?.conversations ?? []) },
        ...others.map((w) => ({ name: w.record?.workspaceName || w.id, isSelf: false, ...usageOfPools(w.snapshot?.pools ?? []), context: contextOf(w.snapshot?.conversations ?? []) })),
      ],
      all: {
        inputTokens: view.totals.inputTokens,
        outputTokens: view.totals.outputTokens,
        costUsd: view.totals.costUsd,
        context: contextOf([...(local?.conversations ?? []), ...others.flatMap((w) => w.snapshot?.conversations ?? [])]),
      },
    },
  };
}

/** Tokens and cost of a window's pools, from its snapshot's cumulative counters. */
export function usageOfPools(pools: readonly Pick<PoolMetrics, 'prompts'>[]): UsageFigures {
  return {
    inputTokens: sum(pools, (p) => p.prompts.inputTokens),
    outputTokens: sum(pools, (p) => p.prompts.outputTokens),
    costUsd: sum(pools, (p) => p.prompts.costUsd),
  };
}

/** Context in use over the conversations that reported it, against their windows; undefined when none did. */
export function contextOf(conversations: readonly Pick<ConversationMetrics, 'contextUsed' | 'contextSize'>[]): UsageFigures['context'] {
  const reported = conversations.filter((c) => c.contextUsed !== undefined);
  if (reported.length === 0) return undefined;
  return { used: sum(reported, (c) => c.contextUsed ?? 0), size: sum(reported, (c) => c.contextSize ?? 0), conversations: reported.length };
}

export function dashboardStateOf(source: DashboardSource, now: { monotonic: number; wall: number }): DashboardState {
  const view = source.aggregate();
  const here = ownCounts(source);
  const others = otherWindows(view);
  const budget = source.budget();
  const local = source.localMetrics();
  return {
    pools: source.pools(),
    agentMetrics: new Map((local?.agents ?? []).map((a) => [a.id, a])),
    instances: source.instances(),
    lifecycle: source.lifecycle?.(),
    windowFigures: new Map(view.windows.map((w) => [w.id, countsOf(w)])),
    totals: {
      agentsHere: here.agents,
      agentsAll: here.agents + sum(others, (w) => countsOf(w).agents),
      windows: others.length + 1,
      busy: here.busy + sum(others, (w) => countsOf(w).busy),
      queued: here.queued + sum(others, (w) => countsOf(w).queued),
      prompts: view.totals.prompts.total,
      p95Ms: view.totals.completionMs.count > 0 ? view.totals.completionMs.p95 : undefined,
      errorRate: view.totals.errorRate,
      tokens: view.totals.inputTokens + view.totals.outputTokens,
      costUsd: view.totals.costUsd,
      unresponsive: view.totals.unresponsiveWindows,
      budget: { cap: budget.cap, used: budget.used },
    },
    pairs: local?.pairs ?? [],
    sessions: local?.sessions ?? [],
    now: now.monotonic,
    wallNow: now.wall,
  };
}

function ownCounts(source: DashboardSource): Counts {
  const pools = source.pools();
  const agents = pools.flatMap((p) => p.agents).filter((a) => a.state !== 'stopped');
  const count = (state: string) => agents.filter((a) => a.state === state).length;
  return { agents: agents.length, busy: count('busy'), idle: count('idle'), starting: count('starting'), queued: sum(pools, (p) => p.queueDepth) };
}

function otherWindows(view: AggregateView): WindowEntry[] {
  return view.windows.filter((w) => !w.isSelf && w.health !== 'dead');
}

function countsOf(window: WindowEntry): Counts {
  const pools = window.snapshot?.pools ?? [];
  return {
    agents: sum(pools, (p) => p.agents.total),
    busy: sum(pools, (p) => p.agents.busy),
    idle: sum(pools, (p) => p.agents.idle),
    starting: sum(pools, (p) => p.agents.starting),
    queued: sum(pools, (p) => p.queueDepth),
  };
}

function selfName(view: AggregateView): string {
  const self = view.windows.find((w) => w.isSelf);
  return self?.record?.workspaceName || 'this window';
}

function sum<T>(items: readonly T[], value: (item: T) => number): number {
  return items.reduce((total, item) => total + value(item), 0);
}

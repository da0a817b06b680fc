/**
 * The Agent Pool view as plain data: a pure function from the dashboard state to nodes, so what the
 * view shows is tested without VS Code. treeView.ts only turns nodes into TreeItems.
 */
import type { InstanceLifecycle, InstanceView } from '../core/registry/types';
import type { AgentInfo, PoolSnapshot } from '../core/pool/events';
import type { AgentMetrics, KeyedMetrics, PairMetrics } from '../core/metrics/snapshot';
import type { HistogramSummary } from '../core/metrics/histogram';
import { formatDuration, formatPercent, plural } from './statusModel';

export interface WindowFigures {
  agents: number;
  busy: number;
}

export interface DashboardTotals {
  agentsHere: number;
  agentsAll: number;
  windows: number;
  busy: number;
  queued: number;
  prompts: number;
  p95Ms?: number;
  errorRate: number;
  tokens: number;
  unresponsive: number;
  budget: { cap: number; used: number };
}

export interface DashboardState {
  pools: PoolSnapshot[];
  /** Per-agent figures of this window by agent id (p95, error rate). */
  agentMetrics: Map<string, AgentMetrics>;
  instances: InstanceView[];
  /** This window's lifecycle (ACTIVE, IDLE, COMPLETING); omitted before the service has one. */
  lifecycle?: InstanceLifecycle;
  /** Figures of every window by instance id, from the aggregator. */
  windowFigures: Map<string, WindowFigures>;
  totals: DashboardTotals;
  pairs: PairMetrics[];
  sessions: KeyedMetrics[];
  /** Monotonic ms "now", for ages. */
  now: number;
  /** Wall-clock ms "now", for agent ages (agents carry wall-clock start times). */
  wallNow: number;
}

export interface TreeNode {
  id: string;
  label: string;
  description?: string;
  tooltip?: string;
  /** A codicon id, optionally with a theme colour id. */
  icon?: { id: string; color?: string };
  contextValue?: string;
  children?: TreeNode[];
  expanded?: boolean;
  agentId?: string;
  profile?: string;
}

const STATE_ICONS: Record<AgentInfo['state'], { id: string; color?: string }> = {
  starting: { id: 'loading~spin' },
  idle: { id: 'circle-outline', color: 'charts.green' },
  busy: { id: 'sync~spin', color: 'charts.blue' },
  draining: { id: 'debug-pause', color: 'charts.yellow' },
  recycling: { id: 'recycle', color: 'charts.yellow' },
  unhealthy: { id: 'warning', color: 'list.warningForeground' },
  stopped: { id: 'circle-slash', color: 'disabledForeground' },
};

export function buildTree(state: DashboardState): TreeNode[] {
  return [thisWindow(state), otherWindows(state), totals(state), keyed('pairs', 'Module Pairs', state.pairs, pairLabel), keyed('sessions', 'Sessions', state.sessions, (k) => k.key)];
}

function thisWindow(state: DashboardState): TreeNode {
  const pools = state.pools.map((pool) => poolNode(pool, state));
  return {
    id: 'section/this-window',
    label: 'This Window',
    icon: { id: 'window' },
    expanded: true,
    description: [pools.length === 0 ? 'no pool running' : plural(state.pools.reduce((n, p) => n + p.agents.length, 0), 'agent'), state.lifecycle].filter(Boolean).join(' · '),
    tooltip: state.lifecycle ? `This window is ${LIFECYCLE_MEANING[state.lifecycle]}` : undefined,
    children: pools,
  };
}

function poolNode(pool: PoolSnapshot, state: DashboardState): TreeNode {
  const busy = pool.agents.filter((a) => a.state === 'busy').length;
  const circuit = pool.circuit.state === 'closed' ? '' : ` · circuit ${pool.circuit.state}`;
  return {
    id: `pool/${pool.profile}`,
    label: pool.profile,
    description: `${pool.agents.length}/${pool.maxAgents} agents · ${busy} busy · ${pool.queueDepth} queued · ${pool.strategy}${circuit}`,
    tooltip: pool.circuit.reason ? `Circuit ${pool.circuit.state}: ${pool.circuit.reason}` : `Pool for profile ${pool.profile}`,
    icon: pool.circuit.state === 'open' ? { id: 'error', color: 'errorForeground' } : { id: 'server-process' },
    contextValue: 'pool',
    profile: pool.profile,
    expanded: true,
    children: pool.agents.map((agent) => agentNode(agent, state)),
  };
}

function agentNode(agent: AgentInfo, state: DashboardState): TreeNode {
  const metrics = state.agentMetrics.get(agent.id);
  const p95 = metrics ? quantileOf(metrics) : undefined;
  const parts = [
    agent.state,
    agent.profile,
    plural(agent.turns, 'turn'),
    `p95 ${formatDuration(p95)}`,
    agent.rssBytes !== undefined ? `${Math.round(agent.rssBytes / 2 ** 20)} MB` : undefined,
    formatAge(state.wallNow - agent.startedAt),
  ].filter(Boolean);
  const task = agent.state === 'busy' && agent.currentTask ? `: ${agent.currentTask}` : '';
  return {
    id: `agent/${agent.id}`,
    label: `${agent.id}${task}`,
    description: parts.join(' · '),
    tooltip: [
      `Agent ${agent.id} (${agent.profile})`,
      `State: ${agent.state}`,
      agent.pid ? `PID: ${agent.pid}` : undefined,
      `Turns: ${agent.turns}, restarts: ${agent.restarts}`,
      metrics ? `Errors: ${formatPercent(metrics.errorRate)}` : undefined,
      agent.currentTask ? `Working on: ${agent.currentTask}` : undefined,
    ]
      .filter(Boolean)
      .join('\n'),
    icon: STATE_ICONS[agent.state],
    contextValue: `agent.${agent.state}`,
    agentId: agent.id,
    profile: agent.profile,
  };
}

const LIFECYCLE_MEANING: Record<InstanceLifecycle, string> = {
  ACTIVE: 'ACTIVE: an agent is working',
  IDLE: 'IDLE: no agent is working',
  COMPLETING: 'COMPLETING: shutting down',
};

function otherWindows(state: DashboardState): TreeNode {
  const others = state.instances.filter((i) => !i.isSelf);
  return {
    id: 'section/other-windows',
    label: 'Other Windows',
    icon: { id: 'multiple-windows' },
    description: others.length === 0 ? 'none' : String(others.length),
    expanded: true,
    children: others.map((instance) => {
      const figures = state.windowFigures.get(instance.record.id);
      const marker = instance.health === 'live' ? '' : ` · ${instance.health.toUpperCase()}`;
      return {
        id: `window/${instance.record.id}`,
        label: instance.record.workspaceName || instance.record.id,
        description: `${plural(figures?.agents ?? 0, 'agent')} · ${figures?.busy ?? 0} busy · heartbeat ${formatAge(instance.heartbeatAgeMs)} ago${marker} · ${instance.record.lifecycle}`,
        tooltip: `${instance.record.id} (${LIFECYCLE_MEANING[instance.record.lifecycle] ?? instance.record.lifecycle})\nPID ${instance.record.pid} on ${instance.record.hostname}\n${instance.record.workspaceFolders.join('\n')}`,
        icon:
          instance.health === 'live'
            ? { id: 'window' }
            : instance.health === 'unresponsive'
              ? { id: 'warning', color: 'list.warningForeground' }
              : { id: 'close', color: 'errorForeground' },
        contextValue: `window.${instance.health}`,
      };
    }),
  };
}

function totals(state: DashboardState): TreeNode {
  const t = state.totals;
  const row = (key: string, label: string, description: string): TreeNode => ({ id: `totals/${key}`, label, description });
  return {
    id: 'section/totals',
    label: 'Totals',
    icon: { id: 'dashboard' },
    description: `${t.agentsHere}/${t.agentsAll} (${t.windows})`,
    expanded: true,
    children: [
      row('agents', 'Agents', `${t.agentsHere} here / ${t.agentsAll} in ${plural(t.windows, 'window')}`),
      row('busy', 'Busy', String(t.busy)),
      row('queued', 'Queued', String(t.queued)),
      row('budget', 'Budget', `${t.budget.used} of ${t.budget.cap} slots`),
      row('prompts', 'Prompts', String(t.prompts)),
      row('p95', 'p95', formatDuration(t.p95Ms)),
      row('errors', 'Errors', formatPercent(t.errorRate)),
      row('tokens', 'Tokens', String(t.tokens)),
      row('unresponsive', 'Unresponsive windows', String(t.unresponsive)),
    ],
  };
}

function keyed<T extends KeyedMetrics>(key: string, label: string, items: T[], name: (item: T) => string): TreeNode {
  return {
    id: `section/${key}`,
    label,
    icon: { id: key === 'pairs' ? 'arrow-swap' : 'comment-discussion' },
    description: items.length === 0 ? 'none yet' : String(items.length),
    expanded: false,
    children: items.map((item) => ({
      id: `${key}/${item.profile}/${item.key}`,
      label: name(item),
      description: `${plural(item.prompts.total, 'prompt')} · p95 ${formatDuration(quantile(item.prompts.completionMs))} · affinity ${item.affinity.toFixed(2)}`,
      tooltip: `${item.profile}: ${item.prompts.succeeded} succeeded, ${item.prompts.failed} failed, ${item.prompts.cancelled} cancelled, ${item.prompts.timedOut} timed out`,
    })),
  };
}

function pairLabel(pair: PairMetrics): string {
  return `${pair.source} → ${pair.target}`;
}

function quantileOf(metrics: AgentMetrics): number | undefined {
  return quantile(metrics.prompts.completionMs);
}

export function quantile(summary: HistogramSummary, q: 'p50' | 'p95' | 'p99' = 'p95'): number | undefined {
  return summary.count === 0 ? undefined : summary[q];
}

export function formatAge(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '–';
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m`;
  const h = Math.floor(m / 60);
  return h < 48 ? `${h}h${m % 60 ? ` ${m % 60}m` : ''}` : `${Math.floor(h / 24)}d`;
}

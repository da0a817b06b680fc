/**
 * The Agent Pool view as plain data: a pure function from the dashboard state to nodes, so what the
 * view shows is tested without VS Code. treeView.ts only turns nodes into TreeItems.
 */
import type { InstanceLifecycle, InstanceView } from '../core/registry/types';
import type { AgentInfo, PoolSnapshot } from '../core/pool/events';
import type { AgentMetrics, KeyedMetrics, PairMetrics } from '../core/metrics/snapshot';
import type { HistogramSummary } from '../core/metrics/histogram';
import type { ConversationView } from '../core/service/conversations';
import { conversationSection } from './conversationNodes';
import { formatCostUsd } from '../core/conversations/conversation';
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
  /** Summed from every window's per-turn cost differences. */
  costUsd?: number;
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
  /** Restricted Mode: this window starts no agent, and says so. */
  restricted?: boolean;
  /** The conversations of the registry directory (every window's and the CLI's), most recently used first. */
  conversations?: readonly ConversationView[];
  /** Titles of conversations by key (a chat thread's first prompt). */
  conversationTitles?: ReadonlyMap<string, string>;
}

export interface TreeNode {
  id: string;
  label: string;
  description?: string;
  /**
   * Shown on hover. Not part of what makes a row change: ages, heartbeats and memory move all the
   * time, and a row redrawn for them would close its own tooltip (treeView resolves it on hover).
   */
  tooltip?: string;
  /** A codicon id, optionally with a theme colour id. */
  icon?: { id: string; color?: string };
  contextValue?: string;
  children?: TreeNode[];
  expanded?: boolean;
  agentId?: string;
  profile?: string;
  /** The conversation a row shows (Close Conversation's argument). */
  conversationKey?: string;
  /** Run on click. */
  command?: { id: string; title: string };
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

/** This Window, Other Windows and Totals always; Conversations and Module Pairs once they have something to show. */
export function buildTree(state: DashboardState): TreeNode[] {
  const nodes = [thisWindow(state), otherWindows(state), totals(state)];
  const conversations = conversationSection({ conversations: state.conversations ?? [], titles: state.conversationTitles, sessions: state.sessions, wallNow: state.wallNow });
  if (conversations) nodes.push(conversations);
  if (state.pairs.length > 0) nodes.push(keyed('pairs', 'Module Pairs', state.pairs, pairLabel, state));
  return nodes;
}

function thisWindow(state: DashboardState): TreeNode {
  const pools = state.pools.map((pool) => poolNode(pool, state));
  const agents = state.pools.reduce((n, p) => n + p.agents.filter((a) => a.state !== 'stopped').length, 0);
  if (state.restricted) {
    return {
      id: 'section/this-window',
      label: 'This Window',
      icon: { id: 'window' },
      expanded: true,
      description: 'Restricted Mode',
      children: [
        {
          id: 'restricted',
          label: 'No agent starts in Restricted Mode',
          description: 'Manage Workspace Trust',
          tooltip: 'Agents run programs and change files, so Agent Pool starts none in a folder you have not trusted. Click to manage workspace trust.',
          icon: { id: 'shield', color: 'list.warningForeground' },
          contextValue: 'restricted',
          command: { id: 'workbench.trust.manage', title: 'Manage Workspace Trust' },
        },
      ],
    };
  }
  return {
    id: 'section/this-window',
    label: 'This Window',
    icon: { id: 'window' },
    expanded: true,
    description: [pools.length === 0 ? 'no pool running' : plural(agents, 'agent'), state.lifecycle].filter(Boolean).join(' · '),
    tooltip: state.lifecycle ? `This window is ${LIFECYCLE_MEANING[state.lifecycle]}` : undefined,
    children: pools,
  };
}

/** Why a pool cannot serve, in the words a person acts on; undefined while it can. */
export interface PoolProblem {
  /** Short, for the row: "not installed", "sign-in needed", "circuit open until 12:03". */
  short: string;
  /** The agent's own words, for the tooltip and the log. */
  detail: string;
}

export function poolProblem(pool: PoolSnapshot, wallNow: number): PoolProblem | undefined {
  const circuit = pool.circuit;
  if (circuit.state === 'closed') return undefined;
  const reason = circuit.reason ?? '';
  const detail = reason.replace(/\s*\[[A-Z_]+\]\s*$/, '');
  const until = circuit.state === 'open' && circuit.retryAt !== undefined && circuit.retryAt > wallNow ? ` until ${clockTime(circuit.retryAt)}` : '';
  if (/AGENT_BINARY_NOT_FOUND|was not found on PATH/.test(reason)) return { short: 'not installed', detail };
  if (/AGENT_AUTH_REQUIRED|auth(entication|orization)? required|sign[- ]?in|log[- ]?in|api key/i.test(reason)) return { short: 'sign-in needed', detail };
  if (/AGENT_RATE_LIMITED|rate limit|429/i.test(reason)) return { short: `rate limited${until}`, detail };
  if (circuit.state === 'half-open') return { short: 'retrying', detail };
  return { short: `circuit open${until}`, detail };
}

function poolNode(pool: PoolSnapshot, state: DashboardState): TreeNode {
  const live = pool.agents.filter((a) => a.state !== 'stopped');
  const busy = live.filter((a) => a.state === 'busy').length;
  const problem = poolProblem(pool, state.wallNow);
  const figures = [plural(live.length, 'agent'), busy > 0 ? `${busy} busy` : undefined, pool.queueDepth > 0 ? `${pool.queueDepth} queued` : undefined];
  return {
    id: `pool/${pool.profile}`,
    label: pool.profile,
    description: problem ? problem.short : figures.filter(Boolean).join(' · '),
    tooltip: [
      `Pool for profile ${pool.profile}`,
      problem ? `Cannot serve: ${problem.detail}` : undefined,
      `${live.length} of at most ${pool.maxAgents} agents (${pool.minAgents} kept warm), ${busy} busy, ${pool.queueDepth} queued`,
      `Routing: ${pool.strategy}`,
      problem ? 'Retry, Stop Pool or Open Settings from this row.' : undefined,
    ]
      .filter(Boolean)
      .join('\n'),
    icon: problem ? { id: 'error', color: 'errorForeground' } : { id: 'server-process' },
    contextValue: problem ? 'pool.failed' : 'pool',
    profile: pool.profile,
    expanded: true,
    // No chevron on a pool without agents (a failed one, or one scaled to zero).
    children: pool.agents.length > 0 ? pool.agents.map((agent) => agentNode(agent, state)) : undefined,
  };
}

function agentNode(agent: AgentInfo, state: DashboardState): TreeNode {
  const metrics = state.agentMetrics.get(agent.id);
  const p95 = metrics ? quantileOf(metrics) : undefined;
  const task = agent.state === 'busy' && agent.currentTask ? `: ${agent.currentTask}` : '';
  const started = agent.startedAt > 0 && agent.state !== 'starting' ? `Started ${formatAge(state.wallNow - agent.startedAt)} ago (${clockTime(agent.startedAt)})` : 'Starting';
  return {
    id: `agent/${agent.id}`,
    label: `${agent.id}${task}`,
    description: agent.state === 'starting' ? 'starting' : `${agent.state} · ${plural(agent.turns, 'turn')}`,
    tooltip: [
      `Agent ${agent.id} (${agent.profile})`,
      `State: ${agent.state}`,
      started,
      agent.pid ? `PID: ${agent.pid}` : undefined,
      `Turns: ${agent.turns}, restarts: ${agent.restarts}`,
      agent.rssBytes !== undefined ? `Memory: ${Math.round(agent.rssBytes / 2 ** 20)} MB` : undefined,
      p95 !== undefined ? `Time to answer (p95): ${formatDuration(p95)}` : undefined,
      metrics && metrics.prompts.total > 0 ? `Errors: ${formatPercent(metrics.errorRate)}` : undefined,
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
  const names = windowNames(state.instances);
  return {
    id: 'section/other-windows',
    label: 'Other Windows',
    icon: { id: 'multiple-windows' },
    description: others.length === 0 ? 'none' : String(others.length),
    expanded: true,
    children: others.map((instance) => {
      const figures = state.windowFigures.get(instance.record.id);
      const agents = figures?.agents ?? 0;
      const busy = figures?.busy ?? 0;
      const health = instance.health === 'live' ? undefined : instance.health === 'unresponsive' ? 'not responding' : 'closed';
      const record = instance.record;
      return {
        id: `window/${record.id}`,
        label: names.get(record.id) ?? record.id,
        description: [plural(agents, 'agent'), busy > 0 ? `${busy} busy` : undefined, health, record.lifecycle].filter(Boolean).join(' · '),
        tooltip: [
          `${record.id} (${LIFECYCLE_MEANING[record.lifecycle] ?? record.lifecycle})`,
          `${record.workspaceName || 'A window without a folder'}${record.workspaceFolders.length ? `: ${record.workspaceFolders.join(', ')}` : ''}`,
          `PID ${record.pid} on ${record.hostname}`,
          `Last heartbeat ${formatAge(instance.heartbeatAgeMs)} ago${health ? ` (${health})` : ''}`,
        ].join('\n'),
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

/**
 * What each window is called: its workspace name, and where two share a name, the folder above it
 * ("main · work/api"), else the machine, else the process: enough to tell them apart.
 */
export function windowNames(instances: readonly InstanceView[]): Map<string, string> {
  const byName = new Map<string, InstanceView[]>();
  for (const instance of instances) {
    const name = instance.record.workspaceName || 'no folder';
    byName.set(name, [...(byName.get(name) ?? []), instance]);
  }
  const names = new Map<string, string>();
  for (const [name, group] of byName) {
    if (group.length === 1) {
      names.set(group[0].record.id, name);
      continue;
    }
    const parents = group.map((i) => parentOf(i.record.workspaceFolders[0]));
    const hosts = group.map((i) => i.record.hostname);
    const distinct = (values: Array<string | undefined>) => values.every((v) => v) && new Set(values).size === values.length;
    group.forEach((instance, index) => {
      const hint = distinct(parents) ? parents[index] : distinct(hosts) ? hosts[index] : `PID ${instance.record.pid}`;
      names.set(instance.record.id, `${name} · ${hint}`);
    });
  }
  return names;
}

function parentOf(folder: string | undefined): string | undefined {
  if (!folder) return undefined;
  const parts = folder.split(/[\\/]/).filter(Boolean);
  return parts.length >= 2 ? parts.slice(-3, -1).join('/') : undefined;
}

function totals(state: DashboardState): TreeNode {
  const t = state.totals;
  const row = (key: string, label: string, description: string, tooltip?: string): TreeNode => ({ id: `totals/${key}`, label, description, tooltip });
  return {
    id: 'section/totals',
    label: 'Totals',
    icon: { id: 'dashboard' },
    description: `${t.agentsHere}/${t.agentsAll} (${t.windows})`,
    tooltip: `${plural(t.agentsHere, 'agent')} here, ${t.agentsAll} in ${plural(t.windows, 'window')}`,
    expanded: false,
    children: [
      row('agents', 'Agents', `${t.agentsHere} here, ${t.agentsAll} in all`, `${t.agentsHere} in this window, ${t.agentsAll} in ${plural(t.windows, 'window')}`),
      row('busy', 'Busy', String(t.busy)),
      row('queued', 'Queued', String(t.queued)),
      row('budget', 'Budget', `${t.budget.used} of ${t.budget.cap}`, `${t.budget.used} of ${t.budget.cap} agent slots in use on this machine`),
      row('prompts', 'Prompts', String(t.prompts)),
      row('p95', 'Time to answer', formatDuration(t.p95Ms), '95th percentile of completed prompts, all windows; cancelled prompts are not counted'),
      row('errors', 'Errors', formatPercent(t.errorRate)),
      row('tokens', 'Tokens', formatTokens(t.tokens), 'Input and output tokens of every prompt, all windows'),
      row('cost', 'Cost', formatCostUsd(t.costUsd), 'What the agents reported their turns cost, all windows'),
      row('unresponsive', 'Windows not responding', String(t.unresponsive)),
    ],
  };
}

function keyed<T extends KeyedMetrics>(key: string, label: string, items: T[], name: (item: T) => string, state: DashboardState): TreeNode {
  void state;
  return {
    id: `section/${key}`,
    label,
    icon: { id: key === 'pairs' ? 'arrow-swap' : 'comment-discussion' },
    description: String(items.length),
    expanded: false,
    children: items.map((item) => ({
      id: `${key}/${item.profile}/${item.key}`,
      label: name(item),
      description: plural(item.prompts.total, key === 'sessions' ? 'turn' : 'prompt'),
      tooltip: [
        `${item.profile}: ${item.prompts.succeeded} succeeded, ${item.prompts.failed} failed, ${item.prompts.cancelled} cancelled, ${item.prompts.timedOut} timed out`,
        `Time to answer (p95): ${formatDuration(quantile(item.prompts.completionMs))}`,
        key === 'pairs' ? `Kept on the same agent ${formatPercent(item.affinity)} of the time` : undefined,
      ]
        .filter(Boolean)
        .join('\n'),
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

/** "15k", "1.2M": token counts at a glance. */
export function formatTokens(count: number): string {
  if (count < 1000) return String(count);
  if (count < 1_000_000) return `${count < 10_000 ? (count / 1000).toFixed(1).replace(/\.0$/, '') : Math.round(count / 1000)}k`;
  return `${(count / 1_000_000).toFixed(1).replace(/\.0$/, '')}M`;
}

/** "12:03": local wall-clock time of day. */
export function clockTime(wallMs: number): string {
  const date = new Date(wallMs);
  return `${String(date.getHours()).padStart(2, '0')}:${String(date.getMinutes()).padStart(2, '0')}`;
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

import { createHash } from 'node:crypto';
import type { AggregateView, WindowMetrics } from './aggregate';
import { Histogram, type HistogramData } from './histogram';
import { restartsByReasonOf, type PoolMetrics } from './snapshot';

/**
 * The Prometheus text exposition format (version 0.0.4): one family per metric name with HELP and
 * TYPE lines, counters named `_total`, histograms as cumulative `_bucket{le}` plus `_sum` and
 * `_count`, every pool sample labelled with its `window` and `profile`. Dead windows are left out;
 * a window whose counters its reload carries on exports gauges only, so nothing is counted twice.
 */
export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** Upper bounds (seconds) of the exported buckets; the fine buckets inside are never wider than 0.8 %. */
export const PROMETHEUS_BUCKETS_SECONDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800];

type MetricType = 'counter' | 'gauge' | 'histogram';
type Labels = Record<string, string>;

interface Family {
  name: string;
  help: string;
  type: MetricType;
  lines: string[];
}

class Exposition {
  private readonly families = new Map<string, Family>();

  sample(name: string, type: MetricType, help: string, labels: Labels, value: number, suffix = ''): void {
    let family = this.families.get(name);
    if (!family) {
      family = { name, help, type, lines: [] };
      this.families.set(name, family);
    }
    family.lines.push(`${name}${suffix}${formatLabels(labels)} ${formatValue(value)}`);
  }

  histogram(name: string, help: string, labels: Labels, data: HistogramData): void {
    const histogram = Histogram.fromData(data);
    for (const bound of PROMETHEUS_BUCKETS_SECONDS) {
      this.sample(name, 'histogram', help, { ...labels, le: formatValue(bound) }, histogram.countAtOrBelow(bound * 1000), '_bucket');
    }
    this.sample(name, 'histogram', help, { ...labels, le: '+Inf' }, data.count, '_bucket');
    this.sample(name, 'histogram', help, labels, data.sum / 1000, '_sum');
    this.sample(name, 'histogram', help, labels, data.count, '_count');
  }

  text(): string {
    const blocks = [...this.families.values()].map(
      (family) => `# HELP ${family.name} ${escapeHelp(family.help)}\n# TYPE ${family.name} ${family.type}\n${family.lines.join('\n')}\n`,
    );
    return blocks.join('');
  }
}

export function toPrometheus(view: AggregateView): string {
  const out = new Exposition();
  const counted = view.windows.filter((window) => window.health !== 'dead');
  out.sample('agent_pool_windows', 'gauge', 'Windows registered and not dead.', {}, view.totals.windows);
  out.sample('agent_pool_windows_unresponsive', 'gauge', 'Windows whose heartbeat stopped moving.', {}, view.totals.unresponsiveWindows);
  for (const window of counted) {
    const labels = { window: window.id };
    out.sample('agent_pool_window_up', 'gauge', '1 if the window heartbeat moves, 0 if unresponsive.', labels, window.health === 'live' ? 1 : 0);
    out.sample(
      'agent_pool_window_heartbeat_age_seconds',
      'gauge',
      'Seconds since the reader last saw the window heartbeat move.',
      labels,
      window.heartbeatAgeMs / 1000,
    );
  }
  for (const window of counted) for (const pool of window.snapshot?.pools ?? []) addPoolGauges(out, window, pool);
  for (const window of counted) {
    if (window.superseded) continue;
    for (const pool of window.snapshot?.pools ?? []) addPoolCounters(out, window, pool);
  }
  for (const window of counted) {
    for (const agent of window.snapshot?.agents ?? []) {
      if (agent.rssBytes === undefined || agent.state === 'stopped') continue;
      const labels = { window: window.id, profile: agent.profile, agent: agent.id };
      out.sample('agent_pool_agent_rss_bytes', 'gauge', 'Resident memory of the agent process tree.', labels, agent.rssBytes);
    }
  }
  for (const window of counted) addUsageGauges(out, window);
  const totals = view.totals;
  out.sample('agent_pool_all_windows_tokens', 'gauge', 'Tokens the agents of every window not dead reported, by kind (drops when a window goes).', { kind: 'input' }, totals.inputTokens);
  out.sample('agent_pool_all_windows_tokens', 'gauge', 'Tokens the agents of every window not dead reported, by kind (drops when a window goes).', { kind: 'output' }, totals.outputTokens);
  out.sample('agent_pool_all_windows_cost_usd', 'gauge', 'Cost in US dollars the agents of every window not dead reported (drops when a window goes).', {}, totals.costUsd);
  for (const [reason, count] of Object.entries(view.skipped)) {
    if (reason === 'total') continue;
    out.sample('agent_pool_snapshot_files_skipped_total', 'counter', 'Metrics files the reader skipped, by reason.', { reason }, count);
  }
  return out.text();
}

function addPoolGauges(out: Exposition, window: WindowMetrics, pool: PoolMetrics): void {
  const labels = { window: window.id, profile: pool.profile };
  const other = pool.agents.total - pool.agents.starting - pool.agents.idle - pool.agents.busy;
  const states: Array<[string, number]> = [
    ['starting', pool.agents.starting],
    ['idle', pool.agents.idle],
    ['busy', pool.agents.busy],
    ['other', other],
  ];
  for (const [state, count] of states) {
    out.sample('agent_pool_agents', 'gauge', 'Agents by state (other: draining, recycling, unhealthy).', { ...labels, state }, count);
  }
  out.sample('agent_pool_queue_depth', 'gauge', 'Prompts waiting for an agent.', labels, pool.queueDepth);
  out.sample('agent_pool_utilization_ratio', 'gauge', 'Busy agents divided by agents.', labels, pool.utilization);
  for (const state of ['closed', 'open', 'half-open']) {
    out.sample('agent_pool_circuit_state', 'gauge', '1 for the circuit breaker state the pool is in.', { ...labels, state }, pool.circuit.state === state ? 1 : 0);
  }
  if (pool.lastScale) {
    out.sample(
      'agent_pool_last_scale_timestamp_seconds',
      'gauge',
      'When the pool last scaled, by direction of that event.',
      { ...labels, direction: pool.lastScale.direction },
      pool.lastScale.at / 1000,
    );
  }
}

function addPoolCounters(out: Exposition, window: WindowMetrics, pool: PoolMetrics): void {
  const labels = { window: window.id, profile: pool.profile };
  const prompts = pool.prompts;
  const outcomes: Array<[string, number]> = [
    ['succeeded', prompts.succeeded],
    ['failed', prompts.failed],
    ['cancelled', prompts.cancelled],
    ['timed-out', prompts.timedOut],
  ];
  for (const [outcome, count] of outcomes) {
    out.sample('agent_pool_prompts_total', 'counter', 'Prompts finished, by outcome.', { ...labels, outcome }, count);
  }
  out.histogram('agent_pool_prompt_duration_seconds', 'Time from sending a prompt to its end.', labels, prompts.completionMs);
  out.histogram('agent_pool_prompt_first_event_seconds', 'Time from sending a prompt to its first streamed event.', labels, prompts.firstEventMs);
  out.histogram('agent_pool_queue_wait_seconds', 'Time prompts waited for an agent.', labels, pool.queueWaitMs);
  out.sample('agent_pool_agents_spawned_total', 'counter', 'Agent processes started.', labels, pool.spawned);
  out.sample('agent_pool_agents_terminated_total', 'counter', 'Agent processes that exited.', labels, pool.terminated);
  const byReason = restartsByReasonOf(pool);
  for (const reason of ['crash', 'user', 'recycle'] as const) {
    out.sample('agent_pool_agent_restarts_total', 'counter', 'Agent processes replaced, by reason: crash, user (asked for), recycle (age, turns, memory, CPU or by hand).', { ...labels, reason }, byReason[reason]);
  }
  out.sample('agent_pool_agent_recycles_total', 'counter', 'Agents replaced for age, turns, memory or by hand.', labels, pool.recycles);
  out.sample('agent_pool_scale_events_total', 'counter', 'Pool size changes, by direction.', { ...labels, direction: 'up' }, pool.scaleUps);
  out.sample('agent_pool_scale_events_total', 'counter', 'Pool size changes, by direction.', { ...labels, direction: 'down' }, pool.scaleDowns);
  out.sample('agent_pool_tokens_total', 'counter', 'Tokens the agents reported, by kind.', { ...labels, kind: 'input' }, prompts.inputTokens);
  out.sample('agent_pool_tokens_total', 'counter', 'Tokens the agents reported, by kind.', { ...labels, kind: 'output' }, prompts.outputTokens);
  out.sample('agent_pool_cost_usd_total', 'counter', 'Cost in US dollars the agents reported.', labels, prompts.costUsd);
}

/**
 * Context in use against the window, per agent and per conversation, and what each conversation
 * cost over its turns: gauges, since a conversation's figures go when it is closed.
 */
function addUsageGauges(out: Exposition, window: WindowMetrics): void {
  for (const agent of window.snapshot?.agents ?? []) {
    if (agent.state === 'stopped') continue;
    const labels = { window: window.id, profile: agent.profile, agent: agent.id };
    out.sample('agent_pool_agent_conversations', 'gauge', 'Conversations whose session the agent process holds.', labels, agent.conversations ?? 0);
    if (agent.contextUsed !== undefined) out.sample('agent_pool_agent_context_used_tokens', 'gauge', 'Context tokens in use, summed over the conversations the agent holds.', labels, agent.contextUsed);
    if (agent.contextSize !== undefined) out.sample('agent_pool_agent_context_size_tokens', 'gauge', 'The context window in tokens (the largest among the conversations the agent holds).', labels, agent.contextSize);
  }
  for (const conversation of window.snapshot?.conversations ?? []) {
    const labels = { window: window.id, profile: conversation.profile, conversation: conversationLabel(conversation.key) };
    if (conversation.contextUsed !== undefined) out.sample('agent_pool_conversation_context_used_tokens', 'gauge', 'Context tokens in use in the conversation after its last turn.', labels, conversation.contextUsed);
    if (conversation.contextSize !== undefined) out.sample('agent_pool_conversation_context_size_tokens', 'gauge', 'The context window of the conversation in tokens.', labels, conversation.contextSize);
    out.sample('agent_pool_conversation_turns', 'gauge', 'Turns the conversation has run.', labels, conversation.turns);
    out.sample('agent_pool_conversation_tokens', 'gauge', 'Tokens the conversation used over its turns, by kind.', { ...labels, kind: 'input' }, conversation.inputTokens);
    out.sample('agent_pool_conversation_tokens', 'gauge', 'Tokens the conversation used over its turns, by kind.', { ...labels, kind: 'output' }, conversation.outputTokens);
    out.sample('agent_pool_conversation_cost_usd', 'gauge', 'Cost in US dollars of the conversation over its turns (the last running total, never a sum of totals).', labels, conversation.costUsd);
  }
}

const LABEL_MAX = 64;

/**
 * A conversation's name as a label value: names are whatever people type, so control characters
 * become spaces, lone surrogates (not UTF-8) go, and a long name is cut with a hash of the whole,
 * so two long names never become one series.
 */
export function conversationLabel(key: string): string {
  const printable = key.replace(/[\u0000-\u001f\u007f]/g, ' ').replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '');
  if (printable.length <= LABEL_MAX && printable === key) return key;
  const hash = createHash('sha256').update(key).digest('hex').slice(0, 8);
  const head = [...printable].slice(0, LABEL_MAX - 10).join('');
  return `${head}~${hash}`;
}

export function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function escapeHelp(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

function formatLabels(labels: Labels): string {
  const entries = Object.entries(labels);
  if (entries.length === 0) return '';
  return `{${entries.map(([key, value]) => `${key}="${escapeLabelValue(value)}"`).join(',')}}`;
}

function formatValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(value);
}

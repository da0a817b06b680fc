import { formatContextUse, formatCostUsd, formatTokenCounts } from '../conversations/conversation';
import type { AggregateView } from './aggregate';
import type { MetricsSnapshot, PoolMetrics } from './snapshot';

/**
 * Text renderings of an aggregate view, pure functions of the view:
 *   full     `Agents: 3/12 (4) | Busy: 2 | p95: 1.4s | Errors: 0.5%`  (here/all (windows))
 *   compact  `A:3/12(4)`
 * A reader that is not a window (the CLI) has no "here": `Agents: 12 (4)`, `A:12(4)`.
 */
export function formatFull(view: AggregateView): string {
  const totals = view.totals;
  const parts = [
    `Agents: ${agentCounts(view)}`,
    `Busy: ${totals.busy}`,
    `p95: ${totals.completionMs.count === 0 ? '-' : formatDuration(totals.completionMs.p95)}`,
    `Errors: ${formatPercent(totals.errorRate)}`,
  ];
  if (totals.queued > 0) parts.splice(2, 0, `Queued: ${totals.queued}`);
  if (totals.unresponsiveWindows > 0) parts.push(`Unresponsive: ${totals.unresponsiveWindows}`);
  return parts.join(' | ');
}

export function formatCompact(view: AggregateView): string {
  const totals = view.totals;
  const here = totals.agentsHere === undefined ? '' : `${totals.agentsHere}/`;
  return `A:${here}${totals.agentsTotal}(${totals.windows})`;
}

/**
 * What the agents used, for `status`: tokens and cost across windows, then each conversation and
 * each agent holding context, with the context in use against the window. Empty before any usage.
 *   Tokens: 1.2k in / 300 out | Cost: $0.0300
 *     conversation "chat" (demo, demo-1, window one): 15k/200k (7.5%), 3 turns, $0.0300
 *     agent demo-1 (demo, window one): 15k/200k (7.5%) in 1 conversation
 */
export function formatUsage(view: AggregateView): string[] {
  const lines: string[] = [];
  const live = view.windows.filter((window) => window.health !== 'dead');
  for (const window of live) {
    const where = window.record?.workspaceName ?? window.id;
    for (const conversation of window.snapshot?.conversations ?? []) {
      const context = formatContextUse(conversation) ?? 'context not reported';
      const agent = conversation.agentId === undefined ? '' : `, ${conversation.agentId}`;
      const turns = `${conversation.turns} turn${conversation.turns === 1 ? '' : 's'}`;
      lines.push(`  conversation ${JSON.stringify(conversation.key)} (${conversation.profile}${agent}, ${where}): ${context}, ${turns}, ${formatCostUsd(conversation.costUsd)}`);
    }
    for (const agent of window.snapshot?.agents ?? []) {
      const context = agent.state === 'stopped' ? undefined : formatContextUse(agent);
      if (context === undefined) continue;
      const held = agent.conversations ?? 0;
      lines.push(`  agent ${agent.id} (${agent.profile}, ${where}): ${context} in ${held} conversation${held === 1 ? '' : 's'}`);
    }
  }
  const { totals } = view;
  if (totals.inputTokens + totals.outputTokens > 0 || totals.costUsd > 0 || lines.length > 0) {
    lines.unshift(`Tokens: ${formatTokenCounts(totals)} | Cost: ${formatCostUsd(totals.costUsd)}`);
  }
  return lines;
}

/**
 * The view as JSON for scripts: totals, skipped files and one entry per window. With
 * `snapshots`, each window's raw snapshot too, histograms included as buckets so a script can merge
 * them again (pool buckets are delta-encoded: decode them with `forEachStoredBucket`).
 */
export function formatJson(view: AggregateView, options: { indent?: number; snapshots?: boolean } = {}): string {
  return JSON.stringify(
    {
      generatedAt: new Date(view.generatedAt).toISOString(),
      selfId: view.selfId ?? null,
      totals: view.totals,
      skipped: view.skipped,
      windows: view.windows.map((window) => ({
        id: window.id,
        health: window.health,
        heartbeatAgeMs: Math.round(window.heartbeatAgeMs),
        isSelf: window.isSelf,
        workspaceName: window.record?.workspaceName ?? null,
        pid: window.record?.pid ?? null,
        snapshotStale: window.snapshotStale,
        superseded: window.superseded,
        agents: window.snapshot?.pools.reduce((sum, pool) => sum + pool.agents.total, 0) ?? 0,
        busy: window.snapshot?.pools.reduce((sum, pool) => sum + pool.agents.busy, 0) ?? 0,
        prompts: window.snapshot?.pools.reduce((sum, pool) => sum + pool.prompts.total, 0) ?? 0,
        pools: poolCircuits(window.snapshot),
        conversations: window.snapshot?.conversations ?? [],
        ...(options.snapshots ? { snapshot: window.snapshot ?? null } : {}),
      })),
    },
    null,
    options.indent ?? 2,
  );
}

/**
 * Each pool's circuit and last failure, as `status --json` and `instances --json` show them: why
 * a profile is paused in another window (or was, in a headless run) is visible from anywhere.
 */
export function poolCircuits(snapshot: MetricsSnapshot | undefined): Array<{ profile: string; closed: boolean; circuit: PoolMetrics['circuit'] }> {
  return (snapshot?.pools ?? []).map((pool) => ({ profile: pool.profile, closed: pool.closed, circuit: pool.circuit }));
}

function agentCounts(view: AggregateView): string {
  const totals = view.totals;
  const here = totals.agentsHere === undefined ? '' : `${totals.agentsHere}/`;
  return `${here}${totals.agentsTotal} (${totals.windows})`;
}

/** 850ms, 1.4s, 12s, 2.5m, 1.2h */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '-';
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 10_000) return `${trimZero((ms / 1000).toFixed(1))}s`;
  if (ms < 60_000) return `${Math.round(ms / 1000)}s`;
  if (ms < 3_600_000) return `${trimZero((ms / 60_000).toFixed(1))}m`;
  return `${trimZero((ms / 3_600_000).toFixed(1))}h`;
}

/** 0%, 0.5%, 12%, 100% */
export function formatPercent(ratio: number): string {
  const percent = ratio * 100;
  if (percent === 0) return '0%';
  if (percent < 0.1) return '<0.1%';
  if (percent < 10) return `${trimZero(percent.toFixed(1))}%`;
  return `${Math.round(percent)}%`;
}

function trimZero(text: string): string {
  return text.endsWith('.0') ? text.slice(0, -2) : text;
}

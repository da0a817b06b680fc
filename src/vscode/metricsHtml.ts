/**
 * The Show Metrics view as static HTML (no script; the panel re-renders on change): totals, a table
 * per window and per agent, and the latency distributions as bar charts, which people read faster
 * than a column of percentiles. Pure: no vscode import, tested in plain mocha.
 */
import type { AggregateView } from '../core/metrics/aggregate';
import { bucketBounds, forEachStoredBucket, Histogram, type HistogramData } from '../core/metrics/histogram';
import { formatContextUse, formatCostUsd, formatTokens } from '../core/conversations/conversation';
import type { ConversationView } from '../core/service/conversations';
import { contextOf, usageOfPools } from './dashboard';
import { contextText, formatDuration, formatPercent, plural } from './statusModel';

/** Coarse bins for charts: upper bounds in ms (the last bin is open-ended). */
const CHART_BINS_MS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10_000, 30_000, 60_000];

export function binHistogram(data: HistogramData[]): Array<{ label: string; count: number }> {
  const counts = new Array<number>(CHART_BINS_MS.length + 1).fill(0);
  for (const histogram of data) {
    forEachStoredBucket(histogram, (key, count) => {
      const lowerMs = bucketBounds(key).lowerMicros / 1000;
      let bin = CHART_BINS_MS.findIndex((upper) => lowerMs < upper);
      if (bin < 0) bin = CHART_BINS_MS.length;
      counts[bin] += count;
    });
  }
  return counts.map((count, i) => ({
    label: i < CHART_BINS_MS.length ? `<${formatDuration(CHART_BINS_MS[i])}` : `≥${formatDuration(CHART_BINS_MS.at(-1))}`,
    count,
  }));
}

export interface MetricsExtras {
  /** The registry directory's conversations, most recently used first. */
  conversations?: readonly ConversationView[];
  titles?: ReadonlyMap<string, string>;
}

export function renderMetricsHtml(view: AggregateView, options: { cspSource: string; nonce?: string }, extras: MetricsExtras = {}): string {
  const live = view.windows.filter((w) => w.health !== 'dead');
  const completion = live.flatMap((w) => (w.superseded ? [] : (w.snapshot?.pools ?? []).map((p) => p.prompts.completionMs)));
  const firstEvent = live.flatMap((w) => (w.superseded ? [] : (w.snapshot?.pools ?? []).map((p) => p.prompts.firstEventMs)));
  const t = view.totals;
  const self = view.windows.find((w) => w.isSelf);
  const agents = self?.snapshot?.agents ?? [];
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src ${options.cspSource} 'unsafe-inline';">
<title>Agent Pool Metrics</title>
<style>
body { font-family: var(--vscode-font-family); color: var(--vscode-foreground); padding: 0 16px 24px; }
h1 { font-size: 1.4em; } h2 { font-size: 1.1em; margin-top: 1.6em; }
.cards { display: flex; flex-wrap: wrap; gap: 12px; }
.card { border: 1px solid var(--vscode-panel-border); border-radius: 6px; padding: 8px 14px; min-width: 110px; }
.card .value { font-size: 1.5em; font-weight: 600; } .card .label { opacity: .75; }
table { border-collapse: collapse; margin-top: 6px; } th, td { text-align: left; padding: 3px 12px 3px 0; }
th { opacity: .75; font-weight: 500; border-bottom: 1px solid var(--vscode-panel-border); }
.charts { display: flex; flex-wrap: wrap; gap: 32px; }
svg text { fill: var(--vscode-foreground); font-size: 10px; }
rect.bar { fill: var(--vscode-charts-blue); } rect.bar.first { fill: var(--vscode-charts-purple); }
.warn { color: var(--vscode-editorWarning-foreground); }
</style></head><body>
<h1>Agent Pool metrics</h1>
<div class="cards">
${card('Agents (this / all)', `${t.agentsHere ?? 0} / ${t.agentsTotal}`)}
${card('Windows', String(t.windows))}
${card('Busy', String(t.busy))}
${card('Queued', String(t.queued))}
${card('Prompts', String(t.prompts.total))}
${card('p50 / p95', `${formatDuration(t.completionMs.count ? t.completionMs.p50 : undefined)} / ${formatDuration(t.completionMs.count ? t.completionMs.p95 : undefined)}`)}
${card('Errors', formatPercent(t.errorRate))}
${card('Tokens (all windows)', formatTokens(t.inputTokens + t.outputTokens))}
${card('Cost (all windows)', formatCostUsd(t.costUsd))}
</div>
<h2>Latency across all windows</h2>
<div class="charts">
${chart('Time to completion', binHistogram(completion), 'bar')}
${chart('Time to first event', binHistogram(firstEvent), 'bar first')}
</div>
<h2>Windows</h2>
<table><tr><th>Window</th><th>Health</th><th>Agents</th><th>Busy</th><th>Prompts</th><th>p95</th><th>Errors</th><th>Tokens</th><th>Cost</th><th>Context</th><th>Heartbeat</th></tr>
${view.windows
  .map((w) => {
    const pools = w.snapshot?.pools ?? [];
    const merged = Histogram.merge(pools.map((p) => p.prompts.completionMs));
    const prompts = pools.reduce((n, p) => n + p.prompts.total, 0);
    const errors = pools.reduce((n, p) => n + p.prompts.failed + p.prompts.timedOut, 0);
    const name = escapeHtml(w.record?.workspaceName || w.id) + (w.isSelf ? ' (this window)' : '');
    const health = w.health === 'live' ? 'live' : `<span class="warn">${w.health}</span>`;
    const usage = usageOfPools(pools);
    const context = contextOf(w.snapshot?.conversations ?? []);
    return `<tr><td>${name}</td><td>${health}</td><td>${pools.reduce((n, p) => n + p.agents.total, 0)}</td><td>${pools.reduce((n, p) => n + p.agents.busy, 0)}</td><td>${prompts}</td><td>${formatDuration(merged.count ? merged.quantile(0.95) : undefined)}</td><td>${formatPercent(prompts ? errors / prompts : 0)}</td><td>${formatTokens(usage.inputTokens + usage.outputTokens)}</td><td>${formatCostUsd(usage.costUsd)}</td><td>${context ? escapeHtml(contextText(context)) : '–'}</td><td>${(w.heartbeatAgeMs / 1000).toFixed(1)} s ago</td></tr>`;
  })
  .join('\n')}
</table>
<h2>Agents in this window</h2>
${
  agents.length === 0
    ? '<p>No agent is running in this window.</p>'
    : `<table><tr><th>Agent</th><th>Profile</th><th>State</th><th>Prompts</th><th>p50</th><th>p95</th><th>p99</th><th>Errors</th><th>RSS</th><th>Restarts</th></tr>
${agents
  .map((a) => {
    const h = a.prompts.completionMs;
    const q = (x: 'p50' | 'p95' | 'p99') => formatDuration(h.count ? h[x] : undefined);
    const rss = a.rssBytes !== undefined ? `${Math.round(a.rssBytes / 2 ** 20)} MB` : '–';
    return `<tr><td>${escapeHtml(a.id)}</td><td>${escapeHtml(a.profile)}</td><td>${a.state}</td><td>${a.prompts.total}</td><td>${q('p50')}</td><td>${q('p95')}</td><td>${q('p99')}</td><td>${formatPercent(a.errorRate)}</td><td>${rss}</td><td>${a.restarts}</td></tr>`;
  })
  .join('\n')}</table>`
}
${conversationsTable(extras)}
<p style="opacity:.6">${plural(view.skipped.total, 'unreadable file')} skipped since start. Updated ${new Date(view.generatedAt).toLocaleTimeString()}.</p>
</body></html>`;
}

function conversationsTable(extras: MetricsExtras): string {
  const conversations = extras.conversations ?? [];
  if (conversations.length === 0) return '';
  const rows = conversations.map((c) => {
    const title = extras.titles?.get(c.key);
    const name = escapeHtml(title ?? c.key) + (title ? `<br><span style="opacity:.6">${escapeHtml(c.key)}</span>` : '');
    const lost = c.contextLost > 0 ? `<span class="warn">lost ${plural(c.contextLost, 'time')}${c.contextLostReason ? `: ${escapeHtml(c.contextLostReason)}` : ''}</span>` : 'kept';
    const where = c.agentId ? `${escapeHtml(c.agentId)} (this window)` : escapeHtml(c.owner.label || c.owner.instanceId);
    return `<tr><td>${name}</td><td>${escapeHtml(c.profile)}</td><td>${where}</td><td>${c.turns}</td><td>${escapeHtml(formatContextUse(c.usage) ?? '–')}</td><td>${formatTokens(c.usage.inputTokens + c.usage.outputTokens)}</td><td>${formatCostUsd(c.usage.costUsd)}</td><td>${lost}</td></tr>`;
  });
  return `<h2>Conversations</h2>
<table><tr><th>Conversation</th><th>Profile</th><th>Held by</th><th>Turns</th><th>Context</th><th>Tokens</th><th>Cost</th><th>Earlier context</th></tr>
${rows.join('\n')}</table>`;
}

function card(label: string, value: string): string {
  return `<div class="card"><div class="value">${escapeHtml(value)}</div><div class="label">${escapeHtml(label)}</div></div>`;
}

function chart(title: string, bins: Array<{ label: string; count: number }>, barClass: string): string {
  const used = trimEmptyEnds(bins);
  const max = Math.max(1, ...used.map((b) => b.count));
  const width = 52;
  const height = 120;
  const bars = used
    .map((b, i) => {
      const h = Math.round((b.count / max) * height);
      const x = i * width;
      return `<rect class="${barClass}" x="${x + 4}" y="${height - h + 14}" width="${width - 8}" height="${h}"><title>${escapeHtml(b.label)}: ${b.count}</title></rect>
<text x="${x + width / 2}" y="${height - h + 10}" text-anchor="middle">${b.count || ''}</text>
<text x="${x + width / 2}" y="${height + 28}" text-anchor="middle">${escapeHtml(b.label)}</text>`;
    })
    .join('\n');
  const total = bins.reduce((n, b) => n + b.count, 0);
  return `<figure><figcaption>${escapeHtml(title)} (${plural(total, 'prompt')})</figcaption>
<svg role="img" aria-label="${escapeHtml(title)} histogram" width="${Math.max(1, used.length) * width + 8}" height="${height + 36}">${bars}</svg></figure>`;
}

function trimEmptyEnds<T extends { count: number }>(bins: T[]): T[] {
  const first = bins.findIndex((b) => b.count > 0);
  if (first < 0) return bins.slice(0, 6);
  let last = bins.length - 1;
  while (bins[last].count === 0) last--;
  return bins.slice(Math.max(0, first - 1), last + 2);
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

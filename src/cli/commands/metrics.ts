import type { AggregateView } from '../../core/metrics/aggregate';
import { aggregateTotals } from '../../core/metrics/runningTotals';
import { cliBackend } from '../backend';
import { formatDuration, formatFull, formatJson, formatPercent, formatUsage } from '../../core/metrics/formats';
import { Histogram } from '../../core/metrics/histogram';
import { toPrometheus } from '../../core/metrics/prometheus';
import type { CliContext } from '../context';
import { CliError, EXIT_OK } from '../io';

export interface MetricsOptions {
  prometheus?: boolean;
  json?: boolean;
  instance?: string;
}

export async function metricsCommand(context: CliContext, options: MetricsOptions): Promise<number> {
  const { io, directory } = context;
  const aggregator = cliBackend(context).createMetricsView({ log: (message) => io.err(`${message}\n`) });
  try {
    let view = await aggregator.refresh();
    if (options.instance !== undefined) view = onlyWindow(view, options.instance, directory);
    if (options.prometheus) io.out(toPrometheus(view));
    else if (options.json) io.out(`${formatJson(view, { snapshots: true })}\n`);
    else io.out(metricsText(view));
    return EXIT_OK;
  } finally {
    aggregator.dispose();
  }
}

function onlyWindow(view: AggregateView, id: string, directory: string): AggregateView {
  const window = view.windows.find((w) => w.id === id || w.id.endsWith(id));
  if (!window) {
    throw new CliError(`No window with id "${id}" in ${directory}.\nList the windows and their ids with: agent-pool instances`);
  }
  return { ...view, windows: [window], totals: aggregateTotals([window], undefined) };
}

function metricsText(view: AggregateView): string {
  const lines = [formatFull(view), ''];
  for (const window of view.windows) {
    lines.push(`${window.id}  ${window.record.workspaceName}  (${window.health}${window.snapshotStale ? ', last good snapshot' : ''})`);
    const pools = window.snapshot?.pools ?? [];
    if (pools.length === 0) lines.push('  no pool');
    for (const pool of pools) {
      const latency = Histogram.fromData(pool.prompts.completionMs).summary();
      const prompts = pool.prompts;
      lines.push(
        `  ${pool.profile}: ${pool.agents.total} agents (${pool.agents.busy} busy, ${pool.agents.idle} idle, ${pool.agents.starting} starting)` +
          ` | queue ${pool.queueDepth} | circuit ${pool.circuit.state} | utilization ${formatPercent(pool.utilization)}`,
      );
      lines.push(
        `    prompts ${prompts.total} (${prompts.failed} failed, ${prompts.timedOut} timed out, ${prompts.cancelled} cancelled)` +
          (latency.count === 0
            ? ''
            : ` | p50 ${formatDuration(latency.p50)} p95 ${formatDuration(latency.p95)} p99 ${formatDuration(latency.p99)} max ${formatDuration(latency.max)}`),
      );
      if (prompts.inputTokens + prompts.outputTokens > 0 || prompts.costUsd > 0) {
        lines.push(`    tokens ${prompts.inputTokens} in / ${prompts.outputTokens} out | cost $${prompts.costUsd.toFixed(4)}`);
      }
    }
  }
  const usage = formatUsage(view);
  if (usage.length > 0) lines.push('', ...usage);
  if (view.skipped.total > 0) lines.push('', `${view.skipped.total} unreadable metrics file(s) skipped.`);
  return `${lines.join('\n')}\n`;
}

import type { AggregateTotals, PromptCounts, WindowMetrics } from './aggregate';
import { Histogram, summarizeCounts, type HistogramSummary } from './histogram';
import { errorRateOf, type MetricsSnapshot } from './snapshot';

/** What one window's snapshot adds to the totals, worked out once per snapshot. */
export interface WindowPartial {
  agents: number;
  starting: number;
  idle: number;
  busy: number;
  queued: number;
  prompts: PromptCounts;
  inputTokens: number;
  outputTokens: number;
  costUsd: number;
  /** Merged over the window's pools. */
  completion: Histogram;
  firstEvent: Histogram;
  queueWait: Histogram;
}

const partials = new WeakMap<MetricsSnapshot, WindowPartial>();

/** The partial sums of a snapshot; cached, since a snapshot object never changes once parsed. */
export function windowPartialOf(snapshot: MetricsSnapshot): WindowPartial {
  let partial = partials.get(snapshot);
  if (partial) return partial;
  partial = {
    agents: 0, starting: 0, idle: 0, busy: 0, queued: 0,
    prompts: { total: 0, succeeded: 0, failed: 0, cancelled: 0, timedOut: 0 },
    inputTokens: 0, outputTokens: 0, costUsd: 0,
    completion: new Histogram(), firstEvent: new Histogram(), queueWait: new Histogram(),
  };
  for (const pool of snapshot.pools) {
    partial.agents += pool.agents.total;
    partial.starting += pool.agents.starting;
    partial.idle += pool.agents.idle;
    partial.busy += pool.agents.busy;
    partial.queued += pool.queueDepth;
    const prompts = pool.prompts;
    partial.prompts.total += prompts.total;
    partial.prompts.succeeded += prompts.succeeded;
    partial.prompts.failed += prompts.failed;
    partial.prompts.cancelled += prompts.cancelled;
    partial.prompts.timedOut += prompts.timedOut;
    partial.inputTokens += prompts.inputTokens;
    partial.outputTokens += prompts.outputTokens;
    partial.costUsd += prompts.costUsd;
    partial.completion.mergeData(prompts.completionMs);
    partial.firstEvent.mergeData(prompts.firstEventMs);
    partial.queueWait.mergeData(pool.queueWaitMs);
  }
  partials.set(snapshot, partial);
  return partial;
}

/**
 * Bucket counts summed over many histograms, kept up to date by adding and removing members, so a
 * changed window costs its own buckets, not a merge of every window. Count, sum and extremes come
 * from the members (extremes cannot be subtracted), which is a loop over numbers, not buckets.
 */
class HistogramSum {
  private readonly counts = new Map<number, number>();
  private readonly members = new Set<Histogram>();
  private cached: HistogramSummary | undefined;

  add(histogram: Histogram): void {
    if (histogram.count === 0 || this.members.has(histogram)) return;
    this.members.add(histogram);
    histogram.forEachBucket((key, count) => this.counts.set(key, (this.counts.get(key) ?? 0) + count));
    this.cached = undefined;
  }

  remove(histogram: Histogram): void {
    if (!this.members.delete(histogram)) return;
    histogram.forEachBucket((key, count) => {
      const left = this.counts.get(key)! - count;
      if (left === 0) this.counts.delete(key);
      else this.counts.set(key, left);
    });
    this.cached = undefined;
  }

  summary(): HistogramSummary {
    if (this.cached) return this.cached;
    let total = 0;
    let sum = 0;
    let min = Infinity;
    let max = -Infinity;
    for (const member of this.members) {
      total += member.count;
      sum += member.sum;
      min = Math.min(min, member.min);
      max = Math.max(max, member.max);
    }
    this.cached = summarizeCounts(this.counts, total, sum, min, max);
    return this.cached;
  }
}

/** The partial a window's counters are counted with; undefined when only its gauges count (or nothing). */
function countedPartial(window: WindowMetrics): WindowPartial | undefined {
  if (window.health === 'dead' || window.superseded || !window.snapshot) return undefined;
  return windowPartialOf(window.snapshot);
}

/**
 * Totals across windows, recomputed from cached per-window partial sums: each update costs a loop
 * over the windows' numbers plus the buckets of the windows whose snapshot (or standing) changed.
 * Dead windows count for nothing; gauges (agents, queue) come from every other window; cumulative
 * counters and latencies skip a window whose counters a newer instance carries on.
 */
export class RunningTotals {
  private readonly counted = new Map<string, WindowPartial>();
  private readonly completion = new HistogramSum();
  private readonly firstEvent = new HistogramSum();
  private readonly queueWait = new HistogramSum();

  update(windows: readonly WindowMetrics[], selfId: string | undefined): AggregateTotals {
    this.updateHistograms(windows);
    const totals: AggregateTotals = {
      windows: 0,
      unresponsiveWindows: 0,
      agentsHere: selfId === undefined ? undefined : 0,
      agentsTotal: 0,
      starting: 0,
      idle: 0,
      busy: 0,
      queued: 0,
      prompts: { total: 0, succeeded: 0, failed: 0, cancelled: 0, timedOut: 0 },
      errorRate: 0,
      completionMs: this.completion.summary(),
      firstEventMs: this.firstEvent.summary(),
      queueWaitMs: this.queueWait.summary(),
      inputTokens: 0,
      outputTokens: 0,
      costUsd: 0,
    };
    for (const window of windows) {
      if (window.health === 'dead') continue;
      totals.windows++;
      if (window.health === 'unresponsive') totals.unresponsiveWindows++;
      if (!window.snapshot) continue;
      const partial = windowPartialOf(window.snapshot);
      totals.agentsTotal += partial.agents;
      if (window.id === selfId && totals.agentsHere !== undefined) totals.agentsHere += partial.agents;
      totals.starting += partial.starting;
      totals.idle += partial.idle;
      totals.busy += partial.busy;
      totals.queued += partial.queued;
      if (window.superseded) continue;
      totals.prompts.total += partial.prompts.total;
      totals.prompts.succeeded += partial.prompts.succeeded;
      totals.prompts.failed += partial.prompts.failed;
      totals.prompts.cancelled += partial.prompts.cancelled;
      totals.prompts.timedOut += partial.prompts.timedOut;
      totals.inputTokens += partial.inputTokens;
      totals.outputTokens += partial.outputTokens;
      totals.costUsd += partial.costUsd;
    }
    totals.errorRate = errorRateOf(totals.prompts);
    return totals;
  }

  private updateHistograms(windows: readonly WindowMetrics[]): void {
    const present = new Set<string>();
    for (const window of windows) {
      present.add(window.id);
      const next = countedPartial(window);
      const previous = this.counted.get(window.id);
      if (next === previous) continue;
      if (previous) this.removePartial(previous);
      if (next) {
        this.addPartial(next);
        this.counted.set(window.id, next);
      } else {
        this.counted.delete(window.id);
      }
    }
    for (const [id, partial] of this.counted) {
      if (present.has(id)) continue;
      this.removePartial(partial);
      this.counted.delete(id);
    }
  }

  private addPartial(partial: WindowPartial): void {
    this.completion.add(partial.completion);
    this.firstEvent.add(partial.firstEvent);
    this.queueWait.add(partial.queueWait);
  }

  private removePartial(partial: WindowPartial): void {
    this.completion.remove(partial.completion);
    this.firstEvent.remove(partial.firstEvent);
    this.queueWait.remove(partial.queueWait);
  }
}

/**
 * Totals across windows, computed from scratch (the aggregator keeps a RunningTotals instead). Dead
 * windows count for nothing; gauges (agents, queue) come from every other window; cumulative
 * counters skip a window whose counters a newer instance carries on.
 */
export function aggregateTotals(windows: readonly WindowMetrics[], selfId: string | undefined): AggregateTotals {
  return new RunningTotals().update(windows, selfId);
}

import type { InstanceHealth, InstanceRecord } from '../registry/types';
import type { HistogramSummary } from './histogram';
import type { MetricsSnapshot } from './snapshot';

/** One window as the aggregator sees it. */
export interface WindowMetrics {
  id: string;
  health: InstanceHealth;
  /** Milliseconds since the reader last saw this window's heartbeat move. */
  heartbeatAgeMs: number;
  isSelf: boolean;
  record: InstanceRecord;
  /** The last good snapshot; absent until one was read. */
  snapshot?: MetricsSnapshot;
  /** The current file is bad or missing, so `snapshot` is the last good one. */
  snapshotStale: boolean;
  /** A newer instance (the same workspace after a reload) carries this window's counters on. */
  superseded: boolean;
}

export interface SkippedFiles {
  empty: number;
  truncated: number;
  garbage: number;
  wrongSchema: number;
  vanished: number;
  foreignOwner: number;
  unreadable: number;
  total: number;
}

export interface PromptCounts {
  total: number;
  succeeded: number;
  failed: number;
  cancelled: number;
  timedOut: number;
}

export interface AggregateTotals {
  /** Windows that are not dead (live or unresponsive). */
  windows: number;
  unresponsiveWindows: number;
  /** Agents of this window; undefined when the reader is not a window (the CLI). */
  agentsHere: number | undefined;
  agentsTotal: number;
  starting: number;
  idle: number;
  busy: number;
  queued: number;
  prompts: PromptCounts;
  /** (failed + timed out) / prompts, across every window. */
  errorRate: number;
  /** Merged from every window's histogram buckets, never from their percentiles. */
  completionMs: HistogramSummary;
  firstEventMs: HistogramSummary;
  queueWaitMs: HistogramSummary;
  inputTokens: number;
  outputTokens: number;
  costUsd: number;
}

export interface AggregateView {
  /** Wall-clock ms, for display. */
  generatedAt: number;
  selfId: string | undefined;
  windows: WindowMetrics[];
  totals: AggregateTotals;
  /** Bad files met since the aggregator started, by reason. */
  skipped: SkippedFiles;
}

export function emptySkippedFiles(): SkippedFiles {
  return { empty: 0, truncated: 0, garbage: 0, wrongSchema: 0, vanished: 0, foreignOwner: 0, unreadable: 0, total: 0 };
}

/** Marks windows whose counters another window (its reload) carries on. */
export function markSuperseded(windows: WindowMetrics[]): void {
  const continued = new Set<string>();
  for (const window of windows) {
    const previous = window.snapshot?.continuesInstanceId;
    if (previous !== undefined && window.health !== 'dead') continued.add(previous);
  }
  for (const window of windows) window.superseded = continued.has(window.id);
}

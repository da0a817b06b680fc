import type { AgentState, CircuitState, RestartReason } from '../pool/events';
import { emptyHistogramData, isHistogramData, type HistogramData, type HistogramSummary } from './histogram';

/**
 * The metrics snapshot one window writes to `instances/<id>.metrics.json`: plain JSON, versioned,
 * readable by any other window and by the CLI. Counters are cumulative (they survive a reload, see
 * `persistence.ts`); gauges describe the moment of `writtenAt`.
 *
 * Every other window parses this file, so it carries mergeable histograms only where they are
 * merged across windows (per pool); agents, sessions and module pairs carry latency summaries.
 * Schema 2 introduced that split and the delta-encoded buckets; schema 1 files are refused.
 */
export const METRICS_SCHEMA = 2;
export const METRICS_KIND = 'agent-pool-metrics';

export interface PromptCountFigures {
  total: number;
  succeeded: number;
  failed: number;
  cancelled: number;
  timedOut: number;
  inputTokens: number;
  outputTokens: number;
  costUsd: number;
}

/** Prompt figures with mergeable latency histograms: what pools share, and what a reload restores. */
export interface PromptFigures extends PromptCountFigures {
  /** Time from sending a prompt to its first streamed event. */
  firstEventMs: HistogramData;
  /** Time from sending a prompt to its end, whatever the outcome. */
  completionMs: HistogramData;
}

/** Prompt figures with latency summarized where they were recorded (never merged further). */
export interface PromptSummaryFigures extends PromptCountFigures {
  firstEventMs: HistogramSummary;
  completionMs: HistogramSummary;
}

export interface AgentMetrics {
  id: string;
  profile: string;
  state: AgentState;
  pid?: number;
  /** Wall-clock ms, for display. */
  startedAt: number;
  uptimeMs: number;
  rssBytes?: number;
  restarts: number;
  recycles: number;
  prompts: PromptSummaryFigures;
  /** (failed + timed out) / total, 0 before the first prompt. */
  errorRate: number;
}

export interface ScaleEventRecord {
  direction: 'up' | 'down';
  /** Wall-clock ms. */
  at: number;
  from: number;
  to: number;
  reason: string;
}

export interface PoolMetrics {
  profile: string;
  agents: { starting: number; idle: number; busy: number; total: number };
  minAgents: number;
  maxAgents: number;
  queueDepth: number;
  queueWaitMs: HistogramData;
  spawned: number;
  terminated: number;
  /** Crash restarts (as before restarts by reason were counted). */
  restarts: number;
  recycles: number;
  /** Every restart by reason: crash, user (asked for), recycle (replaced under a new id). Absent from older writers. */
  restartsByReason?: Record<RestartReason, number>;
  scaleUps: number;
  scaleDowns: number;
  lastScale?: ScaleEventRecord;
  /** busy / total agents at `writtenAt` (0 with no agents). */
  utilization: number;
  circuit: { state: CircuitState; reason?: string };
  closed: boolean;
  /** Every prompt this pool ran, including those of agents that are gone. */
  prompts: PromptFigures;
}

/** Prompt figures for one key (a module pair or a session) plus how often it stayed on one agent. */
export interface KeyedMetrics {
  key: string;
  profile: string;
  prompts: PromptSummaryFigures;
  /** Consecutive prompts of this key that ran on the same agent as the one before. */
  affinityHits: number;
  /** Consecutive prompt pairs seen (prompts - 1); affinity = hits / chances. */
  affinityChances: number;
  /** hits / chances, 0 before the second prompt. */
  affinity: number;
}

export interface PairMetrics extends KeyedMetrics {
  source: string;
  target: string;
}

export interface MetricsSnapshot {
  schema: typeof METRICS_SCHEMA;
  kind: typeof METRICS_KIND;
  instanceId: string;
  /** Stable per workspace; lets a reloaded window pick up its counters. */
  workspaceKey?: string;
  /** The instance whose counters this one carries on; readers must not count both. */
  continuesInstanceId?: string;
  /** Increases with every write by this instance. */
  seq: number;
  /** Wall-clock ms of the write, for display only. */
  writtenAt: number;
  pools: PoolMetrics[];
  agents: AgentMetrics[];
  pairs: PairMetrics[];
  sessions: KeyedMetrics[];
}

export function emptyPromptFigures(): PromptFigures {
  return {
    total: 0,
    succeeded: 0,
    failed: 0,
    cancelled: 0,
    timedOut: 0,
    firstEventMs: emptyHistogramData(),
    completionMs: emptyHistogramData(),
    inputTokens: 0,
    outputTokens: 0,
    costUsd: 0,
  };
}

export function errorRateOf(figures: Pick<PromptCountFigures, 'total' | 'failed' | 'timedOut'>): number {
  return figures.total === 0 ? 0 : (figures.failed + figures.timedOut) / figures.total;
}

export type SnapshotProblem = 'empty' | 'truncated' | 'garbage' | 'wrong-schema';

/**
 * Parses text read from a snapshot file written by another process. Never throws: a bad file is a
 * normal event (a writer died mid-way, a disk filled, someone edited it) and the caller counts it.
 */
export function parseMetricsSnapshot(text: string): { snapshot: MetricsSnapshot } | { problem: SnapshotProblem } {
  if (text.trim().length === 0) return { problem: 'empty' };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { problem: text.trimEnd().endsWith('}') ? 'garbage' : 'truncated' };
  }
  return isMetricsSnapshot(value) ? { snapshot: value } : { problem: 'wrong-schema' };
}

function isMetricsSnapshot(value: unknown): value is MetricsSnapshot {
  if (typeof value !== 'object' || value === null) return false;
  const snapshot = value as Partial<MetricsSnapshot>;
  return (
    snapshot.schema === METRICS_SCHEMA &&
    snapshot.kind === METRICS_KIND &&
    typeof snapshot.instanceId === 'string' &&
    typeof snapshot.seq === 'number' &&
    typeof snapshot.writtenAt === 'number' &&
    Array.isArray(snapshot.pools) &&
    snapshot.pools.every(isPoolMetrics) &&
    Array.isArray(snapshot.agents) &&
    snapshot.agents.every((agent) => isObject(agent) && typeof agent.id === 'string' && isPromptSummaryFigures(agent.prompts)) &&
    Array.isArray(snapshot.pairs) &&
    snapshot.pairs.every(isKeyedMetrics) &&
    Array.isArray(snapshot.sessions) &&
    snapshot.sessions.every(isKeyedMetrics)
  );
}

/**
 * A pool's restarts by reason; from an older writer (no split), its restarts were crashes and its
 * recycles recycles. A count that is not a number reads as 0: one bad field never hides the others.
 */
export function restartsByReasonOf(pool: Pick<PoolMetrics, 'restarts' | 'recycles' | 'restartsByReason'>): Record<RestartReason, number> {
  const split = isObject(pool.restartsByReason) ? (pool.restartsByReason as Partial<Record<RestartReason, unknown>>) : undefined;
  const count = (value: unknown, fallback: number) => (typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : fallback);
  if (!split) return { crash: count(pool.restarts, 0), user: 0, recycle: count(pool.recycles, 0) };
  return { crash: count(split.crash, 0), user: count(split.user, 0), recycle: count(split.recycle, 0) };
}

function isPoolMetrics(value: unknown): value is PoolMetrics {
  if (!isObject(value)) return false;
  const pool = value as Partial<PoolMetrics>;
  return (
    typeof pool.profile === 'string' &&
    isObject(pool.agents) &&
    typeof pool.agents.total === 'number' &&
    typeof pool.agents.busy === 'number' &&
    typeof pool.queueDepth === 'number' &&
    isHistogramData(pool.queueWaitMs) &&
    isPromptFigures(pool.prompts)
  );
}

export function isPromptFigures(value: unknown): value is PromptFigures {
  return hasPromptCounts(value) && isHistogramData(value.firstEventMs) && isHistogramData(value.completionMs);
}

function isPromptSummaryFigures(value: unknown): value is PromptSummaryFigures {
  return hasPromptCounts(value) && isSummary(value.firstEventMs) && isSummary(value.completionMs);
}

function isKeyedMetrics(value: unknown): value is KeyedMetrics {
  return isObject(value) && typeof value.key === 'string' && isPromptSummaryFigures(value.prompts);
}

function hasPromptCounts(value: unknown): value is Record<string, unknown> {
  return isObject(value) && typeof value.total === 'number' && typeof value.failed === 'number' && typeof value.timedOut === 'number';
}

function isSummary(value: unknown): value is HistogramSummary {
  return isObject(value) && typeof value.count === 'number' && typeof value.p95 === 'number';
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

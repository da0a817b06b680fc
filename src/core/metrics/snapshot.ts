import type { AgentState, CircuitState, RestartReason } from '../pool/events';
import { exceedsJsonDepth } from '../directory/safeJson';
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
  /** Conversations whose session the agent's process holds. */
  conversations?: number;
  /** Context tokens in use, summed over those conversations, and the largest window among them ("15k/200k (7.5%)"). */
  contextUsed?: number;
  contextSize?: number;
}

/** A conversation a pool of the window holds: its context against the window and what it cost, over all its turns. */
export interface ConversationMetrics {
  key: string;
  profile: string;
  /** The agent whose process holds the session now; absent while none does (it resumes on the next turn). */
  agentId?: string;
  turns: number;
  contextUsed?: number;
  contextSize?: number;
  costUsd: number;
  inputTokens: number;
  outputTokens: number;
  /** Wall-clock ms. */
  lastUsedAt: number;
  /** Times it went on without its earlier context. */
  contextLost: number;
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
  /** The pool's circuit and its last failure: other windows and the CLI show why a profile is paused. */
  circuit: { state: CircuitState; reason?: string; lastFailure?: { message: string; at: number } };
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
  /** The conversations this window's pools hold (absent from older writers). */
  conversations?: ConversationMetrics[];
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
  // A 100,000-deep array would overflow the stack of whoever walks it later (JSON.stringify too).
  if (exceedsJsonDepth(text)) return { problem: 'garbage' };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { problem: text.trimEnd().endsWith('}') ? 'garbage' : 'truncated' };
  }
  return isMetricsSnapshot(value) ? { snapshot: value } : { problem: 'wrong-schema' };
}

/*
 * Every field a reader uses is checked here, in range, before anything uses it: counters are whole
 * numbers from 0, times are wall-clock ms a Date can show, pids are pids, histograms are
 * well-formed. A snapshot failing any check is a bad file (counted), never a thrown error later.
 */
const isCounter = (value: unknown): value is number => typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
const isAmount = (value: unknown): value is number => typeof value === 'number' && Number.isFinite(value) && value >= 0;
const isFiniteNumber = (value: unknown): value is number => typeof value === 'number' && Number.isFinite(value);
const isWallTime = (value: unknown): value is number => isAmount(value) && value <= 8.64e15;
const isPid = (value: unknown): value is number => isCounter(value) && value >= 1 && value <= 2 ** 31 - 1;
const isText = (value: unknown): value is string => typeof value === 'string';
const isOptional = (value: unknown, check: (value: unknown) => boolean) => value === undefined || check(value);
const isListOf = (value: unknown, check: (item: unknown) => boolean) => Array.isArray(value) && value.every(check);

function isMetricsSnapshot(value: unknown): value is MetricsSnapshot {
  if (!isObject(value)) return false;
  return (
    value.schema === METRICS_SCHEMA &&
    value.kind === METRICS_KIND &&
    isText(value.instanceId) &&
    isOptional(value.workspaceKey, isText) &&
    isOptional(value.continuesInstanceId, isText) &&
    isCounter(value.seq) &&
    isWallTime(value.writtenAt) &&
    isListOf(value.pools, isPoolMetrics) &&
    isListOf(value.agents, isAgentMetrics) &&
    isListOf(value.pairs, (pair) => isKeyedMetrics(pair) && isText(pair.source) && isText(pair.target)) &&
    isListOf(value.sessions, isKeyedMetrics) &&
    isOptional(value.conversations, (list) => isListOf(list, isConversationMetrics))
  );
}

function isConversationMetrics(value: unknown): value is ConversationMetrics {
  return (
    isObject(value) &&
    isText(value.key) &&
    isText(value.profile) &&
    isOptional(value.agentId, isText) &&
    isCounter(value.turns) &&
    isOptional(value.contextUsed, isAmount) &&
    isOptional(value.contextSize, isAmount) &&
    isAmount(value.costUsd) &&
    isAmount(value.inputTokens) &&
    isAmount(value.outputTokens) &&
    isWallTime(value.lastUsedAt) &&
    isCounter(value.contextLost)
  );
}

function isAgentMetrics(value: unknown): value is AgentMetrics {
  return (
    isObject(value) &&
    isText(value.id) &&
    isText(value.profile) &&
    isText(value.state) &&
    isOptional(value.pid, isPid) &&
    isWallTime(value.startedAt) &&
    isAmount(value.uptimeMs) &&
    isOptional(value.rssBytes, isAmount) &&
    isCounter(value.restarts) &&
    isCounter(value.recycles) &&
    isPromptSummaryFigures(value.prompts) &&
    isAmount(value.errorRate) &&
    isOptional(value.conversations, isCounter) &&
    isOptional(value.contextUsed, isAmount) &&
    isOptional(value.contextSize, isAmount)
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
  const agents = value.agents;
  const circuit = value.circuit;
  const lastScale = value.lastScale;
  return (
    isText(value.profile) &&
    isObject(agents) &&
    isCounter(agents.starting) &&
    isCounter(agents.idle) &&
    isCounter(agents.busy) &&
    isCounter(agents.total) &&
    isCounter(value.minAgents) &&
    isCounter(value.maxAgents) &&
    isCounter(value.queueDepth) &&
    isHistogramData(value.queueWaitMs) &&
    [value.spawned, value.terminated, value.restarts, value.recycles, value.scaleUps, value.scaleDowns].every(isCounter) &&
    isOptional(lastScale, (scale) => isObject(scale) && isText(scale.direction) && isWallTime(scale.at) && isCounter(scale.from) && isCounter(scale.to) && isText(scale.reason)) &&
    isAmount(value.utilization) &&
    isObject(circuit) &&
    isText(circuit.state) &&
    isOptional(circuit.reason, isText) &&
    typeof value.closed === 'boolean' &&
    isPromptFigures(value.prompts)
  );
}

export function isPromptFigures(value: unknown): value is PromptFigures {
  return hasPromptCounts(value) && isHistogramData(value.firstEventMs) && isHistogramData(value.completionMs);
}

function isPromptSummaryFigures(value: unknown): value is PromptSummaryFigures {
  return hasPromptCounts(value) && isSummary(value.firstEventMs) && isSummary(value.completionMs);
}

function isKeyedMetrics(value: unknown): value is KeyedMetrics & Record<string, unknown> {
  return (
    isObject(value) &&
    isText(value.key) &&
    isText(value.profile) &&
    isPromptSummaryFigures(value.prompts) &&
    isCounter(value.affinityHits) &&
    isCounter(value.affinityChances) &&
    isAmount(value.affinity)
  );
}

function hasPromptCounts(value: unknown): value is Record<string, unknown> {
  return (
    isObject(value) &&
    [value.total, value.succeeded, value.failed, value.cancelled, value.timedOut, value.inputTokens, value.outputTokens].every(isCounter) &&
    isAmount(value.costUsd)
  );
}

function isSummary(value: unknown): value is HistogramSummary {
  return isObject(value) && isCounter(value.count) && [value.min, value.max, value.avg, value.p50, value.p95, value.p99].every(isFiniteNumber);
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

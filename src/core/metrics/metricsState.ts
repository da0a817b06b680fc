import { emptyHistogramData, isHistogramData } from './histogram';
import {
  METRICS_KIND,
  isObject,
  isPromptFigures,
  type MetricsSnapshot,
  type PoolMetrics,
  type PromptFigures,
} from './snapshot';

/**
 * What a window keeps for its next instance (see persistence.ts), as opposed to what it shares
 * (snapshot.ts): only this window reads it, once, so it keeps full histograms for sessions and
 * module pairs too, and a reload carries their latencies on exactly. Agents are left out: agent
 * processes do not survive a reload, so neither do their counters.
 */
export const METRICS_STATE_SCHEMA = 1;
export const METRICS_STATE_KIND = 'agent-pool-metrics-state';

export interface KeyedState {
  key: string;
  profile: string;
  prompts: PromptFigures;
  affinityHits: number;
  affinityChances: number;
}

export interface PairState extends KeyedState {
  source: string;
  target: string;
}

export interface MetricsState {
  schema: typeof METRICS_STATE_SCHEMA;
  kind: typeof METRICS_STATE_KIND;
  instanceId: string;
  workspaceKey?: string;
  seq: number;
  writtenAt: number;
  pools: PoolMetrics[];
  pairs: PairState[];
  sessions: KeyedState[];
}

/**
 * The state a shared snapshot still gives, for writers not told how to produce the full state:
 * every counter and the pool histograms survive; session and pair latencies restart empty.
 */
export function stateFromSnapshot(snapshot: MetricsSnapshot): MetricsState {
  const keyed = <T extends { prompts: { firstEventMs: unknown; completionMs: unknown } }>(item: T) => ({
    ...item,
    prompts: { ...item.prompts, firstEventMs: emptyHistogramData(), completionMs: emptyHistogramData() },
  });
  const state: MetricsState = {
    schema: METRICS_STATE_SCHEMA,
    kind: METRICS_STATE_KIND,
    instanceId: snapshot.instanceId,
    seq: snapshot.seq,
    writtenAt: snapshot.writtenAt,
    pools: snapshot.pools,
    pairs: snapshot.pairs.map(keyed),
    sessions: snapshot.sessions.map(keyed),
  };
  if (snapshot.workspaceKey !== undefined) state.workspaceKey = snapshot.workspaceKey;
  return state;
}

/**
 * Parses a stored state; undefined when it is missing, damaged or of an unknown version (the
 * counters then start at zero, which is better than restoring figures that cannot be trusted).
 * A schema-1 metrics snapshot, which earlier versions stored here, is accepted: it held full
 * histograms everywhere, in `[key, count]` pairs, which are converted.
 */
export function parseMetricsState(text: string): MetricsState | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!isObject(value)) return undefined;
  const isCurrent = value.schema === METRICS_STATE_SCHEMA && value.kind === METRICS_STATE_KIND;
  const isLegacySnapshot = value.schema === 1 && value.kind === METRICS_KIND;
  if (!isCurrent && !isLegacySnapshot) return undefined;
  if (isLegacySnapshot) upgradeLegacyBuckets(value);
  return isMetricsState(value) ? { ...value, schema: METRICS_STATE_SCHEMA, kind: METRICS_STATE_KIND } : undefined;
}

function isMetricsState(value: Record<string, unknown>): value is Record<string, unknown> & MetricsState {
  const keyedOk = (items: unknown) =>
    Array.isArray(items) && items.every((item) => isObject(item) && typeof item.key === 'string' && isPromptFigures(item.prompts));
  return (
    typeof value.instanceId === 'string' &&
    typeof value.seq === 'number' &&
    Array.isArray(value.pools) &&
    value.pools.every((pool) => isObject(pool) && typeof pool.profile === 'string' && isPromptFigures(pool.prompts) && isHistogramData(pool.queueWaitMs)) &&
    keyedOk(value.pairs) &&
    keyedOk(value.sessions)
  );
}

/** Schema 1 stored buckets as `[[key, count], ...]`; the current form is delta-encoded and flat. */
function upgradeLegacyBuckets(value: unknown): void {
  if (Array.isArray(value)) {
    for (const item of value) upgradeLegacyBuckets(item);
    return;
  }
  if (!isObject(value)) return;
  for (const [name, child] of Object.entries(value)) {
    if (name === 'buckets' && Array.isArray(child) && child.every((pair) => Array.isArray(pair))) {
      value[name] = pairsToDeltas(child as Array<[number, number]>);
    } else {
      upgradeLegacyBuckets(child);
    }
  }
}

function pairsToDeltas(pairs: Array<[number, number]>): number[] {
  const deltas: number[] = [];
  let previous = 0;
  for (const [key, count] of [...pairs].sort((a, b) => a[0] - b[0])) {
    deltas.push(key - previous, count);
    previous = key;
  }
  return deltas;
}

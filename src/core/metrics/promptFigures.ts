import type { PoolEvent, TurnOutcome } from '../pool/events';
import { Histogram } from './histogram';
import type { KeyedState } from './metricsState';
import { emptyPromptFigures, type KeyedMetrics, type PromptFigures, type PromptSummaryFigures } from './snapshot';

type TurnFinished = Extract<PoolEvent, { type: 'turn-finished' }>;

/** Live, mutable prompt figures; `toData()` gives the stored form. Merging is exact (histograms add). */
export class PromptAccumulator {
  private readonly outcomes: Record<TurnOutcome, number> = { succeeded: 0, failed: 0, cancelled: 0, 'timed-out': 0 };
  private readonly firstEvent = new Histogram();
  private readonly completion = new Histogram();
  private inputTokens = 0;
  private outputTokens = 0;
  private costUsd = 0;

  static fromData(data: PromptFigures | undefined): PromptAccumulator {
    const accumulator = new PromptAccumulator();
    if (data) accumulator.addData(data);
    return accumulator;
  }

  record(turn: TurnFinished): void {
    this.outcomes[turn.outcome]++;
    if (turn.firstEventMs !== undefined) this.firstEvent.record(turn.firstEventMs);
    // A cancelled turn ended when someone said stop, not when the agent finished: it says nothing about latency.
    if (turn.outcome !== 'cancelled') this.completion.record(turn.totalMs);
    this.inputTokens += nonNegative(turn.usage?.inputTokens);
    this.outputTokens += nonNegative(turn.usage?.outputTokens);
    this.costUsd += nonNegative(turn.usage?.costUsd);
  }

  addData(data: PromptFigures): void {
    this.outcomes.succeeded += data.succeeded ?? 0;
    this.outcomes.failed += data.failed ?? 0;
    this.outcomes.cancelled += data.cancelled ?? 0;
    this.outcomes['timed-out'] += data.timedOut ?? 0;
    this.firstEvent.mergeData(data.firstEventMs);
    this.completion.mergeData(data.completionMs);
    this.inputTokens += data.inputTokens ?? 0;
    this.outputTokens += data.outputTokens ?? 0;
    this.costUsd += data.costUsd ?? 0;
  }

  get total(): number {
    const o = this.outcomes;
    return o.succeeded + o.failed + o.cancelled + o['timed-out'];
  }

  /** With full histograms: for pools (merged across windows) and for the reload state. */
  toData(): PromptFigures {
    return { ...this.counts(), firstEventMs: this.firstEvent.toData(), completionMs: this.completion.toData() };
  }

  /** With latency summaries: for agents, sessions and pairs in the shared snapshot. */
  toSummary(): PromptSummaryFigures {
    return { ...this.counts(), firstEventMs: this.firstEvent.summary(), completionMs: this.completion.summary() };
  }

  private counts() {
    return {
      total: this.total,
      succeeded: this.outcomes.succeeded,
      failed: this.outcomes.failed,
      cancelled: this.outcomes.cancelled,
      timedOut: this.outcomes['timed-out'],
      inputTokens: this.inputTokens,
      outputTokens: this.outputTokens,
      costUsd: this.costUsd,
    };
  }
}

/** Sums prompt figures exactly (counts add, histograms merge); used across agents, pools and windows. */
export function mergePromptFigures(items: Iterable<PromptFigures>): PromptFigures {
  const merged = new PromptAccumulator();
  let any = false;
  for (const item of items) {
    merged.addData(item);
    any = true;
  }
  return any ? merged.toData() : emptyPromptFigures();
}

/** Prompt figures for one key (a module pair or a session) and how often it stayed on one agent. */
export class KeyedAccumulator {
  readonly prompts: PromptAccumulator;
  private affinityHits: number;
  private affinityChances: number;
  private lastAgentId: string | undefined;

  constructor(
    readonly key: string,
    readonly profile: string,
    restored?: KeyedState,
  ) {
    this.prompts = PromptAccumulator.fromData(restored?.prompts);
    this.affinityHits = restored?.affinityHits ?? 0;
    this.affinityChances = restored?.affinityChances ?? 0;
  }

  record(turn: TurnFinished): void {
    if (this.lastAgentId !== undefined) {
      this.affinityChances++;
      if (this.lastAgentId === turn.agentId) this.affinityHits++;
    }
    this.lastAgentId = turn.agentId;
    this.prompts.record(turn);
  }

  /** The shared form: latency as summaries. */
  toData(): KeyedMetrics {
    return {
      key: this.key,
      profile: this.profile,
      prompts: this.prompts.toSummary(),
      affinityHits: this.affinityHits,
      affinityChances: this.affinityChances,
      affinity: this.affinityChances === 0 ? 0 : this.affinityHits / this.affinityChances,
    };
  }

  /** The reload form: full histograms, so the next instance carries latencies on exactly. */
  toState(): KeyedState {
    return {
      key: this.key,
      profile: this.profile,
      prompts: this.prompts.toData(),
      affinityHits: this.affinityHits,
      affinityChances: this.affinityChances,
    };
  }
}

/** A Map that keeps at most `limit` keys, forgetting the least recently touched. */
export class BoundedMap<V> {
  private readonly items = new Map<string, V>();

  constructor(private readonly limit: number) {}

  getOrCreate(key: string, create: () => V): V {
    let value = this.items.get(key);
    if (value === undefined) {
      value = create();
    } else {
      this.items.delete(key);
    }
    this.items.set(key, value);
    while (this.items.size > this.limit) this.items.delete(this.items.keys().next().value!);
    return value;
  }

  values(): IterableIterator<V> {
    return this.items.values();
  }
}

function nonNegative(value: number | undefined): number {
  return value !== undefined && Number.isFinite(value) && value > 0 ? value : 0;
}

/**
 * Selection time of every routing strategy at 10, 100 and 1,000 candidate agents (goal: p99 under
 * 10 µs at 1,000). Baseline: picking the first candidate, timed the same way, so the ratio shows
 * what the strategy itself costs over the timer's own overhead.
 */
import { ModuleAffinity } from '../src/core/pool/routers/affinity';
import { ROUTING_STRATEGIES, type RoutableAgent, type RoutingState, type RoutingStrategy } from '../src/core/pool/routers/agentRouters';
import type { BenchEntry } from './bench-entry';
import { percentile } from './pool-support';

const SIZES = [10, 100, 1000];
const SAMPLES = 20_000;
const GOAL_P99_US = 10;

/**
 * `size` idle candidates. With `leadersBusy`, as many again have served the pair more often but are
 * busy, so module affinity has to walk past all of them: its worst case.
 */
function fixture(size: number, leadersBusy = false): { candidates: RoutableAgent[]; state: RoutingState } {
  let seed = 42;
  const rng = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const candidates = Array.from({ length: size }, (_, i) => ({ id: `agent-${i}`, ordinal: i, busyMs: Math.floor(rng() * 1e6), turns: i, lastReleasedAt: Math.floor(rng() * 1e6) }));
  // Every 7th agent has served the pair, each a different number of times, as the pool records it.
  const affinity = new ModuleAffinity(false);
  candidates.forEach((c, i) => {
    for (let turn = 0; i % 7 === 0 && turn < i / 7; turn++) affinity.recordSuccess(c.id, 'ui', 'api');
    for (let turn = 0; leadersBusy && i % 7 === 0 && turn < size / 7 + i / 7; turn++) affinity.recordSuccess(`busy-${i}`, 'ui', 'api');
  });
  return {
    candidates,
    state: {
      lastPickedOrdinal: Math.floor(size / 2),
      rng,
      sticky: new Map([['chat', { agentId: `agent-${size - 1}` }]]),
      liveAgentIds: new Set(candidates.map((c) => c.id)),
      affinity: affinity.pairs,
      candidatesById: new Map(candidates.map((c) => [c.id, c])),
    },
  };
}

function time(strategy: RoutingStrategy, candidates: RoutableAgent[], state: RoutingState): number[] {
  const request = { sessionKey: 'chat', sourceModule: 'ui', targetModule: 'api' };
  let sink = 0;
  for (let i = 0; i < 2_000; i++) sink += strategy(request, candidates, state)?.ordinal ?? 0;
  // A Float64Array holds the samples unboxed: a plain array would allocate a number per sample and
  // put the timer's own garbage collections into the strategy's tail.
  const times = new Float64Array(SAMPLES);
  for (let i = 0; i < SAMPLES; i++) {
    // performance.now() allocates nothing, unlike hrtime.bigint(), so the timer adds no GC pauses to the tail.
    const start = performance.now();
    sink += strategy(request, candidates, state)?.ordinal ?? 0;
    times[i] = (performance.now() - start) * 1000;
  }
  if (sink < 0) console.log(sink);
  return Array.from(times);
}

const firstCandidate: RoutingStrategy = (_request, candidates) => candidates[0];

export async function run(): Promise<BenchEntry[]> {
  const entries: BenchEntry[] = [];
  for (const [name, strategy] of Object.entries(ROUTING_STRATEGIES)) {
    const p99BySize: Record<string, number> = {};
    let baselineP99 = 0;
    for (const size of SIZES) {
      const { candidates, state } = fixture(size);
      p99BySize[size] = percentile(time(strategy, candidates, state), 99);
      if (size === 1000) baselineP99 = percentile(time(firstCandidate, candidates, state), 99);
    }
    entries.push({
      name: `routing ${name} p99 @1000`,
      ours: p99BySize[1000],
      baseline: baselineP99,
      baselineName: 'first candidate',
      ratio: p99BySize[1000] / baselineP99,
      unit: 'µs',
      goal: `p99 < ${GOAL_P99_US} µs at 1,000 agents`,
      met: p99BySize[1000] < GOAL_P99_US,
      details: { p99At10: p99BySize[10], p99At100: p99BySize[100], p99At1000: p99BySize[1000], samples: SAMPLES },
    });
  }
  const { candidates, state } = fixture(1000, true);
  const worst = percentile(time(ROUTING_STRATEGIES['module-affinity'], candidates, state), 99);
  const baseline = percentile(time(firstCandidate, candidates, state), 99);
  entries.push({
    name: 'routing module-affinity p99 @1000, best-scored agents busy',
    ours: worst,
    baseline,
    baselineName: 'first candidate',
    ratio: worst / baseline,
    unit: 'µs',
    goal: `p99 < ${GOAL_P99_US} µs at 1,000 agents`,
    met: worst < GOAL_P99_US,
    details: { busyLeaders: Math.ceil(1000 / 7), samples: SAMPLES },
  });
  return entries;
}

/**
 * acquire + release of an idle resource: our pool against tarn and generic-pool on identical
 * in-memory resources (goal: p50 no slower than the faster of the two). Rounds interleave the three
 * so drift on a shared machine hits them alike.
 */
import * as genericPool from 'generic-pool';
import { Pool as TarnPool } from 'tarn';
import type { BenchEntry } from './bench-entry';
import { benchPool, demoProfile, InMemoryAgent, percentile } from './pool-support';

const ROUNDS = 20;
const PER_ROUND = 2_000;

async function timeOps(times: number[], op: () => Promise<void>): Promise<void> {
  for (let i = 0; i < PER_ROUND; i++) {
    const start = process.hrtime.bigint();
    await op();
    times.push(Number(process.hrtime.bigint() - start) / 1000);
  }
}

export async function run(): Promise<BenchEntry[]> {
  const ours = benchPool({ createConnection: (profile) => new InMemoryAgent(profile), minAgents: 1, maxAgents: 1, profile: demoProfile(), autoscale: false });
  await ours.start();
  const tarn = new TarnPool({ create: (cb: (err: Error | null, resource: object) => void) => cb(null, {}), destroy: () => undefined, min: 1, max: 1 });
  const generic = genericPool.createPool({ create: async () => ({}), destroy: async () => undefined }, { min: 1, max: 1 });
  await generic.ready();

  const oursTimes: number[] = [];
  const tarnTimes: number[] = [];
  const genericTimes: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    await timeOps(oursTimes, async () => (await ours.acquire()).release());
    await timeOps(tarnTimes, async () => {
      const resource = await tarn.acquire().promise;
      tarn.release(resource);
    });
    await timeOps(genericTimes, async () => {
      const resource = await generic.acquire();
      await generic.release(resource);
    });
  }
  await ours.close();
  await tarn.destroy();
  await generic.drain();
  await generic.clear();

  const warm = (times: number[]) => times.slice(PER_ROUND); // first round is JIT warm-up
  const p50 = { ours: percentile(warm(oursTimes), 50), tarn: percentile(warm(tarnTimes), 50), generic: percentile(warm(genericTimes), 50) };
  const fasterName = p50.tarn <= p50.generic ? 'tarn' : 'generic-pool';
  const faster = Math.min(p50.tarn, p50.generic);
  return [
    {
      name: 'acquire+release p50',
      ours: p50.ours,
      baseline: faster,
      baselineName: fasterName,
      ratio: p50.ours / faster,
      unit: 'µs',
      goal: 'ratio <= 1.0 (no slower than the faster of tarn and generic-pool)',
      met: p50.ours <= faster,
      details: {
        samples: warm(oursTimes).length,
        tarnP50: p50.tarn,
        genericPoolP50: p50.generic,
        oursP99: percentile(warm(oursTimes), 99),
        tarnP99: percentile(warm(tarnTimes), 99),
        genericPoolP99: percentile(warm(genericTimes), 99),
      },
    },
  ];
}

/**
 * Warm dispatch: one prompt round trip through the pool to a warm demo agent, against a raw ACP SDK
 * client connection to the same demo agent program (goal: the pool adds at most 10% at p50).
 * Cold: spawn + handshake + session + prompt through the adapter, against the raw client doing the
 * same; the warm/cold ratio is what a warm pool saves.
 */
import { createAgentConnection } from '../src/core/agents/factory';
import type { BenchEntry } from './bench-entry';
import { benchPool, demoProfile, percentile, RawAcpClient } from './pool-support';

const WARM_ROUNDS = 10;
const WARM_PER_ROUND = 150;
const COLD_RUNS = 6;

async function warmTimes(sessionMode: 'reuse' | 'fresh'): Promise<{ pooled: number[]; direct: number[]; adapter: number[] }> {
  const pool = benchPool({ minAgents: 1, maxAgents: 1, autoscale: false, sessionMode });
  await pool.start();
  const raw = await RawAcpClient.start();
  const rawSession = await raw.newSession();
  // The adapter alone (no pool), to tell the pool's share of the overhead from the adapter's.
  const connection = createAgentConnection(demoProfile(), { cwd: process.cwd() });
  await connection.start();
  const adapterSession = await connection.openSession({ cwd: process.cwd() });
  const pooled: number[] = [];
  const direct: number[] = [];
  const adapter: number[] = [];
  for (let round = 0; round < WARM_ROUNDS; round++) {
    for (let i = 0; i < WARM_PER_ROUND; i++) {
      const start = performance.now();
      await connection.prompt({ sessionId: adapterSession, text: 'warm prompt' });
      adapter.push(performance.now() - start);
    }
    for (let i = 0; i < WARM_PER_ROUND; i++) {
      const start = performance.now();
      await pool.run('warm prompt');
      pooled.push(performance.now() - start);
    }
    for (let i = 0; i < WARM_PER_ROUND; i++) {
      const start = performance.now();
      await raw.prompt(rawSession, 'warm prompt');
      direct.push(performance.now() - start);
    }
  }
  await pool.close();
  await raw.close();
  await connection.kill(500);
  connection.dispose();
  return { pooled, direct, adapter };
}

export async function run(): Promise<BenchEntry[]> {
  const { pooled, direct, adapter } = await warmTimes('reuse');
  const fresh = await warmTimes('fresh');
  const coldOurs: number[] = [];
  const coldRaw: number[] = [];
  for (let i = 0; i < COLD_RUNS; i++) {
    let start = performance.now();
    const connection = createAgentConnection(demoProfile(), { cwd: process.cwd() });
    await connection.start();
    const session = await connection.openSession({ cwd: process.cwd() });
    await connection.prompt({ sessionId: session, text: 'cold prompt' });
    coldOurs.push(performance.now() - start);
    await connection.kill(500);
    connection.dispose();
    start = performance.now();
    const client = await RawAcpClient.start();
    await client.prompt(await client.newSession(), 'cold prompt');
    coldRaw.push(performance.now() - start);
    await client.close();
  }

  const warm = (times: number[]) => times.slice(WARM_PER_ROUND);
  const warmP50 = percentile(warm(pooled), 50);
  const rawP50 = percentile(warm(direct), 50);
  const coldP50 = percentile(coldOurs, 50);
  const coldRawP50 = percentile(coldRaw, 50);
  return [
    {
      name: 'dispatch warm p50 (sessionMode reuse)',
      ours: warmP50,
      baseline: rawP50,
      baselineName: 'raw ACP SDK client, same demo agent',
      ratio: warmP50 / rawP50,
      unit: 'ms',
      goal: 'ratio <= 1.10',
      met: warmP50 / rawP50 <= 1.1,
      details: {
        samples: warm(pooled).length,
        oursP95: percentile(warm(pooled), 95),
        rawP95: percentile(warm(direct), 95),
        adapterAloneP50: percentile(warm(adapter), 50),
        poolOverAdapterRatio: warmP50 / percentile(warm(adapter), 50),
        adapterOverRawRatio: percentile(warm(adapter), 50) / rawP50,
      },
    },
    {
      name: 'dispatch warm p50, fresh session per task',
      ours: percentile(warm(fresh.pooled), 50),
      baseline: percentile(warm(fresh.direct), 50),
      baselineName: 'raw ACP SDK client, one session',
      ratio: percentile(warm(fresh.pooled), 50) / percentile(warm(fresh.direct), 50),
      unit: 'ms',
      goal: 'informational: sessionMode "fresh" also opens the next session per task',
    },
    {
      name: 'dispatch cold p50 (spawn+handshake+prompt)',
      ours: coldP50,
      baseline: coldRawP50,
      baselineName: 'raw spawn + SDK handshake + prompt',
      ratio: coldP50 / coldRawP50,
      unit: 'ms',
      details: { runs: COLD_RUNS, warmOverColdRatio: warmP50 / coldP50, note: 'ours spawns under the orphan guardian' },
    },
    {
      name: 'dispatch warm/cold ratio',
      ours: warmP50,
      baseline: coldP50,
      baselineName: 'cold round trip through the adapter',
      ratio: warmP50 / coldP50,
      unit: 'ms',
      goal: 'warm far below cold (informational)',
    },
  ];
}

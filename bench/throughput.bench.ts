/**
 * Prompts per second with 4 zero-latency demo agents: the pool (16 concurrent callers, one lease
 * per agent, sessionMode reuse like the raw side's one session per connection) against 4 raw ACP SDK connections each driven by its own loop (goal: >= 0.8x raw).
 */
import type { BenchEntry } from './bench-entry';
import { benchPool, RawAcpClient } from './pool-support';

const AGENTS = 4;
const PROMPTS = 6_000;
const CALLERS = 16;

async function poolRate(): Promise<number> {
  const pool = benchPool({ minAgents: AGENTS, maxAgents: AGENTS, autoscale: false, queueLimit: 1000, sessionMode: 'reuse' });
  await pool.start();
  for (let i = 0; i < 200; i++) await pool.run('warm-up');
  let remaining = PROMPTS;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: CALLERS }, async () => {
      while (remaining-- > 0) await pool.run('throughput');
    }),
  );
  const rate = PROMPTS / ((performance.now() - start) / 1000);
  await pool.close();
  return rate;
}

async function rawRate(): Promise<number> {
  const clients = await Promise.all(Array.from({ length: AGENTS }, () => RawAcpClient.start()));
  const sessions = await Promise.all(clients.map((client) => client.newSession()));
  for (let i = 0; i < 200; i++) await clients[i % AGENTS].prompt(sessions[i % AGENTS], 'warm-up');
  let remaining = PROMPTS;
  const start = performance.now();
  await Promise.all(
    clients.map(async (client, index) => {
      while (remaining-- > 0) await client.prompt(sessions[index], 'throughput');
    }),
  );
  const rate = PROMPTS / ((performance.now() - start) / 1000);
  await Promise.all(clients.map((client) => client.close()));
  return rate;
}

export async function run(): Promise<BenchEntry[]> {
  const raw1 = await rawRate();
  const ours1 = await poolRate();
  const raw2 = await rawRate();
  const ours2 = await poolRate();
  const ours = (ours1 + ours2) / 2;
  const raw = (raw1 + raw2) / 2;
  return [
    {
      name: 'throughput (4 demo agents)',
      ours,
      baseline: raw,
      baselineName: '4 raw ACP SDK connections',
      ratio: ours / raw,
      unit: 'prompts/s',
      goal: 'ratio >= 0.8',
      met: ours / raw >= 0.8,
      details: { prompts: PROMPTS, callers: CALLERS, runs: 2 },
    },
  ];
}

/**
 * Prompts per second with 4 zero-latency demo agents: the pool (16 concurrent callers, one lease
 * per agent, sessionMode reuse like the raw side's one session per connection) against 4 raw ACP
 * SDK connections each driven by its own loop (goal: >= 0.8x raw). Five rounds, the side that goes
 * first alternating; the figure is the median of the rounds' ratios, so a burst of load from
 * another tenant of the machine during one 2-second run does not decide it.
 */
import type { BenchEntry } from './bench-entry';
import { benchPool, RawAcpClient } from './pool-support';

const AGENTS = 4;
const PROMPTS = 4_000;
const ROUNDS = 5;
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
  const rounds: Array<{ ours: number; raw: number }> = [];
  for (let round = 0; round < ROUNDS; round++) {
    if (round % 2 === 0) {
      const raw = await rawRate();
      rounds.push({ raw, ours: await poolRate() });
    } else {
      const ours = await poolRate();
      rounds.push({ ours, raw: await rawRate() });
    }
  }
  const ratios = rounds.map((r) => r.ours / r.raw);
  const median = [...ratios].sort((a, b) => a - b)[Math.floor(ROUNDS / 2)];
  const middle = rounds[ratios.indexOf(median)];
  return [
    {
      name: 'throughput (4 demo agents)',
      ours: middle.ours,
      baseline: middle.raw,
      baselineName: '4 raw ACP SDK connections',
      ratio: median,
      unit: 'prompts/s',
      goal: 'ratio >= 0.8',
      met: median >= 0.8,
      details: { prompts: PROMPTS, callers: CALLERS, rounds: ROUNDS, roundRatios: ratios.map((r) => r.toFixed(3)).join(' ') },
    },
  ];
}

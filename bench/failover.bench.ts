/**
 * Failover: under load, SIGKILL one demo agent and time until its replacement completes a turn
 * (goal: p95 under 1 s). Baseline: a cold spawn + handshake + session of the same agent through the
 * adapter, i.e. the floor any replacement must pay. Each kill is a first crash (good turns run in
 * between), so the restart starts at once: no backoff.
 */
import { createAgentConnection } from '../src/core/agents/factory';
import { waitForEvent } from '../src/core/common/event';
import type { BenchEntry } from './bench-entry';
import { benchPool, demoProfile, percentile } from './pool-support';

const KILLS = 12;

export async function run(): Promise<BenchEntry[]> {
  const pool = benchPool({ minAgents: 4, maxAgents: 4, autoscale: false, restartBaseDelayMs: 100, circuitFailureThreshold: 1000, queueLimit: 1000 });
  await pool.start();
  let stop = false;
  const load = Array.from({ length: 8 }, async () => {
    while (!stop) await pool.run('/demo latency=5\nload').catch(() => undefined);
  });
  const failovers: number[] = [];
  for (let i = 0; i < KILLS; i++) {
    const victim = pool.snapshot().agents.find((a) => a.state === 'busy' || a.state === 'idle')!;
    const killedAt = performance.now();
    // Served means: the same agent id came back (idle after its restart) and then finished a turn.
    let restarted = false;
    const served = waitForEvent(
      pool.onDidEvent,
      (e) => {
        if (e.type === 'agent-state' && e.agentId === victim.id && e.to === 'idle') restarted = true;
        return restarted && e.type === 'turn-finished' && e.agentId === victim.id && e.outcome === 'succeeded';
      },
      10_000,
    );
    process.kill(victim.pid!, 'SIGKILL');
    await served;
    failovers.push(performance.now() - killedAt);
  }
  stop = true;
  await Promise.all(load);
  await pool.close();

  const cold: number[] = [];
  for (let i = 0; i < 5; i++) {
    const start = performance.now();
    const connection = createAgentConnection(demoProfile(), { cwd: process.cwd() });
    await connection.start();
    await connection.openSession({ cwd: process.cwd() });
    cold.push(performance.now() - start);
    await connection.kill(500);
    connection.dispose();
  }
  const p95 = percentile(failovers, 95);
  return [
    {
      name: 'failover p95 (SIGKILL -> replacement serving)',
      ours: p95,
      baseline: percentile(cold, 95),
      baselineName: 'cold spawn + handshake + session',
      ratio: p95 / percentile(cold, 95),
      unit: 'ms',
      goal: 'p95 < 1000 ms',
      met: p95 < 1000,
      details: {
        p50: percentile(failovers, 50),
        kills: KILLS,
        floorP50: percentile(cold, 50),
        floorP95: percentile(cold, 95),
        note: 'a first crash after good turns restarts with no backoff; the floor is a cold spawn+handshake+session in this process',
      },
    },
  ];
}

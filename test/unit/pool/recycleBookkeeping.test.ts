import assert from 'node:assert/strict';
import { Emitter } from '../../../src/core/common/event';
import { PooledAgent } from '../../../src/core/pool/agentRecord';
import type { PoolEvent } from '../../../src/core/pool/events';
import { resolvePoolOptions } from '../../../src/core/pool/options';
import { Recycling, type RecyclingPool } from '../../../src/core/pool/recycling';
import { InProcessBudget } from '../../fixtures/inProcessBudget';
import { ManualClock } from '../../fixtures/manualClock';
import { closeAll, demoPool, demoProfile, nextEvent } from './helpers';

/** A pool of `count` idle agents for Recycling alone: its retire only records whom it was asked to stop. */
function recyclingOf(count: number, maxAgents: number, extra: Record<string, unknown> = {}) {
  const clock = new ManualClock();
  const options = resolvePoolOptions({
    profile: demoProfile(),
    createConnection: () => {
      throw new Error('no process in this test');
    },
    budget: new InProcessBudget(8),
    cwd: process.cwd(),
    clock,
    minAgents: 0,
    maxAgents: 8,
    recycleMaxIdleCpuPercent: 0,
    ...extra,
  });
  const agents = new Map<string, PooledAgent>();
  for (let i = 1; i <= count; i++) {
    const agent = new PooledAgent(`demo-${i}`, i);
    agent.enter('idle');
    agents.set(agent.id, agent);
  }
  const pool: RecyclingPool & { maxAgents: number } = { options, profile: 'demo', closed: false, agents, events: new Emitter<PoolEvent>(), maxAgents };
  const retired: string[] = [];
  const recycling = new Recycling(pool, {
    retire: (agent) => {
      retired.push(agent.id);
      return Promise.resolve();
    },
  });
  return { pool, agents, recycling, retired, clock };
}

describe('recycled positions waiting for their replacements', () => {
  it('never keeps more histories than maxAgents, the newest kept', () => {
    const { agents, recycling, retired } = recyclingOf(5, 2);
    for (const agent of agents.values()) assert.equal(recycling.recycle(agent, 'manual'), true);
    assert.equal(retired.length, 5);
    assert.equal(recycling.waitingHistories, 2, 'bounded by maxAgents although no replacement spawned');
  });

  it('drops the histories the pool can no longer refill when it shrinks, and the next spawn takes the oldest kept', () => {
    const { agents, recycling, clock } = recyclingOf(3, 3, { recycleMaxTurns: 1 });
    const [first, second, third] = agents.values();
    // Automatic recycles stamp their positions' histories: the stamps tell the three apart.
    for (const [agent, at] of [[first, 100], [second, 200], [third, 300]] as const) {
      clock.advance(at - clock.monotonicNow());
      agent.recycleAfterLease('turns');
      assert.equal(recycling.recycle(agent, 'turns'), true);
    }
    assert.equal(recycling.waitingHistories, 3);
    recycling.fitWaitingHistories(2);
    assert.equal(recycling.waitingHistories, 2, 'one position fewer can come back');
    assert.deepEqual(recycling.takeHistory(), [200], 'the oldest went, the next oldest is taken first');
    recycling.fitWaitingHistories(-1);
    assert.equal(recycling.waitingHistories, 0);
    assert.deepEqual(recycling.takeHistory(), [], 'nothing left: a new position starts its own');
  });
});

describe('recycled positions when a real pool shrinks (real demo agents)', function () {
  this.timeout(30_000);
  afterEach(closeAll);

  it('a pool scaled down while its agents recycle keeps only the histories its new maximum can refill', async () => {
    const pool = demoPool({ minAgents: 3, maxAgents: 3, autoscale: false });
    await pool.start();
    const recycling = (pool as unknown as { recycling: Recycling }).recycling;
    const ids = pool.snapshot().agents.map((agent) => agent.id);
    const stopped = ids.map((id) => nextEvent(pool, 'agent-state', (e) => e.agentId === id && e.to === 'stopped'));
    for (const id of ids) pool.recycleAgent(id);
    pool.scale({ minAgents: 1, maxAgents: 1 });
    assert.ok(recycling.waitingHistories <= 1, `at most one position can be refilled, ${recycling.waitingHistories} histories wait`);
    await Promise.all(stopped);
    await nextEvent(pool, 'agent-state', (e) => !ids.includes(e.agentId) && e.to === 'idle');
    assert.equal(recycling.waitingHistories, 0, 'the one replacement took the one history kept');
    assert.equal(pool.snapshot().agents.filter((agent) => agent.state === 'idle').length, 1);
  });
});

describe('the recycle monitor keeps its own samples', function () {
  this.timeout(30_000);
  afterEach(closeAll);

  it('by agent id, shown as the agent memory, and dropped once the agent is gone', async () => {
    const clock = new ManualClock();
    const pool = demoPool({ clock, minAgents: 2, maxAgents: 2, autoscale: false, recycleMaxAgeMs: 0, recycleMaxTurns: 0, recycleMaxMemoryBytes: 1024 ** 4, memorySampleIntervalMs: 1_000,
      // The real pids, a made-up size: no wait on /proc reads under an injected clock.
      sampleMemory: (pid) => Promise.resolve(1_000_000 + pid),
    });
    await pool.start();
    const recycling = (pool as unknown as { recycling: Recycling }).recycling;
    const [gone, staying] = pool.snapshot().agents;
    await clock.advanceSettled(1_000);
    assert.equal(recycling.sampledAgents, 2);
    for (const agent of pool.snapshot().agents) assert.equal(agent.rssBytes, 1_000_000 + agent.pid!, `${agent.id} shows the memory the monitor sampled`);
    assert.equal(Object.prototype.hasOwnProperty.call(pool.agents.get(gone.id), 'rssBytes'), false, 'nothing sampled is written on the agent');

    pool.scale({ minAgents: 1, maxAgents: 1 });
    await nextEvent(pool, 'agent-state', (e) => e.to === 'stopped');
    const left = pool.snapshot().agents.map((agent) => agent.id);
    assert.equal(left.length, 1);
    await clock.advanceSettled(1_000);
    assert.equal(recycling.sampledAgents, 1, 'the stopped agent samples went with it');
    assert.ok([gone.id, staying.id].includes(left[0]));
  });
});

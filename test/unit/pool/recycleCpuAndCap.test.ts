import assert from 'node:assert/strict';
import { closeAll, demoPool, isAlive, nextEvent, recordEvents } from './helpers';
import { ManualClock } from '../../fixtures/manualClock';
import { recordCpuSample, recycleCap, RECYCLE_CAP_WINDOW_MS, type ProcessSamples, type RecyclableAgent } from '../../../src/core/pool/policies/recycler';
import { describePoolEvent } from '../../../src/core/service/activityLog';

const NO_OTHER_LIMITS = { recycleMaxAgeMs: 0, recycleMaxTurns: 0, recycleMaxMemoryBytes: 0 };

describe('recycling an agent that spins while idle (real demo agents, real CPU)', function () {
  this.timeout(30_000);
  afterEach(closeAll);

  it('replaces the idle agent whose process tree keeps the CPU busy, and leaves its sleeping neighbour alone', async () => {
    // Three spinning threads, so the share stays far above 10% of a core even on a loaded two-core machine;
    // an idle Node agent uses well under 1%.
    const pool = demoPool({ minAgents: 2, maxAgents: 2, autoscale: false, ...NO_OTHER_LIMITS, recycleMaxIdleCpuPercent: 10, recycleIdleCpuWindowMs: 1_000, memorySampleIntervalMs: 100 });
    await pool.start();
    const events = recordEvents(pool);
    const [runaway, sleeper] = pool.snapshot().agents;
    const lease = await pool.acquire({ agentId: runaway.id });
    assert.equal((await lease.prompt('/demo spin=3\nbusy from now on')).text, 'busy from now on');
    const recycled = nextEvent(pool, 'recycle', undefined, 20_000);
    lease.release();

    assert.deepEqual(await recycled, { type: 'recycle', agentId: runaway.id, profile: 'demo', reason: 'cpu' });
    await nextEvent(pool, 'agent-state', (e) => e.agentId === runaway.id && e.to === 'stopped');
    assert.equal(isAlive(runaway.pid!), false, 'the spinning process is gone');
    // The sleeper idled through the same full windows and was judged on them: it stays.
    assert.equal(events.filter((e) => e.type === 'recycle' && e.agentId === sleeper.id).length, 0);
    assert.equal(pool.agents.get(sleeper.id)?.pid, sleeper.pid);
    assert.ok(isAlive(sleeper.pid!));
  });
});

describe('the cap on recycles of one pool position per hour (real demo agents, injected clock)', function () {
  this.timeout(30_000);
  afterEach(closeAll);

  it('stops a recycle loop across new ids, keeps the agent serving, says which limit keeps firing, and resumes after the hour', async () => {
    const clock = new ManualClock();
    // Every fresh demo agent is over a 1 MB memory limit at its first sample: without the cap, a loop for ever.
    const pool = demoPool({
      clock,
      minAgents: 1,
      maxAgents: 1,
      autoscale: false,
      ...NO_OTHER_LIMITS,
      recycleMaxMemoryBytes: 1024 * 1024,
      memorySamplesOverLimit: 1,
      memorySampleIntervalMs: 1_000,
      recycleMaxPerHour: 3,
    });
    await pool.start();
    const events = recordEvents(pool);
    const recycledIds: string[] = [];
    for (let i = 0; i < 3; i++) {
      const recycled = nextEvent(pool, 'recycle');
      await clock.advanceSettled(1_000);
      const { agentId, reason } = await recycled;
      assert.equal(reason, 'memory');
      recycledIds.push(agentId);
      await nextEvent(pool, 'agent-state', (e) => e.agentId !== agentId && e.to === 'idle');
    }
    assert.equal(new Set(recycledIds).size, 3, 'each recycle replaced the agent under a new id');

    const capped = nextEvent(pool, 'recycle-capped');
    await clock.advanceSettled(1_000);
    const held = await capped;
    const keeper = pool.snapshot().agents[0];
    assert.equal(held.agentId, keeper.id);
    assert.equal(held.reason, 'memory');
    assert.equal(held.count, 3);
    const line = describePoolEvent(held, () => 'HH:MM');
    assert.equal(line?.level, 'warn');
    assert.match(line!.message, /agentPool\.recycle\.maxMemoryMB/);
    assert.match(line!.message, /3 times within an hour, the most agentPool\.recycle\.maxPerHour allows/);

    // Held: more samples over the limit recycle nothing and repeat nothing, and the agent still serves.
    for (let i = 0; i < 5; i++) await clock.advanceSettled(1_000);
    assert.equal(events.filter((e) => e.type === 'recycle').length, 3);
    assert.equal(events.filter((e) => e.type === 'recycle-capped').length, 1, 'said once');
    assert.equal((await pool.run('still here')).agentId, keeper.id);
    assert.ok(isAlive(keeper.pid!));

    // An hour after the first of the three, the window has room again.
    const resumed = nextEvent(pool, 'recycle');
    await clock.advanceSettled(RECYCLE_CAP_WINDOW_MS);
    assert.deepEqual(await resumed, { type: 'recycle', agentId: keeper.id, profile: 'demo', reason: 'memory' });
  });

  it('never holds back a recycle the user asks for', async () => {
    const pool = demoPool({ minAgents: 1, maxAgents: 1, autoscale: false, ...NO_OTHER_LIMITS, recycleMaxPerHour: 1 });
    await pool.start();
    for (let i = 0; i < 3; i++) {
      const [agent] = pool.snapshot().agents;
      const recycled = nextEvent(pool, 'recycle');
      const replaced = nextEvent(pool, 'agent-state', (e) => e.agentId !== agent.id && e.to === 'idle');
      pool.recycleAgent(agent.id);
      assert.equal((await recycled).reason, 'manual');
      await replaced;
    }
  });
});

describe('recycling policies (pure)', () => {
  const limits = { recycleMaxAgeMs: 0, recycleMaxTurns: 0, recycleMaxMemoryBytes: 0, memorySamplesOverLimit: 1, recycleMaxIdleCpuPercent: 50, recycleIdleCpuWindowMs: 10_000 };
  const idleAgent = (): RecyclableAgent & ProcessSamples => ({
    state: 'idle',
    pid: 1,
    processTurns: 0,
    startedMonotonic: 1,
    recyclePending: undefined,
    lastReleasedAt: 0,
    rssBytes: undefined,
    samplesOverMemoryLimit: 0,
    idleCpuSamples: [],
    idleCpuPercent: undefined,
  });

  it('judges idle CPU only over a full window, sliding, and starts over after a turn or a counter that went back', () => {
    const agent = idleAgent();
    recordCpuSample(agent, agent, 0, 1_000, limits);
    recordCpuSample(agent, agent, 4_000, 9_000, limits);
    assert.equal(agent.idleCpuPercent, undefined, 'not judged before a full window');
    recordCpuSample(agent, agent, 6_000, 11_000, limits);
    assert.equal(agent.idleCpuPercent, 60);
    // Sliding: the early samples leave the window; the last 10 s used 0.5 s of CPU.
    recordCpuSample(agent, agent, 6_500, 21_000, limits);
    assert.equal(agent.idleCpuPercent, 5);

    const worked = { ...idleAgent(), lastReleasedAt: 0 };
    recordCpuSample(worked, worked, 0, 1_000, limits);
    Object.assign(worked, { lastReleasedAt: 5_000 });
    recordCpuSample(worked, worked, 9_000, 11_000, limits);
    assert.equal(worked.idleCpuPercent, undefined, 'a turn since the window opened starts it over');
    assert.deepEqual(worked.idleCpuSamples, [{ at: 11_000, cpuMs: 9_000 }]);

    recordCpuSample(agent, agent, 100, 22_000, limits);
    assert.deepEqual(agent.idleCpuSamples, [{ at: 22_000, cpuMs: 100 }], 'a child exited: the sum went back, so start over');
    Object.assign(agent, { state: 'busy' });
    recordCpuSample(agent, agent, 200, 23_000, limits);
    assert.deepEqual(agent.idleCpuSamples, [], 'a busy agent is not sampled');
  });

  it('caps recycles in a rolling hour and says when the oldest leaves it', () => {
    const hour = RECYCLE_CAP_WINDOW_MS;
    assert.deepEqual(recycleCap([1, 2], 3, 3), { recent: [1, 2] });
    assert.deepEqual(recycleCap([1, 2, 3], 4, 3), { recent: [1, 2, 3], blockedUntil: 1 + hour });
    assert.deepEqual(recycleCap([1, 2, 3], 1 + hour, 3), { recent: [2, 3] }, 'the first left the window');
    assert.deepEqual(recycleCap([1, 2, 3, 4, 5], 6, 0), { recent: [1, 2, 3, 4, 5] }, '0: no cap');
  });
});

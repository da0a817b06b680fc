import assert from 'node:assert/strict';
import { Emitter, waitForEvent } from '../../../src/core/common/event';
import { sampleProcessTreeRss } from '../../../src/core/process/tree';
import { closeAll, demoPool, isAlive, nextEvent, recordEvents, timersBesidesWatchdog } from './helpers';
import { ManualClock } from './manualClock';

describe('agent pool with real demo agents: recycling, scaling, restarts', function () {
  this.timeout(20_000);
  afterEach(closeAll);

  it('recycles an agent after maxTurns and serves on from a fresh process', async () => {
    const pool = demoPool({ minAgents: 1, maxAgents: 1, recycleMaxTurns: 2 });
    await pool.start();
    const first = pool.snapshot().agents[0];
    const recycled = nextEvent(pool, 'recycle');
    await pool.run('one');
    await pool.run('two');
    assert.deepEqual(await recycled, { type: 'recycle', agentId: first.id, profile: 'demo', reason: 'turns' });
    const third = await pool.run('three');
    assert.notEqual(third.agentId, first.id);
    assert.equal(isAlive(first.pid!), false);
  });

  it('recycles by process-tree memory only after several samples over the limit, and never mid-lease', async () => {
    const samples = new Emitter<{ pid: number; rss: number | undefined }>();
    const pool = demoPool({
      minAgents: 1,
      maxAgents: 1,
      recycleMaxMemoryBytes: 130 * 1024 * 1024,
      memorySamplesOverLimit: 3,
      memorySampleIntervalMs: 40,
      sampleMemory: async (pid) => {
        const rss = await sampleProcessTreeRss(pid);
        samples.fire({ pid, rss });
        return rss;
      },
    });
    await pool.start();
    const events = recordEvents(pool);
    const agent = pool.snapshot().agents[0];
    const lease = await pool.acquire();
    await lease.prompt('/demo memory=120\ngrow');
    let overLimit = 0;
    await waitForEvent(samples.event, ({ rss }) => (rss ?? 0) > 130 * 1024 * 1024 && ++overLimit >= 4, 10_000);
    assert.equal(events.filter((e) => e.type === 'recycle').length, 0, 'no recycle while the lease is held');
    assert.equal(pool.snapshot().agents[0].state, 'busy');
    const recycled = nextEvent(pool, 'recycle');
    lease.release();
    assert.equal((await recycled).reason, 'memory');
    await nextEvent(pool, 'agent-state', (e) => e.agentId === agent.id && e.to === 'stopped');
    assert.equal(isAlive(agent.pid!), false);
    const transitions = events.filter((e) => e.type === 'agent-state' && e.agentId === agent.id).map((e) => (e.type === 'agent-state' ? e.to : ''));
    assert.deepEqual(transitions, ['busy', 'recycling', 'stopped']);
  });

  it('scales up for queued work and down after utilization stays low for the idle timeout', async () => {
    const clock = new ManualClock();
    const pool = demoPool({ clock, minAgents: 1, maxAgents: 3, scaleDownAfterMs: 60_000, recycleMaxMemoryBytes: 0, recycleMaxAgeMs: 0 });
    await pool.start();
    const scale: Array<{ direction: string; to: number; at?: number }> = [];
    pool.onDidEvent((e) => e.type === 'scale' && scale.push({ direction: e.direction, to: e.to, at: e.at }));
    const leases = await Promise.all([pool.acquire(), pool.acquire(), pool.acquire()]);
    assert.equal(new Set(leases.map((l) => l.agentId)).size, 3);
    assert.deepEqual(scale.map((s) => `${s.direction}:${s.to}`), ['up:2', 'up:3']);
    for (const lease of leases) lease.release();
    const downs = () => scale.filter((s) => s.direction === 'down').length;
    clock.advance(59_999);
    assert.equal(downs(), 0, 'not before the idle timeout');
    const firstDown = nextEvent(pool, 'agent-state', (e) => e.to === 'stopped');
    clock.advance(1);
    await firstDown;
    const secondDown = nextEvent(pool, 'agent-state', (e) => e.to === 'stopped');
    clock.advance(60_000);
    await secondDown;
    clock.advance(60_000);
    assert.deepEqual(scale.filter((s) => s.direction === 'down').map((s) => s.to), [2, 1]);
    assert.ok(scale.every((s) => typeof s.at === 'number'));
    assert.equal(pool.snapshot().agents.length, 1, 'never below minAgents');
  });

  it('lowers maxAgents without counting agents already on their way out', async () => {
    const pool = demoPool({ minAgents: 3, maxAgents: 3, autoscale: false });
    await pool.start();
    const lease = await pool.acquire();
    pool.stopAgent(lease.agentId);
    assert.equal(pool.snapshot().agents.find((a) => a.id === lease.agentId)?.state, 'draining');
    const events = recordEvents(pool);
    pool.scale({ minAgents: 2, maxAgents: 2 });
    assert.deepEqual(events.filter((e) => e.type === 'scale'), [], 'two agents stay, the draining one is already leaving');
    const gone = nextEvent(pool, 'agent-state', (e) => e.agentId === lease.agentId && e.to === 'stopped');
    lease.release();
    await gone;
    assert.deepEqual(pool.snapshot().agents.map((a) => a.state), ['idle', 'idle']);
  });

  it('stops a crashed agent waiting out its restart backoff for good', async () => {
    const clock = new ManualClock();
    const pool = demoPool({ clock, rng: () => 1, minAgents: 1, maxAgents: 1, restartBaseDelayMs: 60_000, restartMaxDelayMs: 60_000, recycleMaxMemoryBytes: 0, recycleMaxAgeMs: 0 });
    await pool.start();
    const [crashing] = pool.snapshot().agents;
    const backAfterFirstCrash = nextEvent(pool, 'agent-state', (e) => e.agentId === crashing.id && e.to === 'idle');
    await assert.rejects(pool.run('/demo crash\nfirst'));
    await backAfterFirstCrash;
    const backoff = nextEvent(pool, 'restart', (e) => e.attempt === 2);
    await assert.rejects(pool.run('/demo crash\nsecond in a row'));
    assert.equal((await backoff).delayMs, 60_000);
    const replacement = nextEvent(pool, 'agent-state', (e) => e.agentId !== crashing.id && e.to === 'idle');
    pool.stopAgent(crashing.id);
    await replacement;
    assert.deepEqual(timersBesidesWatchdog(clock), [], 'the backoff is over');
    assert.deepEqual(pool.snapshot().agents.map((a) => a.id === crashing.id), [false], 'a new agent keeps minAgents; the stopped one is gone');
    clock.advance(60_000);
    assert.equal(pool.snapshot().agents.length, 1, 'and it does not come back');
  });

  it('restarts crashed agents one at a time per profile, backing off the second crash in a row', async () => {
    const clock = new ManualClock();
    const pool = demoPool({ clock, rng: () => 0, minAgents: 2, maxAgents: 2, restartBaseDelayMs: 1000, recycleMaxMemoryBytes: 0, recycleMaxAgeMs: 0 });
    await pool.start();
    const restarts: Array<{ agentId: string; attempt: number; delayMs: number }> = [];
    pool.onDidEvent((e) => e.type === 'restart' && restarts.push({ agentId: e.agentId, attempt: e.attempt, delayMs: e.delayMs }));
    let stopped = 0;
    const bothStopped = waitForEvent(pool.onDidEvent, (e) => e.type === 'agent-state' && e.to === 'stopped' && ++stopped === 2);
    const [a, b] = await Promise.all([pool.acquire(), pool.acquire()]);
    const firstReady = nextEvent(pool, 'agent-state', (e) => e.to === 'idle');
    const secondRestart = nextEvent(pool, 'restart', (e) => e.attempt === 2);
    await Promise.allSettled([a.prompt('/demo crash\nx'), b.prompt('/demo crash\ny')]);
    await bothStopped;
    assert.equal(restarts.length, 1, 'the second restart waits for the first');
    assert.deepEqual([restarts[0].attempt, restarts[0].delayMs], [1, 0]);
    await firstReady;
    await secondRestart;
    assert.equal(restarts.length, 2);
    assert.notEqual(restarts[0].agentId, restarts[1].agentId);
    // rng 0: the lower bound of the equal-jitter window, half the base delay.
    assert.equal(restarts[1].delayMs, 500);
    assert.deepEqual(timersBesidesWatchdog(clock), [500]);
    const secondReady = nextEvent(pool, 'agent-state', (e) => e.agentId === restarts[1].agentId && e.to === 'idle');
    clock.advance(500);
    await secondReady;
  });
});

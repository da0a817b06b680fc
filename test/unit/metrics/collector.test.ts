import assert from 'node:assert/strict';
import { MetricsCollector } from '../../../src/core/metrics/collector';
import { Histogram } from '../../../src/core/metrics/histogram';
import { FakePool } from './fakePool';
import { ManualClock } from './manualClock';

describe('MetricsCollector', () => {
  it('counts prompts per agent and per pool by outcome, with latency histograms, tokens and cost', () => {
    const clock = new ManualClock();
    const pool = new FakePool('demo');
    const collector = new MetricsCollector({ instanceId: 'w1', clock });
    collector.attach(pool);
    pool.emit({ type: 'agent-spawned', agentId: 'a1', profile: 'demo', pid: 4242, startMs: 80 });
    pool.turn('a1', 100, { firstEventMs: 10, usage: { inputTokens: 50, outputTokens: 7, costUsd: 0.01 } });
    pool.turn('a1', 300, { outcome: 'failed', firstEventMs: 30 });
    pool.turn('a2', 200, { outcome: 'timed-out' });
    pool.turn('a2', 50, { outcome: 'cancelled', usage: { inputTokens: 5 } });
    pool.setAgents([
      { id: 'a1', state: 'busy', pid: 4242, rssBytes: 1_000_000, startedAt: clock.wallNow() - 5000 },
      { id: 'a2', state: 'idle', restarts: 2 },
      { id: 'a3', state: 'starting' },
    ]);

    const snapshot = collector.snapshot();
    const [demo] = snapshot.pools;
    assert.ok(demo);
    assert.deepEqual(demo.agents, { starting: 1, idle: 1, busy: 1, total: 3 });
    assert.equal(demo.utilization, 1 / 3);
    assert.equal(demo.spawned, 1);
    assert.deepEqual(
      [demo.prompts.total, demo.prompts.succeeded, demo.prompts.failed, demo.prompts.timedOut, demo.prompts.cancelled],
      [4, 1, 1, 1, 1],
    );
    assert.equal(demo.prompts.inputTokens, 55);
    assert.equal(demo.prompts.outputTokens, 7);
    assert.equal(demo.prompts.costUsd, 0.01);
    assert.equal(demo.prompts.firstEventMs.count, 2);
    const completion = Histogram.fromData(demo.prompts.completionMs).summary();
    // Issue 15: the cancelled turn (50 ms) ended when someone said stop; it is not a latency.
    assert.equal(completion.count, 3, 'a cancelled turn was counted in the latency');
    assert.equal(completion.min, 100);
    assert.equal(completion.max, 300);
    assert.equal(completion.avg, 200);

    const a1 = snapshot.agents.find((agent) => agent.id === 'a1')!;
    assert.equal(a1.state, 'busy');
    assert.equal(a1.pid, 4242);
    assert.equal(a1.rssBytes, 1_000_000);
    assert.equal(a1.uptimeMs, 5000);
    assert.equal(a1.prompts.total, 2);
    assert.equal(a1.errorRate, 0.5);
    const a2 = snapshot.agents.find((agent) => agent.id === 'a2')!;
    assert.equal(a2.errorRate, 0.5, 'timed out counts as an error, cancelled does not');
    assert.equal(a2.restarts, 2);
    assert.ok(snapshot.agents.some((agent) => agent.id === 'a3' && agent.state === 'starting'));
  });

  it('keeps pool events: queue wait, scale direction and time, circuit, restarts, recycles, exits', () => {
    const clock = new ManualClock();
    const pool = new FakePool('codex');
    const collector = new MetricsCollector({ instanceId: 'w1', clock });
    collector.attach(pool);
    pool.emit({ type: 'queue', profile: 'codex', depth: 3 });
    pool.emit({ type: 'queue', profile: 'codex', depth: 2, waitedMs: 120 });
    pool.emit({ type: 'scale', profile: 'codex', direction: 'up', from: 1, to: 2, reason: 'queue' });
    clock.advance(1000);
    pool.emit({ type: 'scale', profile: 'codex', direction: 'down', from: 2, to: 1, reason: 'idle', at: 42 });
    pool.emit({ type: 'circuit', profile: 'codex', state: 'open', reason: 'spawn failures' });
    pool.emit({ type: 'restart', agentId: 'a1', profile: 'codex', attempt: 1, delayMs: 100 });
    pool.emit({ type: 'recycle', agentId: 'a1', profile: 'codex', reason: 'turns' });
    pool.emit({ type: 'agent-exited', agentId: 'a1', profile: 'codex', exitCode: 0, signal: null, expected: true });
    pool.state = { ...pool.state, queueDepth: 2, circuit: { state: 'open', reason: 'spawn failures' } };

    const [codex] = collector.snapshot().pools;
    assert.ok(codex);
    assert.equal(codex.queueDepth, 2);
    assert.equal(codex.queueWaitMs.count, 1);
    assert.equal(codex.scaleUps, 1);
    assert.equal(codex.scaleDowns, 1);
    assert.deepEqual(codex.lastScale, { direction: 'down', at: 42, from: 2, to: 1, reason: 'idle' });
    assert.deepEqual(codex.circuit, { state: 'open', reason: 'spawn failures' });
    assert.equal(codex.restarts, 1);
    assert.equal(codex.recycles, 1);
    assert.equal(codex.terminated, 1);
    const a1 = collector.snapshot().agents.find((agent) => agent.id === 'a1')!;
    assert.equal(a1.state, 'stopped');
    assert.equal(a1.recycles, 1);
  });

  it('keeps prompt figures and affinity per module pair and per session', () => {
    const pool = new FakePool();
    const collector = new MetricsCollector({ instanceId: 'w1', clock: new ManualClock() });
    collector.attach(pool);
    const pair = { sourceModule: 'src/ui', targetModule: 'src/core' };
    pool.turn('a1', 10, { ...pair, sessionKey: 's1' });
    pool.turn('a1', 20, { ...pair, sessionKey: 's1' });
    pool.turn('a2', 30, { ...pair, sessionKey: 's1' });
    pool.turn('a2', 40, { ...pair, sessionKey: 's2', outcome: 'failed' });
    const snapshot = collector.snapshot();
    assert.equal(snapshot.pairs.length, 1);
    const [uiToCore] = snapshot.pairs;
    assert.equal(uiToCore!.source, 'src/ui');
    assert.equal(uiToCore!.target, 'src/core');
    assert.equal(uiToCore!.prompts.total, 4);
    assert.equal(uiToCore!.prompts.failed, 1);
    assert.equal(uiToCore!.affinity, 2 / 3, 'a1→a1 and a2→a2 stayed, a1→a2 moved');
    const s1 = snapshot.sessions.find((session) => session.key === 's1')!;
    assert.equal(s1.prompts.total, 3);
    assert.equal(s1.affinity, 1 / 2);
    assert.equal(snapshot.sessions.find((session) => session.key === 's2')!.affinity, 0);
  });

  it('forgets the least recently used keys beyond the limit', () => {
    const pool = new FakePool();
    const collector = new MetricsCollector({ instanceId: 'w1', clock: new ManualClock(), maxKeys: 2 });
    collector.attach(pool);
    for (const session of ['s1', 's2', 's1', 's3']) pool.turn('a1', 10, { sessionKey: session });
    assert.deepEqual(collector.snapshot().sessions.map((s) => s.key).sort(), ['s1', 's3']);
  });

  it('carries the counters of the previous instance on, but not its agents', () => {
    const pool = new FakePool();
    const before = new MetricsCollector({ instanceId: 'old', workspaceKey: 'ws', clock: new ManualClock() });
    before.attach(pool);
    pool.turn('a1', 100, { sessionKey: 's1', usage: { outputTokens: 9 } });
    pool.emit({ type: 'scale', profile: 'demo', direction: 'up', from: 0, to: 1, reason: 'start' });
    const previous = JSON.parse(JSON.stringify(before.state()));
    before.dispose();

    const after = new MetricsCollector({ instanceId: 'new', workspaceKey: 'ws', clock: new ManualClock(), restored: previous });
    const pool2 = new FakePool();
    after.attach(pool2);
    pool2.turn('b1', 300, { sessionKey: 's1' });
    const snapshot = after.snapshot();
    assert.equal(snapshot.continuesInstanceId, 'old');
    assert.equal(snapshot.workspaceKey, 'ws');
    const [demo] = snapshot.pools;
    assert.equal(demo!.prompts.total, 2);
    assert.equal(demo!.prompts.outputTokens, 9);
    assert.equal(demo!.prompts.completionMs.count, 2);
    assert.equal(demo!.scaleUps, 1);
    assert.equal(snapshot.sessions[0]!.prompts.total, 2);
    assert.equal(snapshot.sessions[0]!.prompts.completionMs.max, 300);
    assert.equal(snapshot.sessions[0]!.prompts.completionMs.min, 100, 'the session latency carried on');
    assert.deepEqual(snapshot.agents.map((agent) => agent.id), ['b1']);
  });

  it('fires onDidChange per event and stops listening when detached', () => {
    const pool = new FakePool();
    const collector = new MetricsCollector({ instanceId: 'w1', clock: new ManualClock() });
    let changes = 0;
    collector.onDidChange(() => changes++);
    const attachment = collector.attach(pool);
    pool.turn('a1', 1);
    attachment.dispose();
    pool.turn('a1', 1);
    assert.equal(changes, 2, 'one for attach, one for the first turn');
    assert.equal(collector.snapshot().pools[0]!.prompts.total, 1);
  });

  it('accepts a pool manager that returns one snapshot per pool', () => {
    const a = new FakePool('claude');
    const b = new FakePool('codex');
    a.setAgents([{ id: 'c1', state: 'idle' }]);
    b.setAgents([{ id: 'x1', state: 'busy' }, { id: 'x2', state: 'busy' }]);
    const manager = { onDidEmit: a.onDidEmit, snapshot: () => [a.snapshot(), b.snapshot()] };
    const collector = new MetricsCollector({ instanceId: 'w1', clock: new ManualClock() });
    collector.attach(manager);
    const pools = collector.snapshot().pools;
    assert.deepEqual(pools.map((p) => [p.profile, p.agents.total, p.agents.busy]).sort(), [['claude', 1, 0], ['codex', 2, 2]]);
  });
});

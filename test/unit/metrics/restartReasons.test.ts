import assert from 'node:assert/strict';
import { emptySkippedFiles, type WindowMetrics } from '../../../src/core/metrics/aggregate';
import { aggregateTotals } from '../../../src/core/metrics/runningTotals';
import { MetricsCollector } from '../../../src/core/metrics/collector';
import { toPrometheus } from '../../../src/core/metrics/prometheus';
import type { InstanceRecord } from '../../../src/core/registry/types';
import { closeAll, demoPool, nextEvent } from '../pool/helpers';
import { parsePrometheus } from './prometheusParser';

function exposition(collector: MetricsCollector) {
  const window: WindowMetrics = {
    id: 'w1', health: 'live', heartbeatAgeMs: 0, isSelf: true, snapshotStale: false, superseded: false,
    record: { id: 'w1' } as InstanceRecord, snapshot: collector.snapshot(),
  };
  const windows = [window];
  return parsePrometheus(toPrometheus({ generatedAt: 0, selfId: 'w1', windows, totals: aggregateTotals(windows, 'w1'), skipped: emptySkippedFiles() }));
}

describe('restarts counted by reason with real demo agents', function () {
  this.timeout(20_000);
  afterEach(closeAll);

  it('counts a crash, a user restart and a recycle, each under its own reason label in Prometheus', async () => {
    const pool = demoPool({ minAgents: 1, maxAgents: 1, autoscale: false, recycleMaxMemoryBytes: 0, recycleMaxAgeMs: 0 });
    const collector = new MetricsCollector({ instanceId: 'w1' });
    collector.attach({ onDidEmit: pool.onDidEvent, snapshot: () => pool.snapshot() });
    await pool.start();
    const agent = pool.snapshot().agents[0];

    const crashRestarted = nextEvent(pool, 'agent-state', (e) => e.agentId === agent.id && e.to === 'idle');
    process.kill(agent.pid!, 'SIGKILL');
    await crashRestarted;
    await pool.restartAgent(agent.id);
    const recycled = nextEvent(pool, 'agent-state', (e) => e.agentId !== agent.id && e.to === 'idle');
    pool.recycleAgent(agent.id);
    await recycled;

    const [metrics] = collector.snapshot().pools;
    assert.deepEqual(metrics.restartsByReason, { crash: 1, user: 1, recycle: 1 });
    assert.equal(metrics.restarts, 1, '`restarts` still counts crash restarts');
    const samples = exposition(collector).samples.filter((s) => s.name === 'agent_pool_agent_restarts_total');
    assert.deepEqual(
      samples.map((s) => [s.labels.reason, s.value]),
      [
        ['crash', 1],
        ['user', 1],
        ['recycle', 1],
      ],
    );

    // A reload carries the split on; a state from before the split reads its old counters as crashes and recycles.
    const restored = new MetricsCollector({ instanceId: 'w2', restored: collector.state() });
    assert.deepEqual(restored.snapshot().pools[0].restartsByReason, { crash: 1, user: 1, recycle: 1 });
    const old = collector.state();
    for (const p of old.pools) delete p.restartsByReason;
    assert.deepEqual(new MetricsCollector({ instanceId: 'w3', restored: old }).snapshot().pools[0].restartsByReason, { crash: 1, user: 0, recycle: 1 });
  });
});

import assert from 'node:assert/strict';
import { emptySkippedFiles, type AggregateView, type WindowMetrics } from '../../../src/core/metrics/aggregate';
import { aggregateTotals } from '../../../src/core/metrics/runningTotals';
import { MetricsCollector } from '../../../src/core/metrics/collector';
import { formatCompact, formatDuration, formatFull, formatPercent } from '../../../src/core/metrics/formats';
import { toPrometheus } from '../../../src/core/metrics/prometheus';
import type { InstanceRecord } from '../../../src/core/registry/types';
import { FakePool } from './fakePool';
import { ManualClock } from './manualClock';
import { parsePrometheus } from './prometheusParser';

function viewOf(windows: WindowMetrics[], selfId?: string): AggregateView {
  return { generatedAt: 0, selfId, windows, totals: aggregateTotals(windows, selfId), skipped: emptySkippedFiles() };
}

function windowWith(id: string, profile: string, turns: number[], busy = 1): WindowMetrics {
  const pool = new FakePool(profile);
  const collector = new MetricsCollector({ instanceId: id, clock: new ManualClock() });
  collector.attach(pool);
  pool.setAgents([...Array.from({ length: busy }, (_, i) => ({ id: `b${i}`, state: 'busy' as const })), { id: 'i', state: 'idle' }]);
  turns.forEach((ms, i) => pool.turn('a', ms, i === 0 ? { outcome: 'failed' } : {}));
  return {
    id, health: 'live', heartbeatAgeMs: 0, isSelf: false, snapshotStale: false, superseded: false,
    record: { id } as InstanceRecord, snapshot: collector.snapshot(),
  };
}

describe('metrics formats', () => {
  it('renders the full and compact lines from merged figures', () => {
    const here = windowWith('w1', 'demo', Array.from({ length: 200 }, () => 1400), 2);
    const other = windowWith('w2', 'demo', [100], 0);
    const view = viewOf([here, other], 'w1');
    assert.equal(formatFull(view), 'Agents: 3/4 (2) | Busy: 2 | p95: 1.4s | Errors: 1%');
    assert.equal(formatCompact(view), 'A:3/4(2)');
    assert.equal(formatCompact(viewOf([here, other])), 'A:4(2)');
  });

  it('writes durations and percentages for people', () => {
    assert.deepEqual([0, 850.4, 1000, 1449, 12_345, 150_000, 7_200_000].map(formatDuration), ['0ms', '850ms', '1s', '1.4s', '12s', '2.5m', '2h']);
    assert.deepEqual([0, 0.0004, 0.005, 0.0123, 0.5, 1].map(formatPercent), ['0%', '<0.1%', '0.5%', '1.2%', '50%', '100%']);
  });

  it('escapes label values so any profile name parses back unchanged', () => {
    const profile = 'we"ird\\name\nwith newline';
    const exposition = parsePrometheus(toPrometheus(viewOf([windowWith('w"1', profile, [5, 50, 500])])));
    const prompts = exposition.samples.filter((s) => s.name === 'agent_pool_prompts_total');
    assert.ok(prompts.length > 0);
    for (const sample of prompts) {
      assert.equal(sample.labels.profile, profile);
      assert.equal(sample.labels.window, 'w"1');
    }
    assert.equal(exposition.types.get('agent_pool_prompt_duration_seconds'), 'histogram');
    assert.equal(exposition.help.get('agent_pool_prompts_total'), 'Prompts finished, by outcome.');
  });

  it('exports a reloaded window\'s counters once and leaves dead windows out', () => {
    const old = { ...windowWith('old', 'demo', [10, 20]), superseded: true };
    const dead = { ...windowWith('dead', 'demo', [10]), health: 'dead' as const };
    const exposition = parsePrometheus(toPrometheus(viewOf([old, dead, windowWith('new', 'demo', [30])])));
    const prompts = exposition.samples.filter((s) => s.name === 'agent_pool_prompts_total');
    assert.deepEqual([...new Set(prompts.map((s) => s.labels.window))], ['new']);
    const gauges = exposition.samples.filter((s) => s.name === 'agent_pool_agents');
    assert.deepEqual([...new Set(gauges.map((s) => s.labels.window))].sort(), ['new', 'old']);
  });
});

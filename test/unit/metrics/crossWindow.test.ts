import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitForEvent } from '../../../src/core/common/event';
import type { AggregateView } from '../../../src/core/metrics/aggregate';
import { MetricsAggregator } from '../../../src/core/metrics/aggregator';
import { formatCompact, formatFull } from '../../../src/core/metrics/formats';
import { toPrometheus } from '../../../src/core/metrics/prometheus';
import { referenceQuantile } from '../../fixtures/metrics/samples';
import { FixtureWindow } from '../../fixtures/metrics/spawnWindow';
import { windowTurns, type WindowSpec } from '../../fixtures/metrics/windowSpec';
import { parsePrometheus } from './prometheusParser';

/** Four real processes act as windows; the aggregator in this process must add them up exactly. */
describe('cross-window metrics with real window processes', function () {
  this.timeout(60_000);
  let dir: string;
  let windows: FixtureWindow[] = [];
  let aggregator: MetricsAggregator;

  const specsFor = (base: string): WindowSpec[] => [
    { dir: base, id: '20250101_000000_1_aaaaaaaa', profile: 'demo', idle: 2, busy: 1, queued: 0, turns: 400, seed: 11, medianMs: 300 },
    { dir: base, id: '20250101_000000_2_bbbbbbbb', profile: 'demo', idle: 0, busy: 3, queued: 2, turns: 150, seed: 12, medianMs: 2500 },
    { dir: base, id: '20250101_000000_3_cccccccc', profile: 'codex', idle: 1, busy: 0, queued: 0, turns: 0, seed: 13, medianMs: 100 },
    { dir: base, id: '20250101_000000_4_dddddddd', profile: 'claude', idle: 4, busy: 2, queued: 5, turns: 60, seed: 14, medianMs: 40_000 },
  ];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ap-cross-'));
    windows = await Promise.all(specsFor(dir).map((spec) => FixtureWindow.start(spec)));
  });

  after(async () => {
    aggregator?.dispose();
    await Promise.all(windows.map((window) => window.kill()));
    rmSync(dir, { recursive: true, force: true });
  });

  function expectedSamples(specs: WindowSpec[]): number[] {
    return specs.flatMap((spec) => windowTurns(spec, spec.turns, spec.seed, spec.medianMs).map((turn) => turn.totalMs));
  }

  function assertTotals(view: AggregateView, specs: WindowSpec[]): void {
    const turns = specs.flatMap((spec) => windowTurns(spec, spec.turns, spec.seed, spec.medianMs));
    const totals = view.totals;
    assert.equal(totals.windows, specs.length);
    assert.equal(totals.agentsTotal, specs.reduce((sum, s) => sum + s.idle + s.busy, 0));
    assert.equal(totals.busy, specs.reduce((sum, s) => sum + s.busy, 0));
    assert.equal(totals.idle, specs.reduce((sum, s) => sum + s.idle, 0));
    assert.equal(totals.queued, specs.reduce((sum, s) => sum + s.queued, 0));
    assert.equal(totals.prompts.total, turns.length);
    assert.equal(totals.prompts.failed, turns.filter((t) => t.outcome === 'failed').length);
    assert.equal(totals.prompts.timedOut, turns.filter((t) => t.outcome === 'timed-out').length);
    assert.equal(totals.errorRate, turns.filter((t) => t.outcome !== 'succeeded').length / turns.length);
    assert.equal(totals.outputTokens, turns.length * 3);
    assert.equal(totals.inputTokens, turns.length * 10);
    const samples = expectedSamples(specs);
    for (const [q, got] of [[0.5, totals.completionMs.p50], [0.95, totals.completionMs.p95], [0.99, totals.completionMs.p99]] as const) {
      const reference = referenceQuantile(samples, q);
      assert.ok(Math.abs(got - reference) <= reference / 256 + 0.001, `p${q * 100}: merged ${got} vs raw ${reference}`);
    }
    assert.equal(totals.completionMs.max, Math.max(...samples));
  }

  it('adds every window up exactly, with percentiles merged from buckets', async () => {
    const specs = specsFor(dir);
    aggregator = new MetricsAggregator({ directory: dir, selfId: specs[1]!.id });
    const view = await aggregator.start();
    assert.deepEqual(view.windows.map((w) => w.health), ['live', 'live', 'live', 'live']);
    assertTotals(view, specs);
    assert.equal(view.totals.agentsHere, 3);
    assert.equal(view.skipped.total, 0);
    assert.equal(formatCompact(view), 'A:3/13(4)');
    assert.match(formatFull(view), /^Agents: 3\/13 \(4\) \| Busy: 6 \| Queued: 7 \| p95: [\d.]+(ms|s|m) \| Errors: \d+%$/);
  });

  it('exports Prometheus text that parses back to the same figures', () => {
    const view = aggregator.current;
    const specs = specsFor(dir);
    const exposition = parsePrometheus(toPrometheus(view));
    assert.equal(exposition.types.get('agent_pool_prompts_total'), 'counter');
    assert.equal(exposition.types.get('agent_pool_agents'), 'gauge');
    assert.equal(exposition.types.get('agent_pool_prompt_duration_seconds'), 'histogram');
    const sum = (name: string, match: Record<string, string> = {}) =>
      exposition.samples
        .filter((s) => s.name === name && Object.entries(match).every(([k, v]) => s.labels[k] === v))
        .reduce((total, s) => total + s.value, 0);
    assert.equal(sum('agent_pool_prompts_total'), view.totals.prompts.total);
    assert.equal(sum('agent_pool_prompts_total', { outcome: 'failed' }), view.totals.prompts.failed);
    assert.equal(sum('agent_pool_agents', { state: 'busy' }), view.totals.busy);
    assert.equal(sum('agent_pool_windows'), 4);
    for (const spec of specs) {
      const labels = { window: spec.id, profile: spec.profile };
      assert.equal(sum('agent_pool_prompt_duration_seconds_count', labels), spec.turns);
      assert.equal(sum('agent_pool_prompt_duration_seconds_bucket', { ...labels, le: '+Inf' }), spec.turns);
      const raw = windowTurns(spec, spec.turns, spec.seed, spec.medianMs).map((t) => t.totalMs);
      assert.ok(Math.abs(sum('agent_pool_prompt_duration_seconds_sum', labels) - raw.reduce((a, b) => a + b, 0) / 1000) < 1e-6);
      // A bucket holds every sample at or below its bound, give or take the samples in one fine bucket.
      for (const le of ['0.5', '5', '60']) {
        const exact = raw.filter((ms) => ms <= Number(le) * 1000).length;
        const near = raw.filter((ms) => Math.abs(ms - Number(le) * 1000) <= Number(le) * 1000 / 128).length;
        const got = sum('agent_pool_prompt_duration_seconds_bucket', { ...labels, le });
        assert.ok(Math.abs(got - exact) <= near, `le=${le}: ${got} vs ${exact} (±${near})`);
      }
    }
  });

  it('follows new work in another process through the file watcher', async () => {
    const [first] = windows;
    const changed = waitForEvent(aggregator.onDidChange, (view) => view.totals.prompts.total >= 660, 10_000);
    await first!.send({ cmd: 'turns', count: 50, seed: 99, medianMs: 10 });
    const view = await changed;
    assert.equal(view.totals.prompts.total, 660);
  });

  it('drops a window that leaves, and one whose process died without cleaning up', async () => {
    const [, second, third] = windows;
    const afterLeave = waitForEvent(aggregator.onDidChange, (view) => view.totals.windows === 3, 10_000);
    await second!.send({ cmd: 'leave' });
    const view = await afterLeave;
    assert.equal(view.totals.agentsHere, 0, 'the reader\'s own window is gone');
    assert.equal(view.totals.agentsTotal, 10);
    assert.equal(view.totals.prompts.total, 510);

    await third!.kill('SIGKILL');
    const afterDeath = await aggregator.refresh();
    assert.equal(afterDeath.windows.find((w) => w.id === third!.spec.id)?.health, 'dead');
    assert.equal(afterDeath.totals.windows, 2);
    assert.equal(afterDeath.totals.agentsTotal, 9);
  });
});

/**
 * The Prometheus text is checked by Prometheus's own `promtool check metrics` (Debian package
 * `prometheus`, installed by scripts/debian-packages.sh): the parser a scrape uses, plus its lint
 * rules. Empty histograms (a pool that ran nothing yet) and label values that need escaping (a profile
 * named with quotes, backslashes, a newline, non-ASCII) are the cases a hand-written exporter gets wrong.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { emptySkippedFiles, type AggregateView, type WindowMetrics } from '../../../src/core/metrics/aggregate';
import { MetricsCollector } from '../../../src/core/metrics/collector';
import { toPrometheus } from '../../../src/core/metrics/prometheus';
import { aggregateTotals } from '../../../src/core/metrics/runningTotals';
import type { InstanceRecord } from '../../../src/core/registry/types';
import { FakePool } from './fakePool';
import { ManualClock } from './manualClock';

const PROMTOOL = process.env.PROMTOOL ?? 'promtool';

function promtool(text: string): { status: number | null; output: string } {
  const result = spawnSync(PROMTOOL, ['check', 'metrics'], { input: text, encoding: 'utf8' });
  if (result.error) {
    throw new Error(`${PROMTOOL} could not run (${result.error.message}): install the Debian package prometheus with "bash scripts/debian-packages.sh ensure prometheus" (npm test does)`);
  }
  return { status: result.status, output: `${result.stdout}${result.stderr}`.trim() };
}

function windowOf(id: string, profile: string, turnsMs: number[], health: WindowMetrics['health'] = 'live'): WindowMetrics {
  const pool = new FakePool(profile);
  const collector = new MetricsCollector({ instanceId: id, clock: new ManualClock() });
  collector.attach(pool);
  pool.setAgents([{ id: `${profile}-1`, state: 'idle' }]);
  turnsMs.forEach((ms, i) => pool.turn(`${profile}-1`, ms, i === 1 ? { outcome: 'cancelled' } : {}));
  return { id, health, heartbeatAgeMs: 1500, isSelf: false, snapshotStale: false, superseded: false, record: { id } as InstanceRecord, snapshot: collector.snapshot() };
}

function viewOf(windows: WindowMetrics[]): AggregateView {
  return { generatedAt: 0, selfId: undefined, windows, totals: aggregateTotals(windows, undefined), skipped: emptySkippedFiles() };
}

describe('Prometheus text, checked by promtool check metrics', () => {
  it('passes with busy pools, an empty pool (empty histograms), odd label values and an unresponsive window', () => {
    const text = toPrometheus(
      viewOf([
        windowOf('20261202_140000_1_aaaaaaaa', 'demo', [5, 40, 400, 4000, 40_000]),
        windowOf('w"2\\x', 'we"ird\\name\nwith newline ünïcode {}=,', []),
        windowOf('w3', 'idle-only', [], 'unresponsive'),
      ]),
    );
    assert.match(text, /agent_pool_prompt_duration_seconds_count\{window="w\\"2\\\\x",profile="we\\"ird\\\\name\\nwith newline ünïcode \{\}=,"\} 0/);
    const { status, output } = promtool(text);
    assert.equal(status, 0, `promtool check metrics found problems:\n${output}\n--- the text ---\n${text}`);
    assert.equal(output, '', `promtool check metrics complained:\n${output}`);
  });

  it('passes with conversations and agents holding context, their names as people type them', () => {
    const window = windowOf('w-usage', 'demo', [5]);
    const conversation = (key: string, agentId: string | undefined) => ({ key, profile: 'demo', agentId, turns: 3, costUsd: 0.03, inputTokens: 12, outputTokens: 30, lastUsedAt: 1, contextLost: 0, contextUsed: 15_000, contextSize: 200_000 });
    window.snapshot!.conversations = [conversation('fix "login"\nbug \\ now', 'demo-1'), conversation(`long ${'ü'.repeat(100)}`, undefined), conversation('\u0007bell\r', 'demo-1')];
    window.snapshot!.agents[0] = { ...window.snapshot!.agents[0]!, conversations: 2, contextUsed: 30_000, contextSize: 200_000 };
    const text = toPrometheus(viewOf([window]));
    assert.match(text, /agent_pool_conversation_context_used_tokens\{window="w-usage",profile="demo",conversation="fix \\"login\\" bug \\\\ now~[0-9a-f]{8}"\} 15000/);
    assert.match(text, /agent_pool_agent_context_size_tokens\{window="w-usage",profile="demo",agent="demo-1"\} 200000/);
    const { status, output } = promtool(text);
    assert.equal(status, 0, `promtool check metrics found problems:\n${output}\n--- the text ---\n${text}`);
    assert.equal(output, '', `promtool check metrics complained:\n${output}`);
  });

  it('passes with no window at all', () => {
    const { status, output } = promtool(toPrometheus(viewOf([])));
    assert.equal(status, 0, output);
  });

  it('is the check that fails on a broken exposition (so a pass means something)', () => {
    const { status, output } = promtool('# TYPE x counter\nx{a="unterminated} 1\n');
    assert.notEqual(status, 0);
    assert.match(output, /error|parse/i);
  });
});

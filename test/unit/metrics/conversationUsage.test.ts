import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatContextUse, formatCostUsd, formatTokenCounts, formatTokens } from '../../../src/core/conversations/conversation';
import { MetricsCollector } from '../../../src/core/metrics/collector';
import { parseMetricsSnapshot } from '../../../src/core/metrics/snapshot';
import { closeAll, demoPool } from '../pool/helpers';

describe('usage that adds up: context against the window, per conversation and per agent', function () {
  this.timeout(30_000);
  let sessions: string;
  beforeEach(() => {
    sessions = mkdtempSync(join(tmpdir(), 'ap-usage-'));
  });
  afterEach(async () => {
    await closeAll();
    rmSync(sessions, { recursive: true, force: true });
  });

  it('formats context in use against the window as every surface shows it', () => {
    assert.equal(formatContextUse({ contextUsed: 15_000, contextSize: 200_000 }), '15k/200k (7.5%)');
    assert.equal(formatContextUse({ contextUsed: 150_000, contextSize: 200_000 }), '150k/200k (75%)');
    assert.equal(formatContextUse({ contextUsed: 1_234, contextSize: 1_000_000 }), '1.2k/1M (0.1%)');
    assert.equal(formatContextUse({ contextUsed: 850 }), '850 tokens');
    assert.equal(formatContextUse({}), undefined);
    assert.equal(formatTokens(999_960), '1M');
    assert.equal(formatTokenCounts({ inputTokens: 1_200, outputTokens: 300 }), '1.2k in / 300 out');
    assert.deepEqual([formatCostUsd(0.03), formatCostUsd(0), formatCostUsd(undefined)], ['$0.0300', '-', '-']);
  });

  it('a window\'s metrics snapshot carries each conversation\'s and agent\'s context and cost, and other readers accept it', async () => {
    const pool = demoPool({ minAgents: 2, maxAgents: 2, autoscale: false, env: { DEMO_AGENT_SESSION_DIR: sessions } });
    const collector = new MetricsCollector({ instanceId: 'w1' });
    collector.attach({ onDidEmit: pool.onDidEvent, snapshot: () => pool.snapshot() });
    await pool.start();
    let agentId = '';
    for (const word of ['one', 'two', 'three']) agentId = (await pool.run(`/demo usage=0.01\n${word}`, { sessionKey: 'chat' })).agentId;
    await pool.run('a prompt of no conversation');

    const parsed = parseMetricsSnapshot(JSON.stringify(collector.snapshot()));
    assert.ok('snapshot' in parsed, 'another window reads the snapshot');
    const { conversations, agents } = parsed.snapshot;
    assert.deepEqual(conversations, [
      { key: 'chat', profile: 'demo', agentId, turns: 3, costUsd: 0.03, inputTokens: conversations![0]!.inputTokens, outputTokens: conversations![0]!.outputTokens, lastUsedAt: conversations![0]!.lastUsedAt, contextLost: 0, contextUsed: 15_000, contextSize: 200_000 },
    ]);
    const agent = agents.find((a) => a.id === agentId)!;
    assert.deepEqual([agent.conversations, agent.contextUsed, agent.contextSize], [1, 15_000, 200_000]);
    assert.equal(formatContextUse(agent), '15k/200k (7.5%)');
    const other = agents.find((a) => a.id !== agentId)!;
    assert.deepEqual([other.conversations, other.contextUsed], [undefined, undefined]);
    collector.dispose();
  });

  it('a snapshot whose conversation figures are out of range is a bad file, not a crash later', () => {
    const collector = new MetricsCollector({ instanceId: 'w1' });
    const good = collector.snapshot();
    const bad = (conversation: Record<string, unknown>) => JSON.stringify({ ...good, conversations: [{ key: 'k', profile: 'demo', turns: 1, costUsd: 0, inputTokens: 0, outputTokens: 0, lastUsedAt: 1, contextLost: 0, ...conversation }] });
    assert.ok('snapshot' in parseMetricsSnapshot(bad({})));
    for (const field of [{ costUsd: -1 }, { contextUsed: 'lots' }, { key: 7 }, { turns: 1.5 }, { lastUsedAt: 9e20 }]) {
      assert.deepEqual(parseMetricsSnapshot(bad(field)), { problem: 'wrong-schema' }, JSON.stringify(field));
    }
    assert.deepEqual(parseMetricsSnapshot(JSON.stringify({ ...good, agents: [{ ...fakeAgent(), contextSize: -5 }] })), { problem: 'wrong-schema' });
    collector.dispose();
  });
});

function fakeAgent(): Record<string, unknown> {
  const summary = { count: 0, min: 0, max: 0, avg: 0, p50: 0, p95: 0, p99: 0 };
  return {
    id: 'a', profile: 'demo', state: 'idle', startedAt: 1, uptimeMs: 0, restarts: 0, recycles: 0, errorRate: 0,
    prompts: { total: 0, succeeded: 0, failed: 0, cancelled: 0, timedOut: 0, inputTokens: 0, outputTokens: 0, costUsd: 0, firstEventMs: summary, completionMs: summary },
  };
}

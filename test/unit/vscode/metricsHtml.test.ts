import assert from 'node:assert/strict';
import { Histogram } from '../../../src/core/metrics/histogram';
import { binHistogram, renderMetricsHtml } from '../../../src/vscode/metricsHtml';
import type { AggregateView } from '../../../src/core/metrics/aggregate';
import type { ConversationView } from '../../../src/core/service/conversations';

describe('binHistogram (the metrics view charts)', () => {
  it('puts every sample of merged histograms into exactly one coarse bin', () => {
    const a = new Histogram();
    const b = new Histogram();
    for (const ms of [0.5, 3, 3, 40, 150]) a.record(ms);
    for (const ms of [3.5, 900, 1500, 120_000]) b.record(ms);
    const bins = binHistogram([a.toData(), b.toData()]);
    const count = (label: string) => bins.find((bin) => bin.label === label)?.count;
    assert.equal(bins.reduce((n, bin) => n + bin.count, 0), 9);
    assert.equal(count('<1 ms'), 1);
    assert.equal(count('<5 ms'), 3);
    assert.equal(count('<50 ms'), 1);
    assert.equal(count('<200 ms'), 1);
    assert.equal(count('<1.00 s'), 1);
    assert.equal(count('<2.00 s'), 1);
    assert.equal(count('≥60.0 s'), 1);
  });
});

describe('renderMetricsHtml', () => {
  const empty = { count: 0, min: 0, max: 0, avg: 0, p50: 0, p95: 0, p99: 0 };
  const view = {
    generatedAt: 0,
    selfId: 'w1',
    windows: [],
    totals: {
      windows: 1, unresponsiveWindows: 0, agentsHere: 1, agentsTotal: 1, starting: 0, idle: 1, busy: 0, queued: 0,
      prompts: { total: 3, succeeded: 3, failed: 0, cancelled: 0, timedOut: 0 }, errorRate: 0,
      completionMs: empty, firstEventMs: empty, queueWaitMs: empty, inputTokens: 12_000, outputTokens: 3000, costUsd: 0.03,
    },
    skipped: { empty: 0, truncated: 0, garbage: 0, wrongSchema: 0, vanished: 0, foreignOwner: 0, unreadable: 0, total: 0 },
  } as unknown as AggregateView;

  it('shows tokens and cost across windows, and each conversation with its context and whether it was lost', () => {
    const lost: ConversationView = {
      key: 'chat-1', profile: 'demo', sessionId: 's', agentId: 'demo-1', turns: 3, createdAt: 0, lastUsedAt: 0, here: true,
      usage: { costUsd: 0.03, inputTokens: 1000, outputTokens: 200, contextUsed: 15_000, contextSize: 200_000 },
      contextLost: 1, contextLostReason: 'demo-2 <cannot> resume', workspace: { name: 'api', folders: [] }, owner: { instanceId: 'w1', pid: 1, label: 'api' },
    };
    const html = renderMetricsHtml(view, { cspSource: 'x' }, { conversations: [lost], titles: new Map([['chat-1', 'fix the login bug']]) });
    assert.match(html, /<div class="value">15k<\/div><div class="label">Tokens \(all windows\)/);
    assert.match(html, /<div class="value">\$0\.0300<\/div><div class="label">Cost \(all windows\)/);
    assert.match(html, /<h2>Conversations<\/h2>/);
    assert.match(html, /fix the login bug<br>.*chat-1/);
    assert.match(html, /<td>15k\/200k \(7\.5%\)<\/td><td>1\.2k<\/td><td>\$0\.0300<\/td><td><span class="warn">lost 1 time: demo-2 &#60;cannot&#62; resume/);
  });
});

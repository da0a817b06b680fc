import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitForEvent } from '../../../src/core/common/event';
import { readSettings } from '../../../src/core/config/settings';
import { MetricsAggregator } from '../../../src/core/metrics/aggregator';
import type { AggregateView } from '../../../src/core/metrics/aggregate';
import { AgentPoolService } from '../../../src/core/service/agentPoolService';
import { parsePrometheus, type ParsedSample } from '../metrics/prometheusParser';
import { assertBuilt, runBuiltCli } from './cliProcess';

const DIST = join(__dirname, '..', '..', '..', 'dist');

/**
 * Usage that adds up, as the shell shows it: a window (a service on the registry directory, real
 * demo agents) runs three turns of a conversation whose agent reports cumulative cost and
 * used/size; the built CLI then shows the context against the window and the cost of the turns
 * (the last running total, not the sum of totals) in `status`, `metrics --prometheus` and
 * `conversations list`.
 */
describe('usage in status, Prometheus and conversations (built binary, a real window)', function () {
  this.timeout(60_000);
  let directory: string;
  let sessions: string;
  let service: AgentPoolService | undefined;
  let aggregator: MetricsAggregator | undefined;

  beforeEach(() => {
    assertBuilt();
    directory = mkdtempSync(join(tmpdir(), 'ap-usage-cli-'));
    sessions = mkdtempSync(join(tmpdir(), 'ap-usage-sessions-'));
  });
  afterEach(async () => {
    aggregator?.dispose();
    await service?.shutdown();
    rmSync(directory, { recursive: true, force: true });
    rmSync(sessions, { recursive: true, force: true });
  });

  async function startWindow(): Promise<AgentPoolService> {
    const values: Record<string, unknown> = {
      registryDirectory: directory,
      'pool.minAgents': 2,
      'pool.maxAgents': 2,
      'pool.autoscale': false,
      profiles: { demo: { adapter: 'acp', command: process.execPath, args: [join(DIST, 'demo-agent.js')], env: { ELECTRON_RUN_AS_NODE: '1', DEMO_AGENT_SESSION_DIR: sessions } } },
    };
    const { settings, problems } = readSettings((key) => values[key]);
    assert.deepEqual(problems, []);
    const started = new AgentPoolService({
      settings,
      workspace: { name: 'usage window', folders: [process.cwd()] },
      extensionVersion: 'test',
      cwd: process.cwd(),
      distDirectory: DIST,
      spawnBlockedReason: () => undefined,
      log: () => undefined,
    });
    await started.start();
    await started.startPool('demo');
    return started;
  }

  it('three turns of one conversation: context 15k/200k (7.5%) and $0.0300 everywhere; names people type are safe labels', async () => {
    service = await startWindow();
    const hostile = 'fix "login"\nbug \\ now';
    const long = `refactor ${'x'.repeat(120)}`;
    let agentId = '';
    for (const word of ['one', 'two', 'three']) agentId = (await service.run(`/demo usage=0.01\n${word}`, { sessionKey: hostile })).agentId;
    await service.run('/demo usage=0.02\nlong one', { sessionKey: long });
    await service.run('/demo usage=0.02\nlong two', { sessionKey: `${long}y` });
    await service.run('a prompt of no conversation');

    // What another process reads from the directory, once this window's snapshot has the three turns.
    aggregator = new MetricsAggregator({ directory });
    const hasTurns = (view: AggregateView) => view.windows.some((w) => w.snapshot?.conversations?.some((c) => c.key === hostile && c.turns === 3) && w.snapshot.conversations.length === 3);
    const first = await aggregator.start();
    if (!hasTurns(first)) await waitForEvent(aggregator.onDidChange, hasTurns, 20_000);

    const status = await runBuiltCli(['status', '--dir', directory]);
    assert.equal(status.code, 0, status.stderr);
    const lines = status.stdout.split('\n');
    assert.match(lines[0]!, /^Agents: 2 \(1\) \| Busy: 0 \| p95: \S+ \| Errors: 0%$/);
    assert.match(lines[1]!, /^Tokens: \d\S* in \/ \d\S* out \| Cost: \$0\.0700$/);
    assert.ok(lines.includes(`  conversation ${JSON.stringify(hostile)} (demo, ${agentId}, usage window): 15k/200k (7.5%), 3 turns, $0.0300`), status.stdout);
    assert.ok(lines.some((line) => new RegExp(`^  agent ${agentId} \\(demo, usage window\\): \\d+k/200k \\(\\d+(\\.\\d)?%\\) in \\d conversations?$`).test(line)), status.stdout);
    assert.equal((await runBuiltCli(['status', '--compact', '--dir', directory])).stdout, 'A:2(1)\n', 'the compact line stays one line');

    const prometheus = await runBuiltCli(['metrics', '--prometheus', '--dir', directory]);
    assert.equal(prometheus.code, 0, prometheus.stderr);
    const { samples } = parsePrometheus(prometheus.stdout);
    const only = (name: string, labels: Record<string, string>): ParsedSample => {
      const found = samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
      assert.equal(found.length, 1, `${name} ${JSON.stringify(labels)}: ${found.length} samples`);
      return found[0]!;
    };
    const windowId = first.windows[0]!.id;
    const chatLabels = samples.filter((s) => s.name === 'agent_pool_conversation_turns' && s.labels.conversation!.startsWith('fix')).map((s) => s.labels.conversation!);
    assert.equal(chatLabels.length, 1);
    // No newline in a label, even escaped; the hash keeps "a\nb" and "a b" apart.
    assert.match(chatLabels[0]!, /^fix "login" bug \\ now~[0-9a-f]{8}$/);
    const chatLabel = { window: windowId, profile: 'demo', conversation: chatLabels[0]! };
    assert.equal(only('agent_pool_conversation_turns', chatLabel).value, 3);
    assert.equal(only('agent_pool_conversation_cost_usd', chatLabel).value, 0.03);
    assert.equal(only('agent_pool_conversation_context_used_tokens', chatLabel).value, 15_000);
    assert.equal(only('agent_pool_conversation_context_size_tokens', chatLabel).value, 200_000);
    // Two long names stay two series, each at most 64 characters.
    const longLabels = samples.filter((s) => s.name === 'agent_pool_conversation_turns' && s.labels.conversation!.startsWith('refactor')).map((s) => s.labels.conversation!);
    assert.equal(new Set(longLabels).size, 2);
    assert.ok(longLabels.every((label) => label.length <= 64), longLabels.join(', '));
    assert.equal(only('agent_pool_agent_context_size_tokens', { agent: agentId }).value, 200_000);
    assert.ok(only('agent_pool_agent_conversations', { agent: agentId }).value >= 1);
    assert.equal(Math.round(only('agent_pool_all_windows_cost_usd', {}).value * 1e9) / 1e9, 0.07);
    assert.equal(Math.round(only('agent_pool_cost_usd_total', { window: windowId }).value * 1e9) / 1e9, 0.07);
    for (const kind of ['input', 'output']) {
      assert.equal(only('agent_pool_all_windows_tokens', { kind }).value, only('agent_pool_tokens_total', { window: windowId, kind }).value, kind);
    }

    const listed = await runBuiltCli(['--dir', directory, 'conversations', 'list']);
    assert.match(listed.stdout, /\n?fix "login"[\s\S]*?15k\/200k \(7\.5%\)\s+\$0\.0300/);
  });
});

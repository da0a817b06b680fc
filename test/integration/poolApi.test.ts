import assert from 'node:assert/strict';
import { join } from 'node:path';
import * as vscode from 'vscode';
import type { ExtensionExports } from '../../src/extension';
import type { AgentAnswer } from '../../src/vscode/api';
import { activeExtension, waitUntil } from './helpers';

/** The API other extensions get from `getExtension('agent-pool.agent-pool').exports`, in the real host. */
describe('Agent Pool API for other extensions', function () {
  this.timeout(90_000);
  let api: ExtensionExports;
  let extensionPath: string;

  before(async () => {
    api = await activeExtension();
    extensionPath = vscode.extensions.getExtension('agent-pool.agent-pool')!.extensionPath;
    await vscode.commands.executeCommand('agentPool.selectProfile', 'demo');
    await waitUntil(api, () => (api.metrics().pools.find((p) => p.profile === 'demo')?.agents ?? []).some((a) => a.state === 'idle'), 'a warm demo agent');
  });

  it('exports.run answers one prompt, streaming its events', async () => {
    const events: string[] = [];
    const answer = await api.run('/demo chunks=3\nanswer through the API', { profile: 'demo', onEvent: (event) => events.push(event.kind) });
    assert.equal(answer.text, 'answer through the API');
    assert.equal(answer.stopReason, 'end_turn');
    assert.equal(answer.profile, 'demo');
    assert.match(answer.agentId, /^demo-\d+$/);
    assert.ok(events.length >= 3, `only ${events.length} event(s) streamed: ${events.join(', ')}`);
    assert.ok(answer.firstEventMs !== undefined && answer.firstEventMs <= answer.totalMs);
  });

  it('exports.acquire holds one agent for two prompts of one conversation, then gives it back', async () => {
    const lease = await api.acquire({ profile: 'demo', sessionKey: 'api-test-conversation' });
    try {
      const agent = api.metrics().pools.find((p) => p.profile === 'demo')!.agents.find((a) => a.id === lease.agentId);
      assert.equal(agent?.state, 'busy', 'the leased agent is busy for everyone else');
      const first = await lease.prompt('first turn');
      const second = await lease.prompt('/demo chunks=2\nsecond turn');
      assert.deepEqual([first.text, second.text], ['first turn', 'second turn']);
      assert.deepEqual([first.agentId, second.agentId], [lease.agentId, lease.agentId]);
    } finally {
      lease.release();
    }
    await waitUntil(api, () => api.metrics().pools.find((p) => p.profile === 'demo')!.agents.find((a) => a.id === lease.agentId)?.state === 'idle', 'the agent to be idle again');
  });

  it('exports.conversations: acquire and run with one sessionKey share the conversation record; list, get and close it', async () => {
    const key = 'api-shared-conversation';
    const lease = await api.acquire({ profile: 'demo', sessionKey: key });
    let queued: Promise<AgentAnswer> | undefined;
    let first: AgentAnswer;
    try {
      first = await lease.prompt('/demo usage=0.01\nalpha');
      assert.equal(first.continuity, 'started');
      // The lease holds the conversation: a turn of it sent meanwhile runs after the lease's turns, in order.
      queued = api.run('/demo usage=0.01 recall', { profile: 'demo', sessionKey: key });
      await lease.prompt('/demo usage=0.01\nbeta');
    } finally {
      lease.release();
    }
    const recalled = await queued;
    assert.equal(recalled.text, '/demo usage=0.01\nalpha\n/demo usage=0.01\nbeta');
    assert.deepEqual([recalled.sessionId, recalled.agentId, recalled.continuity], [first.sessionId, lease.agentId, 'kept']);

    const got = await api.conversations.get(key);
    assert.ok(got, 'the conversation of the lease has a record');
    assert.deepEqual([got.profile, got.sessionId, got.turns, got.usage.costUsd, got.contextText, got.contextLost], ['demo', first.sessionId, 3, 0.03, '15k/200k (7.5%)', 0]);
    assert.ok((await api.conversations.list()).some((c) => c.key === key));
    assert.equal(await api.conversations.close(key), true);
    assert.equal(await api.conversations.get(key), undefined);
    assert.equal(await api.conversations.close(key), false);
    const fresh = await api.run('/demo recall', { profile: 'demo', sessionKey: key });
    assert.deepEqual([fresh.continuity, fresh.text], ['started', '(nothing earlier in this session)']);
    await api.conversations.close(key);
  });

  it('exports.conversations.onDidLoseContext and the answer say when a conversation went on without its earlier context', async () => {
    const configuration = vscode.workspace.getConfiguration('agentPool');
    const forgetful = { adapter: 'acp', command: process.execPath, args: [join(extensionPath, 'dist', 'demo-agent.js')], env: { ELECTRON_RUN_AS_NODE: '1', DEMO_AGENT_SESSION_SUPPORT: 'none' } };
    await configuration.update('profiles', { 'api-forgetful': forgetful }, vscode.ConfigurationTarget.Global);
    const service = api.testing.service;
    const demoSizes = service.pools().find((p) => p.profile === 'demo')!;
    service.scalePool('demo', { minAgents: 1, maxAgents: 1 });
    const lost: Array<{ key: string; profile: string; reason: string }> = [];
    const subscription = api.conversations.onDidLoseContext((event) => lost.push(event));
    try {
      await waitUntil(api, () => 'api-forgetful' in service.profiles(), 'the new profile to be read');
      const pool = await api.launch('api-forgetful', { agents: 1 });
      const first = await pool.run('alpha', { sessionKey: 'api-lost' });
      service.stopAgent(first.agentId);
      await waitUntil(api, () => (pool.snapshot()?.agents ?? []).some((a) => a.id !== first.agentId && a.state === 'idle'), 'a new agent in the stopped one\'s place');
      const next = await pool.run('/demo recall', { sessionKey: 'api-lost' });
      assert.equal(next.continuity, 'context-lost');
      assert.equal(next.text, '(nothing earlier in this session)');
      assert.match(next.contextLost ?? '', /profile "api-forgetful" cannot resume sessions/);
      assert.deepEqual(lost, [{ key: 'api-lost', profile: 'api-forgetful', reason: next.contextLost }]);
      const record = await api.conversations.get('api-lost');
      assert.deepEqual([record?.contextLost, record?.contextLostReason], [1, next.contextLost]);
      await api.conversations.close('api-lost');
      await pool.stop();
    } finally {
      subscription.dispose();
      service.scalePool('demo', { minAgents: demoSizes.minAgents, maxAgents: demoSizes.maxAgents });
      await configuration.update('profiles', undefined, vscode.ConfigurationTarget.Global);
    }
  });

  it('exports.launch starts a pool with its own sizes and strategy in one call, scales it and stops it', async () => {
    const configuration = vscode.workspace.getConfiguration('agentPool');
    const demoAgent = { adapter: 'acp', command: process.execPath, args: [join(extensionPath, 'dist', 'demo-agent.js')], env: { ELECTRON_RUN_AS_NODE: '1' } };
    await configuration.update('profiles', { cluster: demoAgent }, vscode.ConfigurationTarget.Global);
    // Room in this window's budget (agentPool.maxAgentsPerWindow 4) for three cluster agents.
    const service = api.testing.service;
    const demoSizes = service.pools().find((p) => p.profile === 'demo')!;
    service.scalePool('demo', { minAgents: 1, maxAgents: 1 });
    try {
      await waitUntil(api, () => 'cluster' in api.testing.service.profiles(), 'the new profile to be read');
      const cluster = await api.launch('cluster', { agents: 2, strategy: 'round-robin' });
      const launched = cluster.snapshot()!;
      assert.deepEqual([launched.minAgents, launched.maxAgents, launched.strategy], [2, 2, 'round-robin']);
      assert.equal(launched.agents.filter((a) => a.state === 'idle').length, 2, 'launch resolves once the warm agents are ready');
      const answers = [await cluster.run('one'), await cluster.run('two')];
      assert.deepEqual(answers.map((a) => a.profile), ['cluster', 'cluster']);
      assert.notEqual(answers[0].agentId, answers[1].agentId, 'round-robin took turns');

      cluster.scale({ minAgents: 3, maxAgents: 3 });
      await waitUntil(api, () => cluster.snapshot()!.agents.filter((a) => a.state === 'idle').length === 3, 'the pool to grow to 3 warm agents');
      const lease = await cluster.acquire();
      assert.equal(lease.profile, 'cluster');
      lease.release();

      await assert.rejects(cluster.createDedicatedAgent('ui', 'api'), /dedicated agents need the "module-affinity" strategy/);
      await cluster.stop();
      assert.equal(cluster.snapshot(), undefined);

      // Seed 000's create_dedicated_instance: an agent for one module pair, which other work never gets.
      const paired = await api.launch('cluster', { minAgents: 1, maxAgents: 2, strategy: 'module-affinity' });
      const { agentId } = await api.createDedicatedAgent({ profile: 'cluster', sourceModule: 'ui', targetModule: 'api' });
      assert.equal((await paired.run('for the pair', { sourceModule: 'ui', targetModule: 'api' })).agentId, agentId);
      assert.notEqual((await paired.run('no pair')).agentId, agentId);
      await paired.stop();
      assert.equal(api.metrics().pools.some((p) => p.profile === 'cluster'), false);
      await assert.rejects(api.launch('no-such-profile'), /There is no agent profile "no-such-profile"/);
    } finally {
      service.scalePool('demo', { minAgents: demoSizes.minAgents, maxAgents: demoSizes.maxAgents });
      await configuration.update('profiles', undefined, vscode.ConfigurationTarget.Global);
    }
  });
});

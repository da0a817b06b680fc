import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { PoolEvent } from '../../../src/core/pool/events';
import type { AgentPool, RunResult } from '../../../src/core/pool/pool';
import { ROUTING_STRATEGIES, type RoutingStrategyName } from '../../../src/core/pool/routers/agentRouters';
import { closeAll, demoPool, nextEvent, recordEvents, type TestPoolOptions } from './helpers';

/**
 * The user's promise: turn 2 of a conversation remembers turn 1, whatever the strategy, and after
 * its agent goes. Real demo-agent processes throughout; `/demo recall` answers with the earlier
 * prompts of the session, which is what a model would remember.
 */
describe('conversations keep their context', function () {
  this.timeout(60_000);
  let sessionDirectory: string;
  beforeEach(() => {
    sessionDirectory = mkdtempSync(path.join(os.tmpdir(), 'pool-conversations-'));
  });
  afterEach(async () => {
    await closeAll();
    rmSync(sessionDirectory, { recursive: true, force: true });
  });

  function pool(options: TestPoolOptions = {}): AgentPool {
    return demoPool({ minAgents: 2, maxAgents: 2, autoscale: false, recycleMaxMemoryBytes: 0, recycleMaxAgeMs: 0, ...options, env: { DEMO_AGENT_SESSION_DIR: sessionDirectory, ...options.env } });
  }

  for (const strategy of Object.keys(ROUTING_STRATEGIES) as RoutingStrategyName[]) {
    it(`keeps each conversation on its agent and session under ${strategy}, with concurrent traffic`, async () => {
      const subject = pool({ strategy, minAgents: 3, maxAgents: 3, rng: seeded(7) });
      await subject.start();
      const conversation = async (key: string) => {
        const results: RunResult[] = [];
        for (let turn = 1; turn <= 4; turn++) results.push(await subject.run(`/demo latency=15\n${key} turn ${turn}`, { sessionKey: key }));
        const recall = await subject.run('/demo recall', { sessionKey: key });
        return { results, recall };
      };
      const filler = async (worker: number) => {
        for (let i = 0; i < 6; i++) await subject.run(`/demo latency=10\nfiller ${worker}.${i}`, { sourceModule: `m${i % 3}`, targetModule: 'api' });
      };
      const [a, b] = await Promise.all([conversation('chat-a'), conversation('chat-b'), filler(1), filler(2)]);
      for (const [key, { results, recall }] of [['chat-a', a], ['chat-b', b]] as const) {
        const all = [...results, recall];
        assert.deepEqual(new Set(all.map((r) => r.agentId)).size, 1, `${key} stayed on one agent: ${all.map((r) => r.agentId).join(', ')}`);
        assert.deepEqual(new Set(all.map((r) => r.sessionId)).size, 1, `${key} stayed in one session`);
        assert.equal(recall.text, [1, 2, 3, 4].map((turn) => `/demo latency=15\n${key} turn ${turn}`).join('\n'));
        assert.deepEqual(
          all.map((r) => r.continuity),
          ['started', 'kept', 'kept', 'kept', 'kept'],
        );
      }
    });
  }

  it('turns of one conversation sent at once run one after the other on its agent, in its session', async () => {
    const subject = pool({ strategy: 'least-busy' });
    await subject.start();
    const first = await subject.run('alpha', { sessionKey: 'chat' });
    const [second, third] = await Promise.all([subject.run('/demo latency=100\nbeta', { sessionKey: 'chat' }), subject.run('gamma', { sessionKey: 'chat' })]);
    assert.deepEqual([second.agentId, third.agentId], [first.agentId, first.agentId]);
    assert.deepEqual([second.sessionId, third.sessionId], [first.sessionId, first.sessionId]);
    assert.equal((await subject.run('/demo recall', { sessionKey: 'chat' })).text, 'alpha\n/demo latency=100\nbeta\ngamma');
  });

  it('every prompt of a lease without a conversation runs in the lease\'s one session', async () => {
    const subject = pool({ strategy: 'least-busy' });
    await subject.start();
    const lease = await subject.acquire();
    const first = await lease.prompt('alpha');
    const second = await lease.prompt('/demo recall');
    lease.release();
    assert.equal(second.sessionId, first.sessionId);
    assert.equal(second.text, 'alpha');
    const other = await subject.run('/demo recall');
    assert.notEqual(other.sessionId, first.sessionId, 'a new lease gets a session of its own');
  });

  const departures: Array<[string, (pool: AgentPool, agentId: string) => Promise<void>]> = [
    [
      'SIGKILLed',
      async (subject, agentId) => {
        const stopped = nextEvent(subject, 'agent-state', (e) => e.agentId === agentId && e.to === 'stopped');
        process.kill(subject.snapshot().agents.find((a) => a.id === agentId)!.pid!, 'SIGKILL');
        await stopped;
      },
    ],
    [
      'stopped',
      async (subject, agentId) => {
        const stopped = nextEvent(subject, 'agent-state', (e) => e.agentId === agentId && e.to === 'stopped');
        subject.stopAgent(agentId);
        await stopped;
      },
    ],
    [
      'recycled',
      async (subject, agentId) => {
        const stopped = nextEvent(subject, 'agent-state', (e) => e.agentId === agentId && e.to === 'stopped');
        subject.recycleAgent(agentId);
        await stopped;
      },
    ],
    [
      'scaled away',
      async (subject, agentId) => {
        // The other agent holds a conversation too, and was used last: scale-down has no conversation-free agent to prefer, and takes the longest idle.
        const other = subject.snapshot().agents.find((a) => a.id !== agentId && a.state === 'idle')!;
        await subject.run('other conversation', { sessionKey: 'other', agentId: other.id });
        const stopped = nextEvent(subject, 'agent-state', (e) => e.to === 'stopped');
        subject.scale({ minAgents: 1, maxAgents: 1 });
        assert.equal((await stopped).agentId, agentId);
      },
    ],
  ];

  for (const [how, depart] of departures) {
    it(`resumes a conversation whose agent was ${how}: same session, and recall has the earlier prompts`, async () => {
      const subject = pool({ strategy: 'sticky-session' });
      const events = recordEvents(subject);
      await subject.start();
      const first = await subject.run('alpha', { sessionKey: 'chat' });
      await subject.run('beta', { sessionKey: 'chat' });
      await depart(subject, first.agentId);
      const resumed = await subject.run('/demo recall', { sessionKey: 'chat' });
      assert.equal(resumed.sessionId, first.sessionId, 'the session id stays the same after a resume');
      assert.equal(resumed.continuity, 'resumed');
      assert.equal(resumed.text, 'alpha\nbeta');
      const follow = await subject.run('/demo recall', { sessionKey: 'chat' });
      assert.deepEqual([follow.agentId, follow.sessionId, follow.continuity], [resumed.agentId, first.sessionId, 'kept']);
      const changes = events.filter((e): e is Extract<PoolEvent, { type: 'conversation' }> => e.type === 'conversation' && e.key === 'chat').map((e) => e.change);
      assert.deepEqual(changes.filter((c) => c !== 'turn'), ['started', 'resumed']);
      assert.equal(subject.conversation('chat')!.turns, 4);
    });
  }

  it('falls back to session/load where the agent cannot resume', async () => {
    const subject = pool({ strategy: 'round-robin', env: { DEMO_AGENT_SESSION_SUPPORT: 'load' } });
    await subject.start();
    const first = await subject.run('alpha', { sessionKey: 'chat' });
    const stopped = nextEvent(subject, 'agent-state', (e) => e.agentId === first.agentId && e.to === 'stopped');
    process.kill(subject.snapshot().agents.find((a) => a.id === first.agentId)!.pid!, 'SIGKILL');
    await stopped;
    const loaded = await subject.run('/demo recall', { sessionKey: 'chat' });
    assert.deepEqual([loaded.sessionId, loaded.continuity, loaded.text], [first.sessionId, 'loaded', 'alpha']);
  });

  it('says plainly when nothing could resume the session: an event, the result, the conversation record', async () => {
    const subject = pool({ strategy: 'least-busy', env: { DEMO_AGENT_SESSION_SUPPORT: 'none' } });
    await subject.start();
    const first = await subject.run('alpha', { sessionKey: 'chat' });
    const stopped = nextEvent(subject, 'agent-state', (e) => e.agentId === first.agentId && e.to === 'stopped');
    process.kill(subject.snapshot().agents.find((a) => a.id === first.agentId)!.pid!, 'SIGKILL');
    await stopped;
    const lost = nextEvent(subject, 'conversation', (e) => e.change === 'context-lost');
    const next = await subject.run('/demo recall', { sessionKey: 'chat' });
    const event = await lost;
    assert.equal(next.continuity, 'context-lost');
    assert.notEqual(next.sessionId, first.sessionId);
    assert.equal(next.text, '(nothing earlier in this session)');
    assert.match(next.contextLost!, /profile "demo" cannot resume sessions .* the process that held session demo-\S+ is gone/);
    assert.equal(event.reason, next.contextLost);
    const record = subject.conversation('chat')!;
    assert.deepEqual([record.contextLost, record.sessionId, record.turns], [1, next.sessionId, 2]);
    // It goes on in the new session from then on.
    assert.equal((await subject.run('/demo recall', { sessionKey: 'chat' })).continuity, 'kept');
  });

  it('a session the agent no longer has is reported as context lost, with the agent\'s own words', async () => {
    const subject = pool({ strategy: 'least-busy' });
    await subject.start();
    const first = await subject.run('alpha', { sessionKey: 'chat' });
    const stopped = nextEvent(subject, 'agent-state', (e) => e.agentId === first.agentId && e.to === 'stopped');
    process.kill(subject.snapshot().agents.find((a) => a.id === first.agentId)!.pid!, 'SIGKILL');
    await stopped;
    rmSync(path.join(sessionDirectory, `${first.sessionId}.json`));
    const next = await subject.run('/demo recall', { sessionKey: 'chat' });
    assert.equal(next.continuity, 'context-lost');
    assert.match(next.contextLost!, new RegExp(`could not resume session ${first.sessionId}: .*no longer has session`));
  });

  it('scale-down and long-idle stops prefer the agent holding no conversation', async () => {
    const subject = pool({ strategy: 'round-robin' });
    await subject.start();
    const held = await subject.run('alpha', { sessionKey: 'chat' });
    await subject.run('one-off');
    const stopped = nextEvent(subject, 'agent-state', (e) => e.to === 'stopped');
    subject.scale({ minAgents: 1, maxAgents: 1 });
    assert.notEqual((await stopped).agentId, held.agentId);
    const next = await subject.run('/demo recall', { sessionKey: 'chat' });
    assert.deepEqual([next.agentId, next.continuity, next.text], [held.agentId, 'kept', 'alpha']);
  });

  it('cost over three turns is the last cumulative figure, not the sum of them; used/size are kept', async () => {
    const subject = pool({ strategy: 'least-busy' });
    const finished: Array<Extract<PoolEvent, { type: 'turn-finished' }>> = [];
    subject.onDidEvent((e) => e.type === 'turn-finished' && finished.push(e));
    await subject.start();
    for (const word of ['one', 'two', 'three']) await subject.run(`/demo usage=0.01\n${word}`, { sessionKey: 'chat' });
    const usage = subject.conversation('chat')!.usage;
    assert.equal(usage.costUsd, 0.03);
    assert.equal(usage.sessionCostUsd, 0.03);
    assert.deepEqual([usage.contextUsed, usage.contextSize], [15_000, 200_000]);
    assert.deepEqual(
      finished.map((e) => e.usage?.costUsd),
      [0.01, 0.01, 0.01],
    );
    const agent = subject.snapshot().agents.find((a) => a.id === finished[0]!.agentId)!;
    assert.deepEqual([agent.conversations, agent.contextUsed, agent.contextSize], [1, 15_000, 200_000]);
  });

  it('closing a conversation closes its session in the agent; the key then starts afresh', async () => {
    const subject = pool({ strategy: 'least-busy' });
    await subject.start();
    const first = await subject.run('alpha', { sessionKey: 'chat' });
    assert.equal(await subject.closeConversation('chat'), true);
    assert.equal(subject.conversation('chat'), undefined);
    assert.equal(await subject.closeConversation('chat'), false);
    const again = await subject.run('/demo recall', { sessionKey: 'chat' });
    assert.notEqual(again.sessionId, first.sessionId);
    assert.deepEqual([again.continuity, again.text], ['started', '(nothing earlier in this session)']);
  });
});

/** A deterministic rng for the random strategies. */
function seeded(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return state / 2147483648;
  };
}

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { AgentStreamEvent } from '../../../src/core/agents/adapter';
import type { AgentPool } from '../../../src/core/pool/pool';
import { closeAll, demoPool, nextEvent, type TestPoolOptions } from './helpers';

/**
 * The promise around a conversation's turn in flight: recycling and scale-down never interrupt it
 * (the conversation then resumes on the next turn), a crash mid-turn fails only that turn, and a
 * turn that waits for its busy agent keeps the usual timeout and cancellation, never moving to
 * another agent and a new session. Real demo-agent processes.
 */
describe('a conversation\'s turn in flight', function () {
  this.timeout(60_000);
  let sessionDirectory: string;
  beforeEach(() => {
    sessionDirectory = mkdtempSync(path.join(os.tmpdir(), 'pool-conversation-turns-'));
  });
  afterEach(async () => {
    await closeAll();
    rmSync(sessionDirectory, { recursive: true, force: true });
  });

  function pool(options: TestPoolOptions = {}): AgentPool {
    return demoPool({ minAgents: 2, maxAgents: 2, autoscale: false, recycleMaxMemoryBytes: 0, recycleMaxAgeMs: 0, ...options, env: { DEMO_AGENT_SESSION_DIR: sessionDirectory, ...options.env } });
  }

  /** Starts a slow turn of `chat` and resolves with its agent once the agent has streamed its first chunk. */
  async function slowTurn(subject: AgentPool): Promise<{ agentId: string; turn: Promise<{ text: string; continuity?: string }> }> {
    let streamed!: () => void;
    const firstChunk = new Promise<void>((resolve) => (streamed = resolve));
    const turn = subject.run('/demo latency=600 chunks=3\nbeta', { sessionKey: 'chat', onEvent: (event: AgentStreamEvent) => event.kind === 'text' && streamed() });
    await firstChunk;
    return { agentId: subject.conversation('chat')!.agentId!, turn };
  }

  it('an agent recycled mid-turn finishes the turn first; the next turn resumes the session with it', async () => {
    const subject = pool({ strategy: 'least-busy' });
    await subject.start();
    const first = await subject.run('alpha', { sessionKey: 'chat' });
    const { agentId, turn } = await slowTurn(subject);
    assert.equal(agentId, first.agentId);
    const stopped = nextEvent(subject, 'agent-state', (e) => e.agentId === agentId && e.to === 'stopped');
    subject.recycleAgent(agentId);
    assert.equal((await turn).text, 'beta', 'the turn in flight was interrupted');
    await stopped;
    const next = await subject.run('/demo recall', { sessionKey: 'chat' });
    assert.notEqual(next.agentId, agentId);
    assert.deepEqual([next.sessionId, next.continuity, next.text], [first.sessionId, 'resumed', 'alpha\n/demo latency=600 chunks=3\nbeta']);
  });

  it('an agent scaled away mid-turn finishes the turn first; the next turn resumes the session with it', async () => {
    const subject = pool({ strategy: 'least-busy' });
    await subject.start();
    const first = await subject.run('alpha', { sessionKey: 'chat' });
    // The other agent holds two conversations and is busy too, so scale-down has only busy agents to
    // choose from and takes the one holding fewer conversations: this conversation's.
    const other = subject.snapshot().agents.find((a) => a.id !== first.agentId)!.id;
    await subject.run('one', { sessionKey: 'other 1', agentId: other });
    await subject.run('two', { sessionKey: 'other 2', agentId: other });
    const busyElsewhere = subject.run('/demo latency=1500\nlong', { sessionKey: 'other 1' });
    const { agentId, turn } = await slowTurn(subject);
    assert.equal(agentId, first.agentId);
    const stopped = nextEvent(subject, 'agent-state', (e) => e.agentId === agentId && e.to === 'stopped');
    subject.scale({ minAgents: 1, maxAgents: 1 });
    assert.equal((await turn).text, 'beta', 'the turn in flight was interrupted');
    await stopped;
    await busyElsewhere;
    const next = await subject.run('/demo recall', { sessionKey: 'chat' });
    assert.deepEqual([next.agentId, next.sessionId, next.continuity, next.text], [other, first.sessionId, 'resumed', 'alpha\n/demo latency=600 chunks=3\nbeta']);
  });

  it('a crash mid-turn fails that turn only; the next turn resumes the session with the turns before it', async () => {
    const subject = pool({ strategy: 'round-robin', restartBaseDelayMs: 10 });
    await subject.start();
    const first = await subject.run('alpha', { sessionKey: 'chat' });
    await assert.rejects(subject.run('/demo crash=1 chunks=2\nlost turn', { sessionKey: 'chat' }), (error: Error & { code?: string }) => error.code === 'AGENT_CRASHED');
    const next = await subject.run('/demo recall', { sessionKey: 'chat' });
    assert.deepEqual([next.sessionId, next.continuity, next.text], [first.sessionId, 'resumed', 'alpha']);
    assert.equal(subject.conversation('chat')!.turns, 2, 'the failed turn is not counted');
  });

  it('a turn waiting for its busy agent times out and cancels as usual, and never moves to another agent', async () => {
    const subject = pool({ strategy: 'least-busy' });
    await subject.start();
    const first = await subject.run('alpha', { sessionKey: 'chat' });
    // Someone else holds the conversation's agent; the other agent is idle all along.
    const other = await subject.acquire({ agentId: first.agentId });
    try {
      await assert.rejects(subject.run('/demo recall', { sessionKey: 'chat', timeout: 200 }), (error: Error & { code?: string }) => {
        assert.equal(error.code, 'POOL_ACQUIRE_TIMEOUT');
        assert.match(error.message, new RegExp(first.agentId));
        return true;
      });
      const controller = new AbortController();
      const cancelled = subject.run('/demo recall', { sessionKey: 'chat', signal: controller.signal });
      controller.abort();
      await assert.rejects(cancelled);
    } finally {
      other.release();
    }
    const next = await subject.run('/demo recall', { sessionKey: 'chat' });
    assert.deepEqual([next.agentId, next.sessionId, next.continuity, next.text], [first.agentId, first.sessionId, 'kept', 'alpha']);
  });
});

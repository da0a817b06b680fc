import assert from 'node:assert/strict';
import { InProcessBudget } from '../../fixtures/inProcessBudget';
import type { AgentStreamEvent } from '../../../src/core/agents/adapter';
import { PoolError } from '../../../src/core/pool/errors';
import { closeAll, demoPool, isAlive, nextEvent, recordEvents, rejectsWith } from './helpers';

describe('agent pool with real demo agents: acquire, run, limits', function () {
  this.timeout(20_000);
  afterEach(closeAll);

  it('keeps minAgents warm, each holding a budget slot bound to its pid, and frees every slot on close', async () => {
    const budget = new InProcessBudget(4);
    const pool = demoPool({ budget, minAgents: 2, maxAgents: 3 });
    await pool.start();
    const agents = pool.snapshot().agents;
    assert.deepEqual(agents.map((a) => a.state), ['idle', 'idle']);
    const snapshot = budget.snapshot();
    assert.equal(snapshot.used, 2);
    assert.deepEqual(snapshot.holders.map((h) => h.childPid).sort(), agents.map((a) => a.pid).sort());
    await pool.close();
    assert.equal(budget.snapshot().used, 0);
    for (const agent of agents) assert.equal(isAlive(agent.pid!), false, `agent pid ${agent.pid} still alive after close`);
  });

  it('runs a prompt through the whole cycle and streams its events', async () => {
    const pool = demoPool();
    await pool.start();
    const events = recordEvents(pool);
    const streamed: AgentStreamEvent[] = [];
    const result = await pool.run('/demo chunks=3\nhello pool', { onEvent: (event) => streamed.push(event) });
    assert.equal(result.stopReason, 'end_turn');
    assert.equal(result.text, 'hello pool');
    assert.equal(streamed.filter((e) => e.kind === 'text').map((e) => e.text).join(''), 'hello pool');
    assert.ok(streamed.filter((e) => e.kind === 'text').length >= 3);
    const states = events.filter((e) => e.type === 'agent-state').map((e) => (e.type === 'agent-state' ? `${e.from}->${e.to}` : ''));
    assert.deepEqual(states, ['idle->busy', 'busy->idle']);
    const finished = events.find((e) => e.type === 'turn-finished');
    assert.ok(finished && finished.type === 'turn-finished' && finished.outcome === 'succeeded' && finished.firstEventMs !== undefined);
  });

  it("gives each task a fresh session by default, opened after the previous release; 'reuse' keeps one", async () => {
    const fresh = demoPool({ minAgents: 1, maxAgents: 1 });
    await fresh.start();
    const [agent] = fresh.agents.values();
    const warmUpSession = await agent.spareSession!;
    const first = await fresh.run('one');
    assert.equal(first.sessionId, warmUpSession, 'the first task takes the session opened while warming up');
    const opened = await agent.spareSession!;
    const second = await fresh.run('two');
    assert.equal(second.sessionId, opened, 'the next task takes the one opened after the release');
    assert.notEqual(second.sessionId, first.sessionId);
    const sticky = await fresh.run('three', { sessionKey: 'chat' });
    assert.notEqual(sticky.sessionId, second.sessionId, 'a conversation gets a session of its own');
    assert.equal((await fresh.run('four', { sessionKey: 'chat' })).sessionId, sticky.sessionId);

    const reuse = demoPool({ minAgents: 1, maxAgents: 1, sessionMode: 'reuse' });
    await reuse.start();
    const sessions = new Set([(await reuse.run('one')).sessionId, (await reuse.run('two')).sessionId, (await reuse.run('three')).sessionId]);
    assert.equal(sessions.size, 1);
  });

  it('queues when every agent is busy and hands the freed agent to the highest priority first', async () => {
    const pool = demoPool({ minAgents: 1, maxAgents: 1 });
    await pool.start();
    const lease = await pool.acquire();
    const order: string[] = [];
    const low = pool.acquire({ priority: 0 }).then((l) => (order.push('low'), l.release()));
    const high = pool.acquire({ priority: 9 }).then((l) => (order.push('high'), l.release()));
    assert.equal(pool.snapshot().queueDepth, 2);
    lease.release();
    await Promise.all([low, high]);
    assert.deepEqual(order, ['high', 'low']);
  });

  it('cancels a waiting acquire by its signal, and never serves a request whose signal was already aborted', async () => {
    const pool = demoPool({ minAgents: 1, maxAgents: 1 });
    await pool.start();
    const aborted = AbortSignal.abort();
    await assert.rejects(pool.acquire({ signal: aborted }), rejectsWith('POOL_ACQUIRE_CANCELLED', /was cancelled/), 'an idle agent is not handed out');
    await assert.rejects(pool.run('never sent', { signal: aborted }), rejectsWith('POOL_ACQUIRE_CANCELLED', /was cancelled/));
    assert.equal(pool.snapshot().agents[0].state, 'idle');

    const lease = await pool.acquire();
    await assert.rejects(pool.acquire({ signal: aborted }), rejectsWith('POOL_ACQUIRE_CANCELLED', /was cancelled/), 'nor queued');
    const controller = new AbortController();
    const waiting = pool.acquire({ signal: controller.signal });
    assert.equal(pool.snapshot().queueDepth, 1);
    controller.abort();
    await assert.rejects(waiting, rejectsWith('POOL_ACQUIRE_CANCELLED', /was cancelled/));
    assert.equal(pool.snapshot().queueDepth, 0);
    lease.release();
    assert.equal((await pool.run('served')).text, 'served');
  });

  it('hands an agent back only once its turn has ended when the lease is released mid-turn', async () => {
    const pool = demoPool({ minAgents: 1, maxAgents: 1, autoscale: false });
    await pool.start();
    const lease = await pool.acquire();
    const events = recordEvents(pool);
    const turn = lease.prompt('/demo latency=300\nslow');
    lease.release();
    assert.equal(pool.snapshot().agents[0].state, 'busy');
    const next = pool.acquire();
    assert.equal((await turn).text, 'slow');
    (await next).release();
    const order = events.map((e) => (e.type === 'agent-state' ? `${e.from}->${e.to}` : e.type)).filter((e) => e !== 'queue');
    assert.deepEqual(order.slice(0, 4), ['turn-finished', 'busy->idle', 'idle->busy', 'busy->idle'], 'the next lease came after the turn');
  });

  it('refuses at once when the queue is full, saying every agent is busy', async () => {
    const pool = demoPool({ minAgents: 1, maxAgents: 1, queueLimit: 1 });
    await pool.start();
    const lease = await pool.acquire();
    const waiting = pool.acquire();
    await assert.rejects(pool.acquire(), rejectsWith('POOL_QUEUE_FULL', /1 request\(s\) already wait .*all 1 agent\(s\) are busy .*maxAgents 1/));
    lease.release();
    (await waiting).release();
  });

  it('times out naming the budget and its holders when the budget grants no slot', async () => {
    const budget = new InProcessBudget(1, 'window-A');
    const pool = demoPool({ budget, minAgents: 1, maxAgents: 2 });
    await pool.start();
    const lease = await pool.acquire();
    await assert.rejects(pool.acquire({ timeout: 300 }), (error: unknown) => {
      rejectsWith('POOL_ACQUIRE_TIMEOUT', /global agent budget is exhausted \(1 of 1 agent slots are held: window-A \(1: demo\)\)/)(error);
      assert.equal((error as PoolError).waitReason, 'budget-exhausted');
      return true;
    });
    lease.release();
  });

  it('rejects at once once closed, and rejects what was queued', async () => {
    const pool = demoPool({ minAgents: 1, maxAgents: 1 });
    await pool.start();
    const lease = await pool.acquire();
    const queued = pool.acquire();
    const closing = pool.close();
    await assert.rejects(queued, rejectsWith('POOL_CLOSED'));
    await assert.rejects(pool.acquire(), rejectsWith('POOL_CLOSED', /is closed and accepts no more work/));
    await assert.rejects(pool.run('hi'), rejectsWith('POOL_CLOSED'));
    lease.release();
    await closing;
  });

  it('cancels a turn mid-way: the turn ends cancelled and the agent serves the next prompt', async () => {
    const pool = demoPool({ minAgents: 1, maxAgents: 1 });
    await pool.start();
    const controller = new AbortController();
    const turn = pool.run('/demo chunks=50 latency=5000\nslow answer', {
      signal: controller.signal,
      onEvent: () => controller.abort(),
    });
    const result = await turn;
    assert.equal(result.stopReason, 'cancelled');
    const agentPid = pool.snapshot().agents[0].pid;
    const next = await pool.run('after cancel');
    assert.equal(next.text, 'after cancel');
    assert.equal(pool.snapshot().agents[0].pid, agentPid, 'the same process served on: a cancel that lands does not kill');
  });

  it('closes in order: running turns get the grace, then are cancelled, then processes die and slots free', async () => {
    const budget = new InProcessBudget(4);
    const pool = demoPool({ budget, minAgents: 1, maxAgents: 1, shutdownGraceMs: 100, cancelGraceMs: 2000 });
    await pool.start();
    const events = recordEvents(pool);
    const pid = pool.snapshot().agents[0].pid!;
    const busy = nextEvent(pool, 'agent-state', (e) => e.to === 'busy');
    const turn = pool.run('/demo hang\nnever ends');
    await busy;
    await pool.close();
    const result = await turn;
    assert.equal(result.stopReason, 'cancelled');
    assert.equal(isAlive(pid), false);
    assert.equal(budget.snapshot().used, 0);
    const order = events.map((e) => (e.type === 'agent-state' ? `${e.to}` : e.type === 'turn-finished' ? `turn:${e.outcome}` : e.type));
    assert.deepEqual(order.slice(order.indexOf('draining'), order.indexOf('draining') + 4), ['draining', 'turn:cancelled', 'agent-exited', 'stopped']);
  });
});

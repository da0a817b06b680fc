import assert from 'node:assert/strict';
import { createAgentConnection } from '../../../src/core/agents/factory';
import { InProcessBudget } from '../../fixtures/inProcessBudget';
import { PoolError } from '../../../src/core/pool/errors';
import { PoolManager } from '../../../src/core/pool/manager';
import { closeAll, demoPool, demoProfile, recordEvents, rejectsWith } from './helpers';
import { ManualClock } from './manualClock';

describe('agent pool with real demo agents: targeting one agent', function () {
  this.timeout(20_000);
  afterEach(closeAll);

  it('waits for exactly the targeted agent while another is idle, and asks for no extra agent', async () => {
    const pool = demoPool({ minAgents: 2, maxAgents: 3 });
    await pool.start();
    const events = recordEvents(pool);
    const held = await pool.acquire();
    const other = pool.snapshot().agents.find((a) => a.id !== held.agentId)!;
    assert.equal(other.state, 'idle');
    const targeted = pool.acquire({ agentId: held.agentId });
    assert.equal(pool.snapshot().queueDepth, 1);
    assert.equal(pool.snapshot().agents.find((a) => a.id === other.id)!.state, 'idle', 'not routed to the idle agent');
    assert.equal(events.filter((e) => e.type === 'scale').length, 0, 'a request for one agent does not scale the pool up');
    held.release();
    const lease = await targeted;
    assert.equal(lease.agentId, held.agentId);
    assert.equal((await lease.prompt('to this agent')).text, 'to this agent');
    lease.release();
    const result = await pool.run('by run', { agentId: other.id });
    assert.deepEqual([result.agentId, result.text], [other.id, 'by run']);
  });

  it('fails at once for an unknown agent, naming the live ones', async () => {
    const pool = demoPool({ minAgents: 1, maxAgents: 2 });
    await pool.start();
    const [agent] = pool.snapshot().agents;
    await assert.rejects(pool.acquire({ agentId: 'demo-99' }), rejectsWith('POOL_AGENT_NOT_FOUND', new RegExp(`no agent "demo-99" .*Live agents: ${agent.id} \\(idle\\)`)));
    await assert.rejects(pool.run('x', { agentId: 'demo-99' }), rejectsWith('POOL_AGENT_NOT_FOUND'));
    assert.equal(pool.snapshot().queueDepth, 0);
  });

  it('fails at once for an agent being stopped, and fails a waiting request when its agent is stopped', async () => {
    const pool = demoPool({ minAgents: 2, maxAgents: 2, autoscale: false });
    await pool.start();
    const held = await pool.acquire();
    const waiting = pool.acquire({ agentId: held.agentId });
    const waitingFailed = assert.rejects(waiting, rejectsWith('POOL_AGENT_UNAVAILABLE', new RegExp(`Agent ${held.agentId} of pool "demo" is draining and takes no more work`)));
    pool.stopAgent(held.agentId);
    await waitingFailed;
    await assert.rejects(pool.acquire({ agentId: held.agentId }), rejectsWith('POOL_AGENT_UNAVAILABLE'));
    held.release();
  });

  it('keeps waiting while its agent restarts after a crash, and is served by it', async () => {
    const clock = new ManualClock();
    const pool = demoPool({ clock, minAgents: 2, maxAgents: 2, autoscale: false, recycleMaxMemoryBytes: 0, recycleMaxAgeMs: 0 });
    await pool.start();
    const held = await pool.acquire();
    const waiting = pool.acquire({ agentId: held.agentId });
    const pidBefore = pool.snapshot().agents.find((a) => a.id === held.agentId)!.pid;
    await assert.rejects(held.prompt('/demo crash\nboom'));
    const lease = await waiting;
    assert.equal(lease.agentId, held.agentId);
    assert.notEqual(pool.snapshot().agents.find((a) => a.id === held.agentId)!.pid, pidBefore);
    assert.equal((await lease.prompt('after the restart')).text, 'after the restart');
    lease.release();
  });

  it('times out saying the targeted agent is busy', async () => {
    const pool = demoPool({ minAgents: 2, maxAgents: 2 });
    await pool.start();
    const held = await pool.acquire({ task: 'a long job' });
    await assert.rejects(pool.acquire({ agentId: held.agentId, timeout: 100 }), (error: unknown) => {
      rejectsWith('POOL_ACQUIRE_TIMEOUT', new RegExp(`Agent ${held.agentId} of pool "demo" became free within 100 ms: .*it is busy with "a long job"`))(error);
      assert.equal((error as PoolError).waitReason, 'target-agent-busy');
      return true;
    });
    held.release();
  });

  it('the manager sends a targeted task to the pool holding that agent, and refuses an unknown one', async () => {
    const pools = new PoolManager({
      shared: { createConnection: createAgentConnection, budget: new InProcessBudget(4), cwd: process.cwd(), killGraceMs: 500, shutdownGraceMs: 100 },
      resolveProfile: (name) => demoProfile({}, name),
    });
    try {
      await pools.start({ profile: 'alpha', minAgents: 1, maxAgents: 1 });
      await pools.start({ profile: 'beta', minAgents: 1, maxAgents: 1 });
      const betaAgent = pools.get('beta')!.snapshot().agents[0].id;
      for (let i = 0; i < 3; i++) {
        const result = await pools.run('where', { agentId: betaAgent, routing: 'round-robin' });
        assert.deepEqual([result.profile, result.agentId], ['beta', betaAgent]);
      }
      assert.throws(() => pools.choosePool({ agentId: 'gamma-1' }), rejectsWith('POOL_AGENT_NOT_FOUND', /No pool has an agent "gamma-1"/));
    } finally {
      await pools.closeAll();
    }
  });
});

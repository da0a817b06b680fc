import assert from 'node:assert/strict';
import { InProcessBudget } from '../../fixtures/inProcessBudget';
import type { PoolEvent } from '../../../src/core/pool/events';
import { closeAll, demoPool, nextEvent, recordEvents, rejectsWith } from './helpers';
import { ManualClock, settle } from '../../fixtures/manualClock';

const live = (events: PoolEvent[]) => events.filter((e) => e.type === 'scale');

describe('autoscaling keeps one agent ahead, and dedicated agents never starve other work (real demo agents)', function () {
  this.timeout(30_000);
  afterEach(closeAll);

  it('starts a spare when 2 of 2 agents are busy with nothing queued, and stops it after the idle period', async () => {
    const clock = new ManualClock();
    const pool = demoPool({ clock, minAgents: 2, maxAgents: 4, scaleDownAfterMs: 60_000, recycleMaxMemoryBytes: 0, recycleMaxAgeMs: 0 });
    await pool.start();
    const events = recordEvents(pool);
    const first = await pool.acquire();
    assert.equal(live(events).length, 0, 'one busy of two (50%) needs no spare');
    const spareReady = nextEvent(pool, 'agent-state', (e) => e.to === 'idle');
    const second = await pool.acquire();
    // Handing out the second agent re-ran the autoscaler: the next request meets a warm agent, not a cold start.
    assert.deepEqual(live(events).map((e) => e.type === 'scale' && [e.direction, e.from, e.to, e.reason]), [['up', 2, 3, 'utilization 100% > 80%']]);
    await spareReady;
    assert.equal(pool.load().queued, 0);
    const third = await pool.acquire();
    assert.ok(![first.agentId, second.agentId].includes(third.agentId));
    // 3 of 3 busy: one more ahead, and maxAgents 4 stops it there.
    const fourthReady = nextEvent(pool, 'agent-state', (e) => e.to === 'idle');
    await fourthReady;
    const fourth = await pool.acquire();
    await settle();
    assert.equal(pool.snapshot().agents.length, 4, 'never beyond maxAgents');
    for (const lease of [first, second, third, fourth]) lease.release();
    for (let step = 0; step < 2; step++) {
      const down = nextEvent(pool, 'scale', (e) => e.direction === 'down');
      const stopped = nextEvent(pool, 'agent-state', (e) => e.to === 'stopped');
      await clock.advanceSettled(60_000);
      assert.match((await down).reason, /utilization below 20% for 60000 ms/);
      await stopped;
    }
    assert.equal(pool.snapshot().agents.filter((a) => a.state !== 'stopped').length, 2, 'back to minAgents after the idle periods');
    await clock.advanceSettled(60_000);
    assert.equal(live(events).filter((e) => e.type === 'scale' && e.direction === 'down').length, 2, 'and no further');
  });

  it('keeps no spare when the global budget has no slot for it', async () => {
    const pool = demoPool({ budget: new InProcessBudget(2), minAgents: 2, maxAgents: 4, recycleMaxMemoryBytes: 0, recycleMaxAgeMs: 0 });
    await pool.start();
    const events = recordEvents(pool);
    const leases = [await pool.acquire(), await pool.acquire()];
    await settle();
    assert.equal(pool.snapshot().agents.length, 2);
    assert.equal(live(events).length, 0);
    leases.forEach((lease) => lease.release());
  });

  it('spawns for a pair that only agents dedicated to other pairs could serve, then for unpaired work, and names dedication when at maxAgents', async () => {
    const clock = new ManualClock();
    const pool = demoPool({ clock, strategy: 'module-affinity', dedicatedPairs: true, minAgents: 2, maxAgents: 4, recycleMaxMemoryBytes: 0, recycleMaxAgeMs: 0 });
    await pool.start();
    const pair = (source: string) => ({ sourceModule: source, targetModule: 'core' });
    const a = await pool.run('a', pair('a'));
    const b = await pool.run('b', pair('b'));
    assert.notEqual(a.agentId, b.agentId, 'each of the two agents is now dedicated to its pair');
    // Both idle agents serve other pairs: the request must bring a new agent, not wait for a timeout.
    const c = await pool.run('c', pair('c'));
    assert.ok(![a.agentId, b.agentId].includes(c.agentId));
    const unpaired = await pool.run('no pair');
    assert.ok(![a.agentId, b.agentId, c.agentId].includes(unpaired.agentId), 'unpaired work got an agent of its own');
    const d = await pool.run('d', pair('d'));
    assert.equal(d.agentId, unpaired.agentId, 'the undedicated agent took the new pair');
    const waiting = pool.acquire({ timeout: 5_000 });
    await settle();
    assert.equal(pool.snapshot().agents.length, 4);
    clock.advance(5_000);
    await assert.rejects(waiting, rejectsWith('POOL_ACQUIRE_TIMEOUT', /every agent \(4\) is dedicated to another module pair \(a → core, b → core, c → core, d → core\), none may take work with no module pair, and the pool is at its limit \(maxAgents 4\)/));
    await assert.rejects(waiting, (error: { waitReason?: string }) => error.waitReason === 'agents-dedicated');
  });

  it('creates dedicated agents from the options and on request, replaces a recycled one, and refuses beyond maxAgents', async () => {
    const pool = demoPool({ strategy: 'module-affinity', dedicatedAgents: [{ sourceModule: 'ui', targetModule: 'api' }], minAgents: 1, maxAgents: 3, recycleMaxMemoryBytes: 0, recycleMaxAgeMs: 0 });
    await pool.start();
    const [configured] = pool.snapshot().agents;
    assert.equal(pool.snapshot().agents.length, 1, 'the dedicated agent is the warm one');
    const unpaired = await pool.run('unpaired');
    assert.notEqual(unpaired.agentId, configured.id, 'unpaired work never lands on the dedicated agent');
    const dbAgent = await pool.createDedicatedAgent('db', 'cache');
    // The undedicated agent is as idle as the new one: the pair still goes to the agent made for it.
    assert.equal((await pool.run('first for the db', { sourceModule: 'db', targetModule: 'cache' })).agentId, dbAgent);
    assert.ok(![configured.id, unpaired.agentId].includes(dbAgent));
    assert.equal((await pool.run('to the db', { sourceModule: 'db', targetModule: 'cache' })).agentId, dbAgent);
    assert.equal((await pool.run('to the api', { sourceModule: 'ui', targetModule: 'api' })).agentId, configured.id);
    await assert.rejects(pool.createDedicatedAgent('x', 'y'), rejectsWith('POOL_AT_LIMIT', /no room for an agent dedicated to x → y\. Raise agentPool\.pool\.maxAgents/));

    const replacement = nextEvent(pool, 'agent-state', (e) => e.to === 'idle' && ![configured.id, unpaired.agentId, dbAgent].includes(e.agentId));
    pool.recycleAgent(configured.id);
    const fresh = (await replacement).agentId;
    assert.equal((await pool.run('to the api again', { sourceModule: 'ui', targetModule: 'api' })).agentId, fresh, 'the replacement serves the pair');
    assert.notEqual((await pool.run('unpaired again')).agentId, fresh);
  });

  it('refuses dedicated agents without the module-affinity strategy, naming the setting', async () => {
    assert.throws(() => demoPool({ dedicatedAgents: [{ sourceModule: 'ui' }] }), /option "dedicatedAgents" needs strategy "module-affinity"/);
    const pool = demoPool({ minAgents: 0, maxAgents: 1 });
    await assert.rejects(pool.createDedicatedAgent('ui', 'api'), rejectsWith('POOL_INVALID_OPTION', /dedicated agents need the "module-affinity" strategy \(setting agentPool\.pool\.strategy\)/));
  });
});

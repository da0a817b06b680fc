import assert from 'node:assert/strict';
import { closeAll, demoPool, isAlive, nextEvent, recordEvents } from './helpers';
import { ManualClock } from '../../fixtures/manualClock';

describe('recycling by age with real demo agents and an injected clock', function () {
  this.timeout(20_000);
  afterEach(closeAll);

  it('replaces an agent older than recycleMaxAgeMs: an idle one at the next check, a busy one only after its lease', async () => {
    const clock = new ManualClock();
    const pool = demoPool({ clock, minAgents: 1, maxAgents: 1, autoscale: false, recycleMaxAgeMs: 60_000, recycleMaxMemoryBytes: 0, memorySampleIntervalMs: 1_000 });
    await pool.start();
    const events = recordEvents(pool);
    const [young] = pool.snapshot().agents;
    await clock.advanceSettled(59_000);
    assert.equal(events.filter((e) => e.type === 'recycle').length, 0, 'not before its age');
    const recycled = nextEvent(pool, 'recycle');
    const replaced = nextEvent(pool, 'agent-state', (e) => e.agentId !== young.id && e.to === 'idle');
    await clock.advanceSettled(2_000);
    assert.deepEqual(await recycled, { type: 'recycle', agentId: young.id, profile: 'demo', reason: 'age' });
    const fresh = (await replaced).agentId;
    assert.equal(isAlive(young.pid!), false);

    // Past its age while leased: the turn is never cut; the recycle waits for the release.
    const lease = await pool.acquire();
    assert.equal(lease.agentId, fresh);
    await clock.advanceSettled(61_000);
    assert.equal((await lease.prompt('still mine')).text, 'still mine');
    assert.equal(events.filter((e) => e.type === 'recycle').length, 1, 'no recycle mid-lease');
    const second = nextEvent(pool, 'recycle');
    lease.release();
    assert.deepEqual(await second, { type: 'recycle', agentId: fresh, profile: 'demo', reason: 'age' });
  });
});

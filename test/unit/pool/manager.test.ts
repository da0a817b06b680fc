import assert from 'node:assert/strict';
import { createAgentConnection } from '../../../src/core/agents/factory';
import { InProcessBudget } from '../../fixtures/inProcessBudget';
import { PoolManager } from '../../../src/core/pool/manager';
import { layerUnderSettings, type SavedPoolState } from '../../../src/core/service/poolState';
import { demoProfile } from './helpers';

function manager(budget = new InProcessBudget(6)): PoolManager {
  return new PoolManager({
    shared: { createConnection: createAgentConnection, budget, cwd: process.cwd(), killGraceMs: 500, shutdownGraceMs: 100 },
    resolveProfile: (name) => {
      if (name !== 'alpha' && name !== 'beta') throw new Error(`unknown profile "${name}"`);
      return demoProfile({}, name);
    },
  });
}

describe('pool manager with real demo agents', function () {
  this.timeout(20_000);
  const managers: PoolManager[] = [];
  afterEach(async () => {
    await Promise.all(managers.splice(0).map((m) => m.closeAll()));
  });

  it('starts, lists, scales and closes one pool per profile', async () => {
    const pools = manager();
    managers.push(pools);
    await pools.start({ profile: 'alpha', minAgents: 1, maxAgents: 2 });
    await pools.start({ profile: 'beta', minAgents: 1, maxAgents: 1, strategy: 'round-robin' });
    assert.deepEqual(pools.list().map((p) => [p.profile, p.agents.length, p.strategy]), [['alpha', 1, 'least-busy'], ['beta', 1, 'round-robin']]);
    pools.scale('alpha', { minAgents: 2 });
    await new Promise<void>((resolve) => {
      const sub = pools.onDidEvent((e) => e.type === 'agent-state' && e.profile === 'alpha' && e.to === 'idle' && (sub.dispose(), resolve()));
    });
    assert.equal(pools.get('alpha')!.snapshot().agents.filter((a) => a.state === 'idle').length, 2);
    await pools.close('beta');
    assert.deepEqual(pools.list().map((p) => p.profile), ['alpha']);
  });

  it('routes across pools by least load, round-robin and affinity', async () => {
    const pools = manager();
    managers.push(pools);
    await pools.start({ profile: 'alpha', minAgents: 1, maxAgents: 1, autoscale: false });
    await pools.start({ profile: 'beta', minAgents: 1, maxAgents: 1, autoscale: false });
    const held = await pools.get('alpha')!.acquire();
    assert.equal((await pools.run('least loaded')).profile, 'beta');
    held.release();
    const rotation = [];
    for (let i = 0; i < 4; i++) rotation.push((await pools.run('rr', { routing: 'round-robin' })).profile);
    assert.deepEqual(rotation, ['alpha', 'beta', 'alpha', 'beta']);
    await pools.run('pair', { profiles: ['beta'], sourceModule: 'ui', targetModule: 'api' });
    for (let i = 0; i < 2; i++) assert.equal((await pools.run('pair', { routing: 'affinity', sourceModule: 'ui', targetModule: 'api' })).profile, 'beta');
  });

  it('exports configuration and bindings as plain JSON and restores them in a new manager under the current settings', async () => {
    const first = manager();
    managers.push(first);
    await first.start({ profile: 'alpha', minAgents: 1, maxAgents: 2, strategy: 'sticky-session' });
    await first.start({ profile: 'beta', minAgents: 1, maxAgents: 1 });
    await first.run('start a chat', { sessionKey: 'chat-7', profiles: ['beta'] });
    // alpha's sizes were chosen with Scale Pool over settings of 1-1: the service records that beside the manager's state.
    const saved: SavedPoolState = {
      ...JSON.parse(JSON.stringify(first.exportState())),
      chosenSizes: [{ profile: 'alpha', minAgents: 1, maxAgents: 2, settings: { minAgents: 1, maxAgents: 1 } }],
    };
    await first.closeAll();
    assert.deepEqual(saved.sticky, [{ sessionKey: 'chat-7', profile: 'beta' }]);

    const second = manager();
    managers.push(second);
    // Issue 11: saved state supplies only what no setting says. The strategy setting (least-busy) wins
    // over the saved sticky-session; the size chosen with Scale Pool stays.
    await second.restore(layerUnderSettings(saved, { defaultProfile: '', configFor: (profile) => ({ profile, minAgents: 1, maxAgents: 1, strategy: 'least-busy' }) }));
    assert.deepEqual(second.list().map((p) => [p.profile, p.minAgents, p.maxAgents, p.strategy]), [['alpha', 1, 2, 'least-busy'], ['beta', 1, 1, 'least-busy']]);
    const held = await second.get('alpha')!.acquire();
    held.release();
    assert.equal((await second.run('continue', { sessionKey: 'chat-7' })).profile, 'beta', 'the conversation stays on its profile');
    await assert.rejects(second.restore({ version: 2, pools: [] }), /Saved pool state is not usable \(unknown version 2\)/);
  });
});

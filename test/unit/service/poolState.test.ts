import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Emitter, waitForEvent } from '../../../src/core/common/event';
import { readSettings } from '../../../src/core/config/settings';
import { AgentPoolService } from '../../../src/core/service/agentPoolService';
import type { PoolStateStore, SavedPoolState } from '../../../src/core/service/poolState';

const DIST = join(__dirname, '..', '..', '..', 'dist');

/** What the extension's workspace memento does, with an event per write so tests wait on it. */
class MemoryStore implements PoolStateStore {
  value: unknown;
  readonly saved = new Emitter<SavedPoolState>();
  async load(): Promise<unknown> {
    return this.value === undefined ? undefined : JSON.parse(JSON.stringify(this.value));
  }
  async save(state: SavedPoolState): Promise<void> {
    this.value = JSON.parse(JSON.stringify(state));
    this.saved.fire(state);
  }
}

const demo2 = { adapter: 'acp', command: process.execPath, args: [join(DIST, 'demo-agent.js')], env: { ELECTRON_RUN_AS_NODE: '1' } };

describe('pool state: saved on every change, laid under the current settings on start (real service, demo agents)', function () {
  this.timeout(30_000);
  let directory: string;
  const services: AgentPoolService[] = [];
  beforeEach(() => (directory = mkdtempSync(join(tmpdir(), 'ap-poolstate-'))));
  afterEach(async () => {
    // A "crashed" host is one whose shutdown never ran: its agents are still ours to stop.
    await Promise.all(services.splice(0).map((service) => service.shutdown()));
    rmSync(directory, { recursive: true, force: true });
  });

  function service(store: MemoryStore, settings: Record<string, unknown>): AgentPoolService {
    const values: Record<string, unknown> = { registryDirectory: directory, 'pool.minAgents': 1, 'pool.maxAgents': 2, heartbeatIntervalMs: 60_000, profiles: { demo2 }, ...settings };
    const created = new AgentPoolService({
      settings: readSettings((key) => values[key]).settings,
      workspace: { name: 'pool-state-test', folders: [process.cwd()] },
      extensionVersion: 'test',
      cwd: process.cwd(),
      distDirectory: DIST,
      spawnBlockedReason: () => undefined,
      poolStateStore: store,
      log: () => undefined,
    });
    services.push(created);
    return created;
  }

  it('saves while running (no deactivate), and a new start keeps Scale Pool sizes and bindings but takes strategy and profile from the settings', async () => {
    const store = new MemoryStore();
    const first = service(store, { defaultProfile: 'demo', 'pool.strategy': 'least-busy' });
    await first.start();
    const savedTwoPools = waitForEvent(store.saved.event, (state) => state.pools.length === 2);
    const { started } = await first.startSavedPools();
    assert.deepEqual(started, ['demo']);
    await first.startPool('demo2');
    await savedTwoPools;
    const savedScale = waitForEvent(store.saved.event, (state) => state.chosenSizes?.some((c) => c.profile === 'demo2' && c.maxAgents === 3) ?? false);
    first.scalePool('demo2', { minAgents: 2, maxAgents: 3 });
    await savedScale;
    const savedBinding = waitForEvent(store.saved.event, (state) => state.sticky.some((s) => s.sessionKey === 'chat-1'));
    await first.run('remember me', { sessionKey: 'chat-1', profiles: ['demo2'] });
    await savedBinding;
    // The host dies here: no shutdown, no deactivate. What the store holds is all the next start gets.

    const second = service(store, { defaultProfile: 'demo', 'pool.strategy': 'round-robin' });
    await second.start();
    const { started: restarted, notes } = await second.startSavedPools();
    assert.deepEqual(notes, []);
    assert.deepEqual(restarted, ['demo', 'demo2']);
    assert.deepEqual(
      second.pools().map((p) => [p.profile, p.strategy, p.minAgents, p.maxAgents]),
      [
        ['demo', 'round-robin', 1, 2],
        ['demo2', 'round-robin', 2, 3],
      ],
      'the strategy setting wins; the sizes chosen with Scale Pool stay',
    );
    assert.equal((await second.run('and again', { sessionKey: 'chat-1' })).profile, 'demo2', 'the conversation stays on its profile');
  });

  it('lets changed size settings and a changed default profile win over the saved state', async () => {
    const store = new MemoryStore();
    const first = service(store, { defaultProfile: 'demo' });
    await first.start();
    await first.startSavedPools();
    const saved = waitForEvent(store.saved.event, (state) => state.chosenSizes?.length === 1);
    first.scalePool('demo', { maxAgents: 3 });
    await saved;
    await first.shutdown();
    assert.deepEqual((store.value as SavedPoolState).pools.map((p) => p.profile), ['demo'], 'closing the pools at shutdown does not save an empty list');

    const second = service(store, { defaultProfile: 'demo2', 'pool.maxAgents': 4 });
    await second.start();
    const { started } = await second.startSavedPools();
    assert.deepEqual(started, ['demo2'], 'the old default pool went with the old default');
    assert.deepEqual(second.pools().map((p) => [p.profile, p.maxAgents]), [['demo2', 4]]);

    // Its coalesced save may still be due: stopped first, so it cannot write over the file under test.
    await second.shutdown();
    store.value = { version: 7, pools: [] };
    const third = service(store, { defaultProfile: 'demo' });
    await third.start();
    const unusable = await third.startSavedPools();
    assert.deepEqual(unusable.started, ['demo']);
    assert.deepEqual(unusable.notes, ['The saved pool state is not usable (unknown version 7); the pools start from the settings instead.']);
  });
});

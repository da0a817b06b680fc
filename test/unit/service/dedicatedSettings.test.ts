import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readSettings } from '../../../src/core/config/settings';
import { AgentPoolService } from '../../../src/core/service/agentPoolService';

const DIST = join(__dirname, '..', '..', '..', 'dist');

/** The pool's ready agents once `count` of them are idle (waits on the service's change events). */
function waitForAgents(service: AgentPoolService, count: number): Promise<string[]> {
  const idle = () => service.pools().flatMap((pool) => pool.agents.filter((agent) => agent.state === 'idle').map((agent) => agent.id));
  if (idle().length >= count) return Promise.resolve(idle());
  return new Promise((resolve) => {
    const subscription = service.onDidChange(() => {
      if (idle().length < count) return;
      subscription.dispose();
      resolve(idle());
    });
  });
}

describe('dedicated agents and the spare through the settings (real service, demo agents)', function () {
  this.timeout(30_000);
  let directory: string;
  beforeEach(() => (directory = mkdtempSync(join(tmpdir(), 'ap-dedicated-'))));
  afterEach(() => rmSync(directory, { recursive: true, force: true }));

  it('with agentPool.pool.strategy module-affinity, an agent created for a pair serves it only', async () => {
    const values: Record<string, unknown> = {
      registryDirectory: directory,
      heartbeatIntervalMs: 60_000,
      'pool.minAgents': 1,
      'pool.maxAgents': 3,
      'pool.strategy': 'module-affinity',
    };
    const { settings, problems } = readSettings((key) => values[key]);
    assert.deepEqual(problems, []);
    const service = new AgentPoolService({
      settings, workspace: { name: 'dedicated', folders: [process.cwd()] }, extensionVersion: 'test', cwd: process.cwd(), distDirectory: DIST, spawnBlockedReason: () => undefined, log: () => undefined,
    });
    try {
      await service.start();
      await service.startPool('demo');
      const dedicated = { id: await service.createDedicatedAgent('demo', 'ui', 'api') };
      assert.equal((await service.run('pair', { sourceModule: 'ui', targetModule: 'api' })).agentId, dedicated.id);
      const other = await service.run('no pair');
      assert.notEqual(other.agentId, dedicated.id, 'unpaired work got an agent of its own');
      const again = await service.createDedicatedAgent('demo', 'db', 'cache');
      assert.equal((await service.run('db', { sourceModule: 'db', targetModule: 'cache' })).agentId, again);
    } finally {
      await service.shutdown();
    }
  });

  it('starts the agents agentPool.pool.dedicatedAgents lists with the pool, each serving its pair only', async () => {
    const values: Record<string, unknown> = {
      registryDirectory: directory,
      heartbeatIntervalMs: 60_000,
      'pool.minAgents': 1,
      'pool.maxAgents': 3,
      'pool.strategy': 'module-affinity',
      'pool.dedicatedAgents': [{ sourceModule: 'ui', targetModule: 'api' }],
    };
    const { settings, problems } = readSettings((key) => values[key]);
    assert.deepEqual(problems, []);
    const service = new AgentPoolService({
      settings, workspace: { name: 'dedicated', folders: [process.cwd()] }, extensionVersion: 'test', cwd: process.cwd(), distDirectory: DIST, spawnBlockedReason: () => undefined, log: () => undefined,
    });
    try {
      await service.start();
      await service.startPool('demo');
      // The agent the setting dedicates starts with the pool (it counts toward minAgents 1), before any paired work.
      const [started] = await waitForAgents(service, 1);
      const paired = await service.run('pair', { sourceModule: 'ui', targetModule: 'api' });
      assert.equal(paired.agentId, started);
      assert.equal((await service.run('pair again', { sourceModule: 'ui', targetModule: 'api' })).agentId, paired.agentId, 'the pair keeps its agent');
      const other = await service.run('no pair');
      assert.notEqual(other.agentId, paired.agentId, 'other work never lands on the dedicated agent');
    } finally {
      await service.shutdown();
    }
  });

  it('refuses a malformed dedicatedAgents list, and dedicated agents under another strategy, naming the settings', () => {
    const malformed = readSettings((key) => ({ 'pool.strategy': 'module-affinity', 'pool.dedicatedAgents': [{ source: 'ui' }] })[key]);
    assert.equal(malformed.problems.length, 1);
    assert.match(malformed.problems[0], /agentPool\.pool\.dedicatedAgents: must be a list of \{"sourceModule"/);
    assert.deepEqual(malformed.settings.pool.dedicatedAgents, []);

    const wrongStrategy = readSettings((key) => ({ 'pool.dedicatedAgents': [{ sourceModule: 'ui', targetModule: 'api' }] })[key]);
    assert.equal(wrongStrategy.problems.length, 1);
    assert.match(wrongStrategy.problems[0], /agentPool\.pool\.dedicatedAgents lists 1 pair\(s\), but agentPool\.pool\.strategy is "least-busy"/);
    assert.deepEqual(wrongStrategy.settings.pool.dedicatedAgents, []);

    const fine = readSettings((key) => ({ 'pool.strategy': 'module-affinity', 'pool.dedicatedAgents': [{ targetModule: 'api' }] })[key]);
    assert.deepEqual([fine.problems, fine.settings.pool.dedicatedAgents], [[], [{ targetModule: 'api' }]]);
  });

  it('reads keepSpareAgent and dedicatedPairs from the settings table and refuses a non-boolean, naming the setting', () => {
    const values: Record<string, unknown> = { 'pool.keepSpareAgent': 'yes', 'pool.dedicatedPairs': true };
    const { settings, problems } = readSettings((key) => values[key]);
    assert.equal(problems.length, 1);
    assert.match(problems[0], /agentPool\.pool\.keepSpareAgent/);
    assert.deepEqual([settings.pool.keepSpareAgent, settings.pool.dedicatedPairs], [true, true]);
  });
});

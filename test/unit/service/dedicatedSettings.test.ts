import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readSettings } from '../../../src/core/config/settings';
import { AgentPoolService } from '../../../src/core/service/agentPoolService';

const DIST = join(__dirname, '..', '..', '..', 'dist');

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

  it('reads keepSpareAgent and dedicatedPairs from the settings table and refuses a non-boolean, naming the setting', () => {
    const values: Record<string, unknown> = { 'pool.keepSpareAgent': 'yes', 'pool.dedicatedPairs': true };
    const { settings, problems } = readSettings((key) => values[key]);
    assert.equal(problems.length, 1);
    assert.match(problems[0], /agentPool\.pool\.keepSpareAgent/);
    assert.deepEqual([settings.pool.keepSpareAgent, settings.pool.dedicatedPairs], [true, true]);
  });
});

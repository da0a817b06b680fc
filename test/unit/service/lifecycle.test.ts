import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitForEvent } from '../../../src/core/common/event';
import { readSettings } from '../../../src/core/config/settings';
import { AgentPoolService } from '../../../src/core/service/agentPoolService';
import { assertBuilt, runBuiltCli } from '../cli/cliProcess';

const DIST = join(__dirname, '..', '..', '..', 'dist');

describe('window lifecycle follows the window (real service, demo agents, the built CLI)', function () {
  this.timeout(30_000);
  let directory: string;
  beforeEach(() => (directory = mkdtempSync(join(tmpdir(), 'ap-lifecycle-'))));
  afterEach(() => rmSync(directory, { recursive: true, force: true }));

  it('is IDLE with no turn, ACTIVE while one runs, COMPLETING during shutdown, in the record and the CLI', async () => {
    assertBuilt();
    const values: Record<string, unknown> = { registryDirectory: directory, 'pool.minAgents': 1, 'pool.maxAgents': 1, heartbeatIntervalMs: 60_000 };
    const service = new AgentPoolService({
      settings: readSettings((key) => values[key]).settings,
      workspace: { name: 'lifecycle-test', folders: [process.cwd()] },
      extensionVersion: 'test',
      cwd: process.cwd(),
      distDirectory: DIST,
      spawnBlockedReason: () => undefined,
      log: () => undefined,
    });
    await service.start();
    const recorded = () => JSON.parse(readFileSync(join(directory, 'instances', `${service.selfId}.json`), 'utf8')).lifecycle as string;
    const cliLifecycle = async () => {
      const result = await runBuiltCli(['--dir', directory, 'instances', '--json']);
      assert.equal(result.code, 0, result.stderr);
      return (JSON.parse(result.stdout) as Array<{ id: string; lifecycle: string }>).find((row) => row.id === service.selfId)?.lifecycle;
    };
    const recordBecomes = (lifecycle: string) => waitForEvent(service.onDidChange, () => recorded() === lifecycle, 10_000);
    assert.equal(recorded(), 'IDLE', 'a window registers idle: nothing runs yet');
    await service.startPool('demo');
    assert.equal(service.lifecycle(), 'IDLE');

    const active = recordBecomes('ACTIVE');
    const lease = await service.acquire();
    await active;
    assert.equal(service.lifecycle(), 'ACTIVE');
    assert.equal(await cliLifecycle(), 'ACTIVE');
    await lease.prompt('/demo latency=20\nworking');
    const idle = recordBecomes('IDLE');
    lease.release();
    await idle;
    assert.equal(await cliLifecycle(), 'IDLE');

    // While shutdown stops the agents, the record already says COMPLETING.
    const seenWhileStopping: string[] = [];
    service.onDidPoolEvent((event) => {
      if (event.type === 'agent-state' && event.to === 'stopped') seenWhileStopping.push(recorded());
    });
    await service.shutdown();
    assert.deepEqual(seenWhileStopping, ['COMPLETING']);
    assert.equal(service.lifecycle(), 'COMPLETING');
  });
});

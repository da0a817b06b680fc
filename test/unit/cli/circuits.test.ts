import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readSettings } from '../../../src/core/config/settings';
import { AgentPoolService } from '../../../src/core/service/agentPoolService';
import { assertBuilt, runBuiltCli } from './cliProcess';

const DIST = join(__dirname, '..', '..', '..', 'dist');

/** A window whose pool cannot start: its open circuit and last failure are visible to every other window and the CLI. */
describe('circuits visible to everyone (status --json, instances --json)', function () {
  this.timeout(30_000);
  let directory: string;
  let service: AgentPoolService | undefined;

  beforeEach(() => {
    assertBuilt();
    directory = mkdtempSync(join(tmpdir(), 'ap-circuits-'));
  });
  afterEach(async () => {
    await service?.shutdown();
    rmSync(directory, { recursive: true, force: true });
  });

  it('an auth failure opens the circuit; another process sees the state, the reason and the last failure', async () => {
    const values: Record<string, unknown> = {
      registryDirectory: directory,
      heartbeatIntervalMs: 250,
      profiles: { locked: { adapter: 'acp', command: process.execPath, args: [join(DIST, 'demo-agent.js')], env: { DEMO_AGENT_SESSION_ERROR: 'auth' } } },
    };
    service = new AgentPoolService({
      settings: readSettings((key) => values[key]).settings,
      workspace: { name: 'circuit-test', folders: [process.cwd()] },
      extensionVersion: 'test',
      cwd: process.cwd(),
      distDirectory: DIST,
      spawnBlockedReason: () => undefined,
      log: () => undefined,
    });
    await service.start();
    await assert.rejects(service.startPool('locked'), /could not start/);
    type Pools = Array<{ profile: string; circuit: { state: string; reason?: string; lastFailure?: { message: string; at: number } } }>;
    let pools: Pools | undefined;
    for (let attempt = 0; attempt < 100; attempt++) {
      const status = await runBuiltCli(['--dir', directory, 'status', '--json']);
      pools = (JSON.parse(status.stdout) as { windows: Array<{ pools: Pools }> }).windows[0]?.pools;
      if (pools?.[0]?.circuit.state === 'open') break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.equal(pools?.[0]?.profile, 'locked');
    assert.equal(pools[0].circuit.state, 'open');
    assert.match(pools[0].circuit.reason ?? '', /could not start .*Authentication required.*\[AGENT_AUTH_REQUIRED\]/);
    assert.match(pools[0].circuit.lastFailure?.message ?? '', /Authentication required/);
    assert.ok(Math.abs(Date.now() - pools[0].circuit.lastFailure!.at) < 60_000);
    const instances = JSON.parse((await runBuiltCli(['--dir', directory, 'instances', '--json'])).stdout) as Array<{ pools: Pools }>;
    assert.deepEqual(instances[0]?.pools, pools);
  });
});

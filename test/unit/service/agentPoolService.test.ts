import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitForEvent } from '../../../src/core/common/event';
import { readSettings } from '../../../src/core/config/settings';
import { AgentPoolService } from '../../../src/core/service/agentPoolService';

const DIST = join(__dirname, '..', '..', '..', 'dist');

function serviceIn(directory: string, overrides: Record<string, unknown> = {}, blocked?: string): AgentPoolService {
  const values: Record<string, unknown> = { registryDirectory: directory, 'pool.minAgents': 1, 'pool.maxAgents': 2, heartbeatIntervalMs: 250, ...overrides };
  return new AgentPoolService({
    settings: readSettings((key) => values[key]).settings,
    workspace: { name: 'service-test', folders: [process.cwd()] },
    extensionVersion: 'test',
    cwd: process.cwd(),
    distDirectory: DIST,
    spawnBlockedReason: () => blocked,
    log: () => undefined,
  });
}

/** Demo-agent processes started by this test process (other test runs on the machine are not ours). */
function demoProcesses(): number[] {
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .filter((pid) => {
      try {
        const ppid = Number(readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /s, '').split(' ')[1]);
        return ppid === process.pid && readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(join(DIST, 'demo-agent.js'));
      } catch {
        return false;
      }
    })
    .map(Number);
}

describe('AgentPoolService (registry + budget + pool + metrics, real demo agents)', function () {
  this.timeout(30_000);
  let directory: string;

  beforeEach(() => (directory = mkdtempSync(join(tmpdir(), 'ap-service-'))));
  afterEach(() => rmSync(directory, { recursive: true, force: true }));

  it('registers, runs a prompt on a warm agent, and leaves nothing behind on shutdown', async () => {
    const before = new Set(demoProcesses());
    const service = serviceIn(directory);
    await service.start();
    const id = service.selfId!;
    assert.ok(existsSync(join(directory, 'instances', `${id}.json`)));
    await service.startPool('demo');
    const result = await service.run('/demo chunks=2\nhello service', { profiles: ['demo'] });
    assert.equal(result.text, 'hello service');
    assert.equal(service.budget().usedHere, 1);
    await waitForEvent(service.aggregator.onDidChange, (view) => view.totals.prompts.total === 1);
    assert.equal(service.aggregate().totals.agentsHere, 1);
    const agentPids = service.pools().flatMap((pool) => pool.agents.map((agent) => agent.pid));
    assert.ok(agentPids.every((pid) => demoProcesses().includes(pid!)), 'the /proc scan does not see the running agents');
    await service.shutdown();
    assert.deepEqual(readdirSync(join(directory, 'instances')), []);
    assert.deepEqual(readdirSync(join(directory, 'slots')).filter((name) => name.startsWith('slot-')), []);
    const left = demoProcesses().filter((pid) => !before.has(pid));
    assert.deepEqual(left, [], `LEFT demo agents ${left.join(', ')} after shutdown (the pool's agents were ${agentPids.join(', ')})`);
  });

  it('dispose() frees the budget slots only after the agents are dead', async () => {
    const service = serviceIn(directory);
    await service.start();
    await service.startPool('demo');
    const pids = service.pools().flatMap((pool) => pool.agents.map((agent) => agent.pid!));
    assert.equal(pids.length, 1);
    // Whenever the budget shows a slot freed, the agent that held it must already be gone.
    const aliveWhenFreed: number[] = [];
    service['budgetInstance']!.onDidChange((snapshot) => {
      if (snapshot.usedHere === 0) aliveWhenFreed.push(...pids.filter((pid) => demoProcesses().includes(pid)));
    });
    const done = waitForEvent(service['budgetInstance']!.onDidChange, (snapshot) => snapshot.usedHere === 0, 15_000);
    service.dispose();
    await done;
    await service.shutdown(); // the same shutdown dispose() started; lets it finish before the directory goes
    assert.deepEqual(aliveWhenFreed, []);
  });

  it('starts nothing when shut down while still starting', async () => {
    const before = new Set(demoProcesses());
    const service = serviceIn(directory);
    const starting = service.start();
    const stopping = service.shutdown();
    await starting;
    await stopping;
    await assert.rejects(service.startPool('demo'), /shutting down/);
    assert.deepEqual(demoProcesses().filter((pid) => !before.has(pid)), []);
    assert.deepEqual(readdirSync(join(directory, 'instances')), []);
  });

  it('spawns nothing and says why when spawning is blocked (Restricted Mode)', async () => {
    const service = serviceIn(directory, {}, 'Restricted Mode: no agents in untrusted workspaces.');
    await service.start();
    try {
      await assert.rejects(service.startPool('demo'), /Restricted Mode/);
      await assert.rejects(service.run('hi'), /Restricted Mode/);
      assert.deepEqual(service.pools(), []);
      assert.equal(service.budget().used, 0);
    } finally {
      await service.shutdown();
    }
  });

  it('resizes running pools live when the pool settings change', async () => {
    const service = serviceIn(directory);
    await service.start();
    try {
      await service.startPool('demo');
      const values: Record<string, unknown> = { registryDirectory: directory, 'pool.minAgents': 2, 'pool.maxAgents': 3 };
      await service.applySettings(readSettings((key) => values[key]).settings);
      const pool = service.pools()[0];
      assert.equal(pool.minAgents, 2);
      assert.equal(pool.maxAgents, 3);
      await waitForEvent(service.onDidChange, () => service.pools()[0].agents.filter((a) => a.state === 'idle').length === 2, 15_000);
    } finally {
      await service.shutdown();
    }
  });

  it('names the profile list when a profile is unknown', async () => {
    const service = serviceIn(directory);
    await service.start();
    try {
      await assert.rejects(service.startPool('nope'), /no agent profile "nope"\. Known profiles: demo, claude/);
    } finally {
      await service.shutdown();
    }
  });
});

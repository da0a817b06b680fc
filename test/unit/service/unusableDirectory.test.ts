import assert from 'node:assert/strict';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitForEvent } from '../../../src/core/common/event';
import { readSettings } from '../../../src/core/config/settings';
import { AgentPoolService } from '../../../src/core/service/agentPoolService';

const DIST = join(__dirname, '..', '..', '..', 'dist');
const FAIL_FAST_MS = 2_000;
const NOT_A_DIRECTORY = /cannot be used because a file stands where a directory should be \(ENOTDIR\)/;

/**
 * What the extension and the API stand on when the registry directory cannot be used (a file in
 * its place here; read-only and full in the host test and the chaos suite): a prompt fails in
 * under 2 s with the directory and the cause, never after the acquire timeout with "the budget
 * is exhausted", and works again once the directory is back. Real demo agents.
 */
describe('the service on an unusable registry directory (real demo agents)', function () {
  this.timeout(40_000);
  let root: string;
  let directory: string;
  const services: AgentPoolService[] = [];

  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'ap-unusable-'));
    directory = join(root, 'registry');
  });
  afterEach(async () => {
    await Promise.all(services.splice(0).map((service) => service.shutdown()));
    rmSync(root, { recursive: true, force: true });
  });

  async function service(): Promise<AgentPoolService> {
    const values: Record<string, unknown> = { registryDirectory: directory, 'pool.minAgents': 1, 'pool.maxAgents': 3 };
    const { settings } = readSettings((key) => values[key]);
    const created = new AgentPoolService({
      settings,
      workspace: { name: 'unusable', folders: [root] },
      extensionVersion: 'test',
      cwd: root,
      distDirectory: DIST,
      spawnBlockedReason: () => undefined,
      log: () => undefined,
    });
    services.push(created);
    await created.start();
    return created;
  }

  async function failsFast(what: string, attempt: () => Promise<unknown>): Promise<void> {
    const started = performance.now();
    const error = await attempt().then(
      () => undefined,
      (caught: unknown) => caught as Error,
    );
    const ms = performance.now() - started;
    assert.ok(error, `${what} succeeded`);
    assert.ok(ms < FAIL_FAST_MS, `${what} took ${Math.round(ms)} ms to fail`);
    assert.ok(error.message.includes(directory), `${what} did not name ${directory}: ${error.message}`);
    assert.match(error.message, NOT_A_DIRECTORY);
    assert.doesNotMatch(error.message, /exhausted|became free within/);
  }

  it('unusable from the start: run, acquire and starting a pool fail at once, naming the directory and the cause', async () => {
    writeFileSync(directory, 'not a directory');
    const window = await service();
    assert.match(window.registrationProblem ?? '', NOT_A_DIRECTORY);
    await failsFast('run', () => window.run('hello', { profiles: ['demo'] }));
    await failsFast('acquire', () => window.acquire({ profiles: ['demo'] }));
    await failsFast('startPool', () => window.startPool('demo'));
  });

  it('unusable mid-run: a prompt that needs a new agent fails at once, not at the acquire timeout; it works again once the directory is back', async () => {
    const window = await service();
    await window.startPool('demo');
    const lease = await window.acquire({ profiles: ['demo'] });
    renameSync(directory, `${directory}.away`);
    writeFileSync(directory, 'not a directory');
    await failsFast('run needing a second agent', () => window.run('/demo\nneeds a new agent', { profiles: ['demo'] }));
    const answer = await lease.prompt('the leased agent still answers');
    assert.equal(answer.text, 'the leased agent still answers');
    lease.release();
    rmSync(directory);
    renameSync(`${directory}.away`, directory);
    // The budget probes the directory again on its poll and says when it is usable.
    if (window.budget().unavailableReason !== undefined) await waitForEvent(window.onDidChange, () => window.budget().unavailableReason === undefined, 20_000);
    const again = await window.run('/demo\nback', { profiles: ['demo'] });
    assert.equal(again.text, 'back');
  });
});

import assert from 'node:assert/strict';
import { readSettings } from '../../../src/core/config/settings';

const from = (values: Record<string, unknown>) => (key: string) => values[key];

describe('readSettings', () => {
  it('uses the manifest defaults when nothing is set', () => {
    const { settings, problems } = readSettings(from({}));
    assert.deepEqual(problems, []);
    assert.equal(settings.maxAgentsTotal, 8);
    assert.equal(settings.pool.maxAgents, 4);
    assert.equal(settings.pool.idleWatchdogMs, 120_000);
    assert.equal(settings.pool.recycleMaxMemoryBytes, 2048 * 2 ** 20);
    assert.equal(settings.heartbeatIntervalMs, 2000);
  });

  it('rejects a value out of range, names the setting, and keeps the last valid value', () => {
    const first = readSettings(from({ 'pool.maxAgents': 6 })).settings;
    const { settings, problems } = readSettings(from({ 'pool.maxAgents': 500 }), first);
    assert.equal(settings.pool.maxAgents, 6);
    assert.equal(problems.length, 1);
    assert.match(problems[0], /agentPool\.pool\.maxAgents: must be at most 256, got 500\. Using 6/);
  });

  it('rejects a wrong type and an unknown strategy', () => {
    const { settings, problems } = readSettings(from({ maxAgentsTotal: 'ten', 'pool.strategy': 'fastest' }));
    assert.equal(settings.maxAgentsTotal, 8);
    assert.equal(settings.pool.strategy, 'least-busy');
    assert.equal(problems.length, 2);
    assert.match(problems.join('\n'), /agentPool\.maxAgentsTotal: must be a number/);
    assert.match(problems.join('\n'), /agentPool\.pool\.strategy: must be one of round-robin/);
  });

  it('converts seconds and minutes settings to milliseconds', () => {
    const { settings } = readSettings(from({ 'pool.idleWatchdogSeconds': 5, 'recycle.maxAgeMinutes': 2 }));
    assert.equal(settings.pool.idleWatchdogMs, 5000);
    assert.equal(settings.pool.recycleMaxAgeMs, 120_000);
  });

  it('caps minAgents at maxAgents and says so', () => {
    const { settings, problems } = readSettings(from({ 'pool.minAgents': 9, 'pool.maxAgents': 3 }));
    assert.equal(settings.pool.minAgents, 3);
    assert.match(problems[0], /minAgents \(9\) is above agentPool\.pool\.maxAgents \(3\)/);
  });
});

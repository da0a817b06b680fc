import assert from 'node:assert/strict';
import manifest from '../../../package.json';
import { readSettings } from '../../../src/core/config/settings';
import { FED_POOL_OPTIONS, SECTION, SETTING_ROWS, settingName, type SettingRow } from '../../../src/core/config/settingsTable';
import { InProcessBudget } from '../../fixtures/inProcessBudget';
import { POOL_DEFAULTS, resolvePoolOptions, type PoolOptions } from '../../../src/core/pool/options';
import { ROUTING_STRATEGIES } from '../../../src/core/pool/routers/agentRouters';
import { parseLimits } from '../../../src/vscode/limits';
import { FakeAgent } from '../pool/fakeAgent';
import { demoProfile } from '../pool/helpers';

type ManifestSetting = { type: string; default: unknown; minimum?: number; maximum?: number; enum?: string[]; scope?: string };
const MANIFEST = manifest.contributes.configuration.properties as unknown as Record<string, ManifestSetting>;

function poolOptions(extra: Partial<PoolOptions>): PoolOptions {
  return { profile: demoProfile(), createConnection: (profile) => new FakeAgent(profile), budget: new InProcessBudget(2), cwd: '/tmp', ...extra };
}

describe('settings table', () => {
  it('has a row for every agentPool setting of package.json, and package.json a setting for every row', () => {
    const inManifest = Object.keys(MANIFEST).filter((key) => key.startsWith(`${SECTION}.`)).sort();
    assert.deepEqual(SETTING_ROWS.map(settingName).sort(), inManifest);
  });

  for (const row of SETTING_ROWS) {
    it(`agrees with package.json on ${settingName(row)}`, () => {
      const schema = MANIFEST[settingName(row)];
      assert.equal(schema.type, row.type, 'type');
      assert.deepEqual(schema.default, row.default, 'default');
      assert.equal(schema.scope, row.scope, 'scope');
      assert.equal(schema.minimum, row.type === 'integer' ? row.min : undefined, 'minimum');
      assert.equal(schema.maximum, row.type === 'integer' ? row.max : undefined, 'maximum');
      assert.deepEqual(schema.enum, row.type === 'string' ? (row as Extract<SettingRow, { type: 'string' }>).enum : undefined, 'enum');
    });
  }

  it('offers exactly the pool strategies the pool knows', () => {
    const strategy = SETTING_ROWS.find((row) => row.key === 'pool.strategy');
    assert.ok(strategy?.type === 'string');
    assert.deepEqual([...(strategy.enum ?? [])].sort(), Object.keys(ROUTING_STRATEGIES).sort());
  });

  it('gives the pool the same defaults as the settings, in the options units', () => {
    const { settings } = readSettings(() => undefined);
    for (const [option, value] of Object.entries(settings.pool)) {
      assert.deepEqual((POOL_DEFAULTS as Record<string, unknown>)[option], value, option);
    }
  });

  it('gives the pool options the same upper limits as the settings that feed them', () => {
    for (const [option, fed] of FED_POOL_OPTIONS) {
      const row = fed.row;
      if (!fed.limits || row.type !== 'integer') continue;
      const [, max] = fed.limits;
      const extra = option === 'minAgents' ? { maxAgents: max } : {};
      assert.doesNotThrow(() => resolvePoolOptions(poolOptions({ ...extra, [option]: max })), option);
      assert.throws(() => resolvePoolOptions(poolOptions({ ...extra, [option]: max + 1 })), new RegExp(`option "${option}" must be a whole number from \\d+ to ${max}`));
      const tooBig = readSettings((key) => (key === row.key ? row.max + 1 : undefined));
      assert.match(tooBig.problems.join('\n'), new RegExp(`${settingName(row).replace(/\./g, '\\.')}: must be at most ${row.max}`));
    }
  });

  it('bounds pool sizes alike in the settings, the pool options and the Scale Pool input', () => {
    assert.throws(() => resolvePoolOptions(poolOptions({ minAgents: 257, maxAgents: 257 })), /"minAgents" must be a whole number from 0 to 256/);
    assert.match(readSettings((key) => (key === 'pool.minAgents' ? 257 : undefined)).problems[0], /agentPool\.pool\.minAgents: must be at most 256/);
    assert.deepEqual(parseLimits('0-256'), { minAgents: 0, maxAgents: 256 });
    assert.equal(parseLimits('1-257'), undefined);
  });
});

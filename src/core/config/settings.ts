import { SECTION, SETTING_ROWS, settingName, type PoolSettings, type SettingRow, type Settings } from './settingsTable';

export { SECTION, type PoolSettings, type Settings } from './settingsTable';

/**
 * Reads the extension's settings through a `get(key)` function, so the same validation serves VS
 * Code (workspace configuration), the CLI and tests. Every limit comes from the settings table,
 * which package.json's schema is tested against, so the settings UI and this check never disagree.
 * A bad value never takes effect: the previous valid value (or the default) stays, and a problem
 * names the setting, the value and what is allowed.
 */
export interface SettingsResult {
  settings: Settings;
  /** One sentence per rejected value, naming the setting. */
  problems: string[];
}

/** Reads and validates every setting; `previous` supplies the last valid value for a rejected one. */
export function readSettings(get: (key: string) => unknown, previous?: Settings): SettingsResult {
  const problems: string[] = [];
  const service: Record<string, unknown> = {};
  const pool: Record<string, unknown> = {};
  for (const row of SETTING_ROWS) {
    const factor = 'pool' in row.feeds ? (row.feeds.factor ?? 1) : 1;
    const previousValue = previous === undefined ? undefined : settingValue(previous, row);
    const fallback = previousValue === undefined ? row.default : typeof previousValue === 'number' ? previousValue / factor : previousValue;
    const value = pick(row, get(row.key), fallback, problems);
    if ('pool' in row.feeds) pool[row.feeds.pool] = typeof value === 'number' ? value * factor : value;
    else service[row.feeds.service] = value;
  }
  const settings = { ...service, pool } as unknown as Settings;
  const sizes: PoolSettings = settings.pool;
  if (sizes.minAgents > sizes.maxAgents) {
    problems.push(
      `Setting ${SECTION}.pool.minAgents (${sizes.minAgents}) is above ${SECTION}.pool.maxAgents (${sizes.maxAgents}). ` +
        `Keeping ${sizes.maxAgents} warm at most; lower minAgents or raise maxAgents.`,
    );
    sizes.minAgents = sizes.maxAgents;
  }
  if (sizes.dedicatedAgents.length > 0 && sizes.strategy !== 'module-affinity') {
    problems.push(
      `Setting ${SECTION}.pool.dedicatedAgents lists ${sizes.dedicatedAgents.length} pair(s), but ${SECTION}.pool.strategy is "${sizes.strategy}": ` +
        `dedicated agents need "module-affinity", the only strategy that keeps other work off them. Starting none until the strategy is set to module-affinity.`,
    );
    sizes.dedicatedAgents = [];
  }
  return { settings, problems };
}

/** The value `settings` holds for `row`, in the unit of what it feeds (a pool option's ms, bytes). */
export function settingValue(settings: Settings, row: SettingRow): unknown {
  return 'pool' in row.feeds ? (settings.pool as Record<string, unknown>)[row.feeds.pool] : (settings as unknown as Record<string, unknown>)[row.feeds.service];
}

function pick(row: SettingRow, value: unknown, fallback: unknown, problems: string[]): unknown {
  if (value === undefined || value === null) return row.default;
  const problem = checkValue(value, row);
  if (!problem) return value;
  problems.push(`Setting ${settingName(row)}: ${problem}, got ${JSON.stringify(value)}. Using ${JSON.stringify(fallback)} until it is fixed.`);
  return fallback;
}

function isModulePair(item: unknown): boolean {
  if (typeof item !== 'object' || item === null || Array.isArray(item)) return false;
  const { sourceModule, targetModule, ...rest } = item as Record<string, unknown>;
  const text = (field: unknown) => field === undefined || (typeof field === 'string' && field.trim() !== '');
  return Object.keys(rest).length === 0 && text(sourceModule) && text(targetModule) && (sourceModule !== undefined || targetModule !== undefined);
}

function checkValue(value: unknown, row: SettingRow): string | undefined {
  switch (row.type) {
    case 'integer':
      if (typeof value !== 'number' || !Number.isFinite(value)) return 'must be a number';
      if (!Number.isInteger(value)) return 'must be a whole number';
      if (value < row.min) return `must be at least ${row.min}`;
      if (value > row.max) return `must be at most ${row.max}`;
      return undefined;
    case 'string':
      if (typeof value !== 'string') return 'must be text';
      if (row.enum && !row.enum.includes(value)) return `must be one of ${row.enum.join(', ')}`;
      return undefined;
    case 'boolean':
      return typeof value === 'boolean' ? undefined : 'must be true or false';
    case 'object':
      return typeof value === 'object' && !Array.isArray(value) ? undefined : 'must be an object';
    case 'array':
      if (!Array.isArray(value)) return 'must be a list';
      return value.every(isModulePair) ? undefined : 'must be a list of {"sourceModule": "...", "targetModule": "..."} (text, at least one of the two)';
  }
}

import manifest from '../../../package.json';

/**
 * The extension's settings, read through a `get(key)` function so the same validation serves VS Code
 * (workspace configuration) and tests. The limits are the manifest's own schema, so the settings UI
 * and this check can never disagree. A bad value never takes effect: the previous valid value (or the
 * default) stays, and a problem names the setting, the value and what is allowed.
 */
export interface PoolSettings {
  minAgents: number;
  maxAgents: number;
  strategy: string;
  queueLimit: number;
  acquireTimeoutMs: number;
  idleWatchdogMs: number;
  turnDeadlineMs: number;
  scaleDownAfterMs: number;
  recycleMaxAgeMs: number;
  recycleMaxTurns: number;
  recycleMaxMemoryBytes: number;
}

export interface Settings {
  /** Raw user profiles by name; validated by the agents layer, which knows the adapters. */
  profiles: Record<string, unknown>;
  defaultProfile: string;
  pool: PoolSettings;
  maxAgentsTotal: number;
  maxAgentsPerWindow: number;
  registryDirectory: string;
  heartbeatIntervalMs: number;
}

export interface SettingsResult {
  settings: Settings;
  /** One sentence per rejected value, naming the setting. */
  problems: string[];
}

type Schema = { type: string; default: unknown; minimum?: number; maximum?: number; enum?: string[] };
const SCHEMA = manifest.contributes.configuration.properties as unknown as Record<string, Schema>;

export const SECTION = 'agentPool';

/** Reads and validates every setting; `previous` supplies the last valid value for a rejected one. */
export function readSettings(get: (key: string) => unknown, previous?: Settings): SettingsResult {
  const problems: string[] = [];
  const pick = <T>(key: string, fallback: T | undefined): T => {
    const fullKey = `${SECTION}.${key}`;
    const schema = SCHEMA[fullKey];
    if (!schema) throw new Error(`setting ${fullKey} is not in package.json`);
    const value = get(key);
    const fallbackValue = (fallback ?? schema.default) as T;
    if (value === undefined || value === null) return schema.default as T;
    const problem = checkValue(value, schema);
    if (problem) {
      problems.push(`Setting ${fullKey}: ${problem}, got ${JSON.stringify(value)}. Using ${JSON.stringify(fallbackValue)} until it is fixed.`);
      return fallbackValue;
    }
    return value as T;
  };
  const prev = previous?.pool;
  const minutes = 60_000;
  const pool: PoolSettings = {
    minAgents: pick('pool.minAgents', prev?.minAgents),
    maxAgents: pick('pool.maxAgents', prev?.maxAgents),
    strategy: pick('pool.strategy', prev?.strategy),
    queueLimit: pick('pool.queueLimit', prev?.queueLimit),
    acquireTimeoutMs: pick('pool.acquireTimeoutMs', prev?.acquireTimeoutMs),
    idleWatchdogMs: pick<number>('pool.idleWatchdogSeconds', prev && prev.idleWatchdogMs / 1000) * 1000,
    turnDeadlineMs: pick<number>('pool.turnDeadlineSeconds', prev && prev.turnDeadlineMs / 1000) * 1000,
    scaleDownAfterMs: pick<number>('pool.scaleDownAfterSeconds', prev && prev.scaleDownAfterMs / 1000) * 1000,
    recycleMaxAgeMs: pick<number>('recycle.maxAgeMinutes', prev && prev.recycleMaxAgeMs / minutes) * minutes,
    recycleMaxTurns: pick('recycle.maxTurns', prev?.recycleMaxTurns),
    recycleMaxMemoryBytes: pick<number>('recycle.maxMemoryMB', prev && prev.recycleMaxMemoryBytes / 2 ** 20) * 2 ** 20,
  };
  if (pool.minAgents > pool.maxAgents) {
    problems.push(
      `Setting ${SECTION}.pool.minAgents (${pool.minAgents}) is above ${SECTION}.pool.maxAgents (${pool.maxAgents}). ` +
        `Keeping ${pool.maxAgents} warm at most; lower minAgents or raise maxAgents.`,
    );
    pool.minAgents = pool.maxAgents;
  }
  const settings: Settings = {
    profiles: pick('profiles', previous?.profiles),
    defaultProfile: pick('defaultProfile', previous?.defaultProfile),
    pool,
    maxAgentsTotal: pick('maxAgentsTotal', previous?.maxAgentsTotal),
    maxAgentsPerWindow: pick('maxAgentsPerWindow', previous?.maxAgentsPerWindow),
    registryDirectory: pick('registryDirectory', previous?.registryDirectory),
    heartbeatIntervalMs: pick('heartbeatIntervalMs', previous?.heartbeatIntervalMs),
  };
  return { settings, problems };
}

function checkValue(value: unknown, schema: Schema): string | undefined {
  switch (schema.type) {
    case 'integer':
    case 'number':
      if (typeof value !== 'number' || !Number.isFinite(value)) return 'must be a number';
      if (schema.type === 'integer' && !Number.isInteger(value)) return 'must be a whole number';
      if (schema.minimum !== undefined && value < schema.minimum) return `must be at least ${schema.minimum}`;
      if (schema.maximum !== undefined && value > schema.maximum) return `must be at most ${schema.maximum}`;
      return undefined;
    case 'string':
      if (typeof value !== 'string') return 'must be text';
      if (schema.enum && !schema.enum.includes(value)) return `must be one of ${schema.enum.join(', ')}`;
      return undefined;
    case 'object':
      return typeof value === 'object' && !Array.isArray(value) ? undefined : 'must be an object';
    default:
      return undefined;
  }
}

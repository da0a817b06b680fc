/**
 * Every `agentPool.*` setting, once: its key, type, default, limits and unit, its scope, the pool
 * option or service setting it feeds, and when a change takes effect. `readSettings` (VS Code and
 * the CLI), the pool's option check (`pool/options.ts`) and the Scale Pool input read their limits
 * and defaults from here, so they cannot disagree; `test/unit/config/settingsTable.test.ts` fails
 * when package.json's `contributes.configuration` says otherwise.
 *
 * To add a setting:
 * 1. Add a row below: `key` as under `agentPool.`, `type`, `default`, for numbers `unit`, `min` and
 *    `max` (in the setting's unit), for text with fixed values `enum`, `scope` (a setting that names a
 *    program to run is `machine` or `application`), `applies`, and `feeds`.
 * 2. Add the same property to package.json with a `markdownDescription`; the test above checks that
 *    key, type, default, minimum/maximum, enum and scope agree both ways.
 * 3. `feeds: { pool: 'someOption', factor }` passes the value, times `factor` (e.g. seconds to ms), to
 *    every pool the service starts: add `someOption` to `PoolOptions` (pool/options.ts), which takes
 *    its limits and default from the row. `optionMin` lets the option take values finer than the
 *    setting's unit (tests and API callers use sub-second timeouts). `feeds: { service: 'name' }`
 *    puts it on `Settings` as `name` for the service to read.
 * 4. `applies`: 'new-pools' and 'reload' need nothing more: `AgentPoolService.applySettings` tells
 *    the user when the change takes effect. A 'live' setting needs code there that applies it.
 * `Settings` and `PoolSettings` are derived from the rows, so no type is edited by hand.
 */

/** When a changed value takes effect: at once, for pools started from now on, or after a window reload. */
export type SettingApplies = 'live' | 'new-pools' | 'reload';

export type SettingScope = 'application' | 'machine' | 'window' | 'resource';

export type SettingUnit = 'agents' | 'prompts' | 'turns' | 'recycles' | 'percent' | 'ms' | 'seconds' | 'minutes' | 'MB';

interface RowBase {
  readonly key: string;
  readonly scope: SettingScope;
  readonly applies: SettingApplies;
  readonly feeds: { readonly pool: string; readonly factor?: number; readonly optionMin?: number } | { readonly service: string };
}

export interface IntegerRow extends RowBase {
  readonly type: 'integer';
  readonly default: number;
  readonly unit: SettingUnit;
  readonly min: number;
  readonly max: number;
}

export interface StringRow extends RowBase {
  readonly type: 'string';
  readonly default: string;
  readonly enum?: readonly string[];
}

export interface BooleanRow extends RowBase {
  readonly type: 'boolean';
  readonly default: boolean;
}

export interface ObjectRow extends RowBase {
  readonly type: 'object';
  readonly default: Record<string, unknown>;
}

/** A module pair, as a dedicated agent serves it (seed 000's create_dedicated_instance). */
export interface ModulePair {
  sourceModule?: string;
  targetModule?: string;
}

/** A list whose items are checked by `items`: today only module pairs. */
export interface PairListRow extends RowBase {
  readonly type: 'array';
  readonly items: 'module-pair';
  readonly default: readonly ModulePair[];
}

export type SettingRow = IntegerRow | StringRow | BooleanRow | ObjectRow | PairListRow;

export const SECTION = 'agentPool';

const MINUTE_MS = 60_000;
const MB = 2 ** 20;

export const SETTINGS_TABLE = [
  // Raw user profiles by name; validated by the agents layer, which knows the adapters.
  { key: 'profiles', type: 'object', default: {}, scope: 'machine', applies: 'new-pools', feeds: { service: 'profiles' } },
  // Read whenever a pool is started for the default profile, so a change needs no note.
  { key: 'defaultProfile', type: 'string', default: '', scope: 'machine', applies: 'live', feeds: { service: 'defaultProfile' } },
  { key: 'pool.minAgents', type: 'integer', default: 1, unit: 'agents', min: 0, max: 256, scope: 'window', applies: 'live', feeds: { pool: 'minAgents' } },
  { key: 'pool.maxAgents', type: 'integer', default: 4, unit: 'agents', min: 1, max: 256, scope: 'window', applies: 'live', feeds: { pool: 'maxAgents' } },
  {
    key: 'pool.strategy',
    type: 'string',
    default: 'least-busy',
    enum: ['round-robin', 'least-busy', 'least-recently-used', 'random', 'power-of-two', 'sticky-session', 'module-affinity'],
    scope: 'window',
    applies: 'new-pools',
    feeds: { pool: 'strategy' },
  },
  { key: 'pool.queueLimit', type: 'integer', default: 64, unit: 'prompts', min: 0, max: 10_000, scope: 'window', applies: 'new-pools', feeds: { pool: 'queueLimit' } },
  { key: 'pool.acquireTimeoutMs', type: 'integer', default: 60_000, unit: 'ms', min: 100, max: 3_600_000, scope: 'window', applies: 'new-pools', feeds: { pool: 'acquireTimeoutMs' } },
  { key: 'pool.idleWatchdogSeconds', type: 'integer', default: 120, unit: 'seconds', min: 1, max: 3600, scope: 'window', applies: 'new-pools', feeds: { pool: 'idleWatchdogMs', factor: 1000, optionMin: 1 } },
  { key: 'pool.turnDeadlineSeconds', type: 'integer', default: 1800, unit: 'seconds', min: 1, max: 86_400, scope: 'window', applies: 'new-pools', feeds: { pool: 'turnDeadlineMs', factor: 1000, optionMin: 1 } },
  // Well under the idle watchdog: real agents stream a first event within seconds (claude ~2 s cold), one
  // with no network or no sign-in says nothing for minutes. It counts toward the circuit breaker.
  { key: 'pool.firstEventTimeoutSeconds', type: 'integer', default: 45, unit: 'seconds', min: 1, max: 3600, scope: 'window', applies: 'new-pools', feeds: { pool: 'firstEventTimeoutMs', factor: 1000, optionMin: 1 } },
  { key: 'pool.scaleDownAfterSeconds', type: 'integer', default: 300, unit: 'seconds', min: 1, max: 86_400, scope: 'window', applies: 'new-pools', feeds: { pool: 'scaleDownAfterMs', factor: 1000, optionMin: 1 } },
  { key: 'pool.keepSpareAgent', type: 'boolean', default: true, scope: 'window', applies: 'new-pools', feeds: { pool: 'keepSpareAgent' } },
  { key: 'pool.dedicatedPairs', type: 'boolean', default: false, scope: 'window', applies: 'new-pools', feeds: { pool: 'dedicatedPairs' } },
  // Needs pool.strategy module-affinity, the only router that keeps other work off a dedicated agent: readSettings says so.
  { key: 'pool.dedicatedAgents', type: 'array', items: 'module-pair', default: [], scope: 'window', applies: 'new-pools', feeds: { pool: 'dedicatedAgents' } },
  { key: 'recycle.maxAgeMinutes', type: 'integer', default: 240, unit: 'minutes', min: 0, max: 10_080, scope: 'window', applies: 'new-pools', feeds: { pool: 'recycleMaxAgeMs', factor: MINUTE_MS } },
  { key: 'recycle.maxTurns', type: 'integer', default: 200, unit: 'turns', min: 0, max: 1_000_000, scope: 'window', applies: 'new-pools', feeds: { pool: 'recycleMaxTurns' } },
  // An idle agent should sleep: one whose process tree keeps half a core busy for two minutes with no turn is replaced.
  // Over 100 is possible, as a tree can use several cores.
  { key: 'recycle.maxIdleCpuPercent', type: 'integer', default: 50, unit: 'percent', min: 0, max: 6400, scope: 'window', applies: 'new-pools', feeds: { pool: 'recycleMaxIdleCpuPercent' } },
  { key: 'recycle.idleCpuSeconds', type: 'integer', default: 120, unit: 'seconds', min: 1, max: 86_400, scope: 'window', applies: 'new-pools', feeds: { pool: 'recycleIdleCpuWindowMs', factor: 1000, optionMin: 1 } },
  // The loop stopper: a fresh process that reaches the same limit at once would otherwise be replaced for ever.
  { key: 'recycle.maxPerHour', type: 'integer', default: 10, unit: 'recycles', min: 0, max: 10_000, scope: 'window', applies: 'new-pools', feeds: { pool: 'recycleMaxPerHour' } },
  { key: 'recycle.maxMemoryMB', type: 'integer', default: 2048, unit: 'MB', min: 0, max: 1_048_576, scope: 'window', applies: 'new-pools', feeds: { pool: 'recycleMaxMemoryBytes', factor: MB } },
  { key: 'maxAgentsTotal', type: 'integer', default: 8, unit: 'agents', min: 1, max: 256, scope: 'machine', applies: 'reload', feeds: { service: 'maxAgentsTotal' } },
  { key: 'maxAgentsPerWindow', type: 'integer', default: 4, unit: 'agents', min: 1, max: 256, scope: 'machine', applies: 'reload', feeds: { service: 'maxAgentsPerWindow' } },
  { key: 'registryDirectory', type: 'string', default: '', scope: 'machine', applies: 'reload', feeds: { service: 'registryDirectory' } },
  // Where the registry, the budget and the metrics live: files on this machine, or etcd across machines (issue 16).
  { key: 'backend', type: 'string', default: 'local', enum: ['local', 'etcd'], scope: 'machine', applies: 'reload', feeds: { service: 'backend' } },
  // Comma-separated http(s)://host:port of the etcd members; the password is never a setting (SecretStorage, or AGENT_POOL_ETCD_PASSWORD for the CLI).
  { key: 'etcd.endpoints', type: 'string', default: '', scope: 'machine', applies: 'reload', feeds: { service: 'etcdEndpoints' } },
  { key: 'etcd.keyPrefix', type: 'string', default: 'agent-pool', scope: 'machine', applies: 'reload', feeds: { service: 'etcdKeyPrefix' } },
  { key: 'etcd.caFile', type: 'string', default: '', scope: 'machine', applies: 'reload', feeds: { service: 'etcdCaFile' } },
  { key: 'etcd.certFile', type: 'string', default: '', scope: 'machine', applies: 'reload', feeds: { service: 'etcdCertFile' } },
  { key: 'etcd.keyFile', type: 'string', default: '', scope: 'machine', applies: 'reload', feeds: { service: 'etcdKeyFile' } },
  { key: 'etcd.username', type: 'string', default: '', scope: 'machine', applies: 'reload', feeds: { service: 'etcdUsername' } },
  { key: 'etcd.leaseTtlSeconds', type: 'integer', default: 10, unit: 'seconds', min: 2, max: 300, scope: 'machine', applies: 'reload', feeds: { service: 'etcdLeaseTtlSeconds' } },
  { key: 'heartbeatIntervalMs', type: 'integer', default: 2000, unit: 'ms', min: 250, max: 60_000, scope: 'machine', applies: 'reload', feeds: { service: 'heartbeatIntervalMs' } },
  // Conversations unused this long are closed (record and agent session); 0 keeps them.
  { key: 'conversations.idleCloseMinutes', type: 'integer', default: 1440, unit: 'minutes', min: 0, max: 525_600, scope: 'machine', applies: 'reload', feeds: { service: 'conversationIdleCloseMinutes' } },
] as const satisfies readonly SettingRow[];

type Row = (typeof SETTINGS_TABLE)[number];

type ValueOf<R extends Row> = R extends { type: 'integer' }
  ? number
  : R extends { type: 'boolean' }
    ? boolean
    : R extends { type: 'object' }
      ? Record<string, unknown>
      : R extends { type: 'array' }
        ? ModulePair[]
        : string;

/** The pool options the settings feed, in the options' own units (ms, bytes). */
export type PoolSettings = { -readonly [R in Row as R['feeds'] extends { pool: infer O extends string } ? O : never]: ValueOf<R> };

export type Settings = { -readonly [R in Row as R['feeds'] extends { service: infer S extends string } ? S : never]: ValueOf<R> } & {
  pool: PoolSettings;
};

export const SETTING_ROWS: readonly SettingRow[] = SETTINGS_TABLE;

const ROW_BY_KEY = new Map<string, SettingRow>(SETTING_ROWS.map((row) => [row.key, row]));

/** The row of `key` (under `agentPool.`); throws for a setting that is not in the table. */
export function settingRow(key: string): SettingRow {
  const row = ROW_BY_KEY.get(key);
  if (!row) throw new Error(`setting ${SECTION}.${key} is not in the settings table (src/core/config/settingsTable.ts)`);
  return row;
}

/** An integer row by key, for callers that need its limits (the Scale Pool input). */
export function integerRow(key: string): IntegerRow {
  const row = settingRow(key);
  if (row.type !== 'integer') throw new Error(`setting ${SECTION}.${key} is not a whole number`);
  return row;
}

/** The range and default a pool option takes from the setting that feeds it, in the option's unit. */
export interface FedPoolOption {
  readonly row: SettingRow;
  readonly factor: number;
  /** Whole numbers only; undefined for options that are not numbers. */
  readonly limits?: readonly [number, number];
  readonly default: unknown;
}

/** pool option -> what its setting says about it. */
export const FED_POOL_OPTIONS: ReadonlyMap<string, FedPoolOption> = new Map(
  SETTING_ROWS.flatMap((row): Array<[string, FedPoolOption]> => {
    if (!('pool' in row.feeds)) return [];
    const factor = row.feeds.factor ?? 1;
    if (row.type !== 'integer') return [[row.feeds.pool, { row, factor, default: row.default }]];
    const limits = [row.feeds.optionMin ?? row.min * factor, row.max * factor] as const;
    return [[row.feeds.pool, { row, factor, limits, default: row.default * factor }]];
  }),
);

/** The full name a person types in the settings, e.g. "agentPool.pool.idleWatchdogSeconds". */
export function settingName(row: SettingRow): string {
  return `${SECTION}.${row.key}`;
}

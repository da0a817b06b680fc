import type { AgentConnection, AgentConnectionOptions, AgentProfile, PermissionHandler } from '../agents/adapter';
import type { AgentBudget } from '../budget/budget';
import { Clock, systemClock } from '../common/clock';
import { FED_POOL_OPTIONS, type PoolSettings } from '../config/settingsTable';
import { PoolError } from './errors';
import { ROUTING_STRATEGIES, RoutingStrategyName } from './routers/agentRouters';
import { sampleProcessTreeCpuMs, sampleProcessTreeRss } from '../process/tree';

export type ConnectionFactory = (profile: AgentProfile, options: AgentConnectionOptions) => AgentConnection;

/** What a caller may set. Every number is validated up front; unknown keys are rejected (tarn.js style). */
export interface PoolOptions {
  profile: AgentProfile;
  createConnection: ConnectionFactory;
  budget: AgentBudget;
  /** Working directory for agents and their sessions (absolute). */
  cwd: string;
  minAgents?: number;
  maxAgents?: number;
  strategy?: RoutingStrategyName;
  /** Module-pair affinity only: an agent that served a pair serves only that pair. */
  dedicatedPairs?: boolean;
  /** Module-affinity only: one agent per entry, started for that pair and serving it only (seed 000's dedicated instances). */
  dedicatedAgents?: ReadonlyArray<{ sourceModule?: string; targetModule?: string }>;
  /** 'fresh': each non-sticky lease gets a new session (opened ahead of time); 'reuse': one session per agent. */
  sessionMode?: 'fresh' | 'reuse';
  queueLimit?: number;
  acquireTimeoutMs?: number;
  idleWatchdogMs?: number;
  turnDeadlineMs?: number;
  /** A turn with no event at all this long after its prompt fails with AGENT_FIRST_EVENT_TIMEOUT (network, sign-in, rate limit). */
  firstEventTimeoutMs?: number;
  /** How long a cancelled turn may take to end before the agent is killed. */
  cancelGraceMs?: number;
  /** SIGTERM-to-SIGKILL grace when killing an agent's process group. */
  killGraceMs?: number;
  /** How long close() lets running turns finish before cancelling them. */
  shutdownGraceMs?: number;
  autoscale?: boolean;
  /** With autoscale: start one agent ahead when more than 80% of at least two ready agents are busy. */
  keepSpareAgent?: boolean;
  scaleDownAfterMs?: number;
  recycleMaxAgeMs?: number;
  recycleMaxTurns?: number;
  recycleMaxMemoryBytes?: number;
  /** Consecutive over-limit samples before a memory recycle, so one spike does not recycle. */
  memorySamplesOverLimit?: number;
  memorySampleIntervalMs?: number;
  /** Percent of one core an idle agent's process tree may average over recycleIdleCpuWindowMs (0: no limit). */
  recycleMaxIdleCpuPercent?: number;
  recycleIdleCpuWindowMs?: number;
  /** Automatic recycles of one pool position within an hour before it is kept as it is (0: no cap). */
  recycleMaxPerHour?: number;
  restartBaseDelayMs?: number;
  restartMaxDelayMs?: number;
  circuitFailureThreshold?: number;
  circuitCooldownMs?: number;
  clock?: Clock;
  /** For the random strategies and restart jitter; tests make it deterministic. */
  rng?: () => number;
  sampleMemory?: (pid: number) => Promise<number | undefined>;
  /** CPU ms used so far by a process tree (recycling by idle CPU). */
  sampleCpu?: (pid: number) => Promise<number | undefined>;
  permissionHandler?: PermissionHandler;
  /** `error`: the failure the line reports, so a surface that shows the failure itself can skip the line. */
  log?: (level: 'trace' | 'debug' | 'info' | 'warn' | 'error', message: string, error?: unknown) => void;
}

export type ResolvedPoolOptions = Required<Omit<PoolOptions, 'permissionHandler' | 'log'>> &
  Pick<PoolOptions, 'permissionHandler' | 'log'>;

/**
 * Limits and defaults of the options no setting feeds. Those a setting feeds (sizes, strategy,
 * queue, timeouts, recycling) take theirs from the settings table, so the pool, the settings UI,
 * the CLI and the Scale Pool input accept the same values.
 */
const OWN_LIMITS = {
  cancelGraceMs: [0, 600_000],
  killGraceMs: [0, 600_000],
  shutdownGraceMs: [0, 3600_000],
  memorySamplesOverLimit: [1, 1000],
  memorySampleIntervalMs: [10, 3600_000],
  restartBaseDelayMs: [0, 3600_000],
  restartMaxDelayMs: [0, 24 * 3600_000],
  circuitFailureThreshold: [1, 1000],
  circuitCooldownMs: [1, 24 * 3600_000],
} as const satisfies Partial<Record<keyof PoolOptions, readonly [number, number]>>;

const OWN_DEFAULTS = {
  sessionMode: 'fresh',
  cancelGraceMs: 2_000,
  killGraceMs: 2_000,
  shutdownGraceMs: 5_000,
  autoscale: true,
  memorySamplesOverLimit: 3,
  memorySampleIntervalMs: 5_000,
  restartBaseDelayMs: 250,
  restartMaxDelayMs: 30_000,
  circuitFailureThreshold: 5,
  circuitCooldownMs: 30_000,
} as const;

const NUMERIC_LIMITS: ReadonlyArray<readonly [string, readonly [number, number]]> = [
  ...[...FED_POOL_OPTIONS].flatMap(([option, fed]) => (fed.limits ? [[option, fed.limits] as const] : [])),
  ...Object.entries(OWN_LIMITS),
];

type FedDefaults = { readonly [K in keyof PoolSettings]: PoolSettings[K] };

export const POOL_DEFAULTS = {
  ...(Object.fromEntries([...FED_POOL_OPTIONS].map(([option, fed]) => [option, fed.default])) as FedDefaults),
  ...OWN_DEFAULTS,
} as const;

const OTHER_KEYS = [
  'profile',
  'createConnection',
  'budget',
  'cwd',
  'strategy',
  'dedicatedPairs',
  'dedicatedAgents',
  'sessionMode',
  'autoscale',
  'keepSpareAgent',
  'clock',
  'rng',
  'sampleMemory',
  'sampleCpu',
  'permissionHandler',
  'log',
] as const;

const KNOWN_KEYS = new Set<string>([...NUMERIC_LIMITS.map(([key]) => key), ...OTHER_KEYS]);

function invalid(message: string): PoolError {
  return new PoolError('POOL_INVALID_OPTION', `Agent pool: ${message}`);
}

/** Validates everything before a pool exists, so a bad setting fails with its name, not later as a hang. */
export function resolvePoolOptions(options: PoolOptions): ResolvedPoolOptions {
  if (!options || typeof options !== 'object') throw invalid('options must be an object');
  const unknown = Object.keys(options).filter((key) => !KNOWN_KEYS.has(key));
  if (unknown.length) {
    throw invalid(`unknown option${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => `"${k}"`).join(', ')}; known options are ${[...KNOWN_KEYS].sort().join(', ')}`);
  }
  for (const [key, [min, max]] of NUMERIC_LIMITS) {
    const value = (options as unknown as Record<string, unknown>)[key];
    if (value === undefined) continue;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
      throw invalid(`option "${key}" must be a whole number from ${min} to ${max}, got ${JSON.stringify(value)}`);
    }
  }
  const profile = options.profile;
  if (!profile || typeof profile.name !== 'string' || !profile.name) throw invalid('option "profile" must be an agent profile with a name');
  if (typeof options.createConnection !== 'function') throw invalid(`option "createConnection" must be a function (profile "${profile.name}")`);
  if (!options.budget || typeof options.budget.tryAcquire !== 'function') throw invalid(`option "budget" must be an AgentBudget (profile "${profile.name}")`);
  if (typeof options.cwd !== 'string' || !options.cwd.startsWith('/') && !/^[A-Za-z]:[\\/]/.test(options.cwd)) {
    throw invalid(`option "cwd" must be an absolute path, got ${JSON.stringify(options.cwd)}`);
  }
  if (options.strategy !== undefined && !(options.strategy in ROUTING_STRATEGIES)) {
    throw invalid(`option "strategy" must be one of ${Object.keys(ROUTING_STRATEGIES).join(', ')}, got ${JSON.stringify(options.strategy)}`);
  }
  if (options.sessionMode !== undefined && options.sessionMode !== 'fresh' && options.sessionMode !== 'reuse') {
    throw invalid(`option "sessionMode" must be "fresh" or "reuse", got ${JSON.stringify(options.sessionMode)}`);
  }
  if (options.dedicatedAgents !== undefined) {
    const pairs = options.dedicatedAgents;
    const bad = !Array.isArray(pairs) ? pairs : pairs.find((p) => !p || typeof p !== 'object' || (typeof p.sourceModule !== 'string' && typeof p.targetModule !== 'string') || (p.sourceModule !== undefined && typeof p.sourceModule !== 'string') || (p.targetModule !== undefined && typeof p.targetModule !== 'string'));
    if (!Array.isArray(pairs) || bad !== undefined) {
      throw invalid(`option "dedicatedAgents" must be a list of {sourceModule, targetModule} (text, at least one of them), got ${JSON.stringify(bad)}`);
    }
    if (pairs.length > 0 && (options.strategy ?? POOL_DEFAULTS.strategy) !== 'module-affinity') {
      throw invalid(`option "dedicatedAgents" needs strategy "module-affinity" (the only router that keeps other work off a dedicated agent), got strategy ${JSON.stringify(options.strategy ?? POOL_DEFAULTS.strategy)}`);
    }
  }
  const resolved: ResolvedPoolOptions = {
    ...POOL_DEFAULTS,
    clock: systemClock,
    rng: Math.random,
    sampleMemory: sampleProcessTreeRss,
    sampleCpu: sampleProcessTreeCpuMs,
    ...stripUndefined(options),
  } as ResolvedPoolOptions;
  if (resolved.minAgents > resolved.maxAgents) {
    throw invalid(`option "minAgents" (${resolved.minAgents}) must not exceed "maxAgents" (${resolved.maxAgents})`);
  }
  if (resolved.restartMaxDelayMs < resolved.restartBaseDelayMs) {
    throw invalid(`option "restartMaxDelayMs" (${resolved.restartMaxDelayMs}) must be at least "restartBaseDelayMs" (${resolved.restartBaseDelayMs})`);
  }
  return resolved;
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

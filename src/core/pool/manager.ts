import { FirstOutputWatch, type FirstOutputWait } from './firstOutputWait';
import type { AgentProfile } from '../agents/adapter';
import { Emitter, type Disposable } from '../common/event';
import { runBatch, type BatchResult } from './batch';
import { PoolError } from './errors';
import { managerHealth, type ManagerHealth } from './health';
import type { PoolEvent, PoolSnapshot } from './events';
import type { Lease } from './lease';
import type { PoolOptions } from './options';
import { AgentPool, type RunOptions, type RunResult } from './pool';
import { pairKey } from './routers/affinity';
import { POOL_ROUTERS, type CrossPoolRouting } from './routers/poolRouters';

/** The plain-JSON part of a pool's options: what survives a window reload. */
export type PoolConfig = { profile: string } & Partial<Omit<PoolOptions, 'profile' | PoolWiring>>;

/** The options that are not plain JSON: the manager's `shared` supplies them to every pool. */
type PoolWiring = 'createConnection' | 'budget' | 'cwd' | 'clock' | 'rng' | 'sampleMemory' | 'permissionHandler' | 'log';

export type { CrossPoolRouting } from './routers/poolRouters';

export interface PoolManagerState {
  version: 1;
  pools: PoolConfig[];
  /** Which profile holds each conversation; agent processes do not survive a reload, the binding does. */
  sticky: Array<{ sessionKey: string; profile: string }>;
  /** (source, target) pair -> profile -> successful turns, for affinity routing across pools. */
  affinity: Array<{ sourceModule?: string; targetModule?: string; profile: string; score: number }>;
}

export interface PoolManagerOptions {
  /** Everything a pool needs that is not plain JSON: connection factory, budget, cwd, clock... */
  shared: Omit<PoolOptions, 'profile' | keyof Omit<PoolConfig, 'profile'>> & Partial<PoolOptions>;
  /** Looks a profile up by name; throws a clear error for an unknown one. */
  resolveProfile(name: string): AgentProfile;
  routing?: CrossPoolRouting;
}

export interface BatchPrompt {
  prompt: string;
  /** Per prompt: its module pair, conversation, profiles... over the batch's own options. */
  options?: ManagerRunOptions;
}

export interface BatchOptions extends ManagerRunOptions {
  /** Most prompts in flight at once; default: the running pools' maxAgents together. */
  concurrency?: number;
}

export interface ManagerRunOptions extends RunOptions {
  /** Only these profiles; all pools when omitted. */
  profiles?: string[];
  routing?: CrossPoolRouting;
  /**
   * Called about once a second from the start until the agent's first event ("waiting for
   * claude's first output · 25 s", see describeFirstOutputWait), then once with undefined.
   */
  onWaiting?: (wait: FirstOutputWait | undefined) => void;
}

/**
 * Several pools, one per profile. Routes a task across them (least loaded, round-robin or
 * module-pair affinity), keeps each conversation on the profile that holds it, and exports its
 * configuration and bindings as plain JSON so the extension can restore them after a reload.
 */
export class PoolManager implements Disposable {
  private readonly pools = new Map<string, { pool: AgentPool; config: PoolConfig; subscription: Disposable }>();
  private readonly stickyProfiles = new Map<string, string>();
  private readonly affinity = new Map<string, Map<string, number>>();
  private readonly events = new Emitter<PoolEvent>();
  readonly onDidEvent = this.events.event;
  private rotation = 0;

  constructor(private readonly options: PoolManagerOptions) {}

  list(): PoolSnapshot[] {
    return [...this.pools.values()].map(({ pool }) => pool.snapshot());
  }

  get(profile: string): AgentPool | undefined {
    return this.pools.get(profile)?.pool;
  }

  /** Starts a pool for `config.profile`, or rescales the running one. */
  async start(config: PoolConfig): Promise<AgentPool> {
    const existing = this.pools.get(config.profile);
    if (existing) {
      this.scale(config.profile, config);
      return existing.pool;
    }
    const profile = this.options.resolveProfile(config.profile);
    const pool = new AgentPool({ ...this.options.shared, ...config, profile });
    const subscription = pool.onDidEvent((event) => {
      if (event.type === 'turn-finished' && event.outcome === 'succeeded') this.learn(event);
      this.events.fire(event);
    });
    this.pools.set(config.profile, { pool, config: { ...config }, subscription });
    await pool.start();
    return pool;
  }

  scale(profile: string, limits: { minAgents?: number; maxAgents?: number }): void {
    const entry = this.require(profile);
    entry.pool.scale(limits);
    if (limits.minAgents !== undefined) entry.config.minAgents = limits.minAgents;
    if (limits.maxAgents !== undefined) entry.config.maxAgents = limits.maxAgents;
  }

  async close(profile: string): Promise<void> {
    const entry = this.pools.get(profile);
    if (!entry) return;
    this.pools.delete(profile);
    this.closingPools.add(entry.pool);
    try {
      await entry.pool.close();
    } finally {
      this.closingPools.delete(entry.pool);
    }
    entry.subscription.dispose();
  }

  /**
   * Cuts every close short (a second Ctrl-C): running turns get no more grace, agents' process
   * groups are killed at once. Slots are still released only once each process is gone.
   */
  hurry(): void {
    for (const { pool } of this.pools.values()) pool.hurry();
    for (const pool of this.closingPools) pool.hurry();
  }

  /** Pools whose close() is running: hurry() must reach them too. */
  private readonly closingPools = new Set<AgentPool>();

  async closeAll(): Promise<void> {
    await Promise.all([...this.pools.keys()].map((profile) => this.close(profile)));
  }

  dispose(): void {
    void this.closeAll().finally(() => this.events.dispose());
  }

  /** Picks a pool for the task, then runs it there; a conversation stays on the profile that holds it. */
  async run(prompt: string, options: ManagerRunOptions = {}): Promise<RunResult & { profile: string }> {
    const pool = this.choosePool(options);
    const watch = options.onWaiting ? new FirstOutputWatch(pool.options.clock, pool.profile, options.onWaiting) : undefined;
    try {
      const result = await pool.run(prompt, watch ? { ...options, onEvent: watch.wrap(options.onEvent) } : options);
      if (options.sessionKey !== undefined) this.stickyProfiles.set(options.sessionKey, pool.profile);
      // The turn's result is this call's own object: completed in place, not copied once more.
      return Object.assign(result, { profile: pool.profile });
    } finally {
      watch?.dispose();
    }
  }

  /**
   * Runs several prompts with at most `concurrency` in flight, each routed like run(); returns every
   * outcome in input order, a failure in its own slot (seed 001's execute_batch/aggregate_results).
   */
  runBatch(prompts: ReadonlyArray<string | BatchPrompt>, options: BatchOptions = {}): Promise<BatchResult<RunResult & { profile: string }>> {
    const { concurrency, ...shared } = options;
    const limit = concurrency ?? Math.max(1, [...this.pools.values()].reduce((sum, { pool }) => sum + (pool.closed ? 0 : pool.maxAgents), 0));
    if (!Number.isInteger(limit) || limit < 1 || limit > 1024) {
      return Promise.reject(new PoolError('POOL_INVALID_OPTION', `Batch option "concurrency" must be a whole number from 1 to 1024, got ${JSON.stringify(concurrency)}.`));
    }
    return runBatch(
      prompts,
      limit,
      (item) => (typeof item === 'string' ? this.run(item, shared) : this.run(item.prompt, { ...shared, ...item.options })),
      options.signal,
    );
  }

  /** An agent of `profile`'s pool that serves one module pair only (see AgentPool.createDedicatedAgent). */
  createDedicatedAgent(profile: string, sourceModule: string | undefined, targetModule: string | undefined): Promise<string> {
    return this.require(profile).pool.createDedicatedAgent(sourceModule, targetModule);
  }

  /** Each pool's health (seed 001's health_check) and the worst of them. */
  health(): ManagerHealth {
    return managerHealth(this.list());
  }

  /** Like run(), for callers that want several turns on one agent. */
  async acquire(options: ManagerRunOptions = {}): Promise<Lease> {
    const pool = this.choosePool(options);
    const lease = await pool.acquire(options);
    if (options.sessionKey !== undefined) this.stickyProfiles.set(options.sessionKey, pool.profile);
    return lease;
  }

  /** The conversation `sessionKey` lives on `profile` (a record from another window or process says so). */
  bindProfile(sessionKey: string, profile: string): void {
    this.stickyProfiles.set(sessionKey, profile);
  }

  /** The conversation ended: its key may go to any profile next time. */
  unbindProfile(sessionKey: string): void {
    this.stickyProfiles.delete(sessionKey);
  }

  choosePool(options: ManagerRunOptions = {}): AgentPool {
    if (options.agentId !== undefined) return this.poolOfAgent(options.agentId);
    const bound = options.sessionKey === undefined ? undefined : this.stickyProfiles.get(options.sessionKey);
    if (bound !== undefined && this.pools.has(bound)) return this.pools.get(bound)!.pool;
    const eligible = [...this.pools.values()]
      .map(({ pool }) => pool)
      .filter((pool) => !pool.closed && pool.breaker.state !== 'open' && (!options.profiles || options.profiles.includes(pool.profile)));
    if (eligible.length === 0) {
      const open = [...this.pools.values()].filter(({ pool }) => pool.breaker.state === 'open');
      const why = this.pools.size === 0 ? 'no pool is running' : open.length ? `every eligible pool's circuit is open (${open.map(({ pool }) => `${pool.profile}: ${pool.breaker.reason}`).join('; ')})` : 'no running pool matches the requested profiles';
      throw new PoolError('POOL_CLOSED', `No agent pool can take the task: ${why}.`);
    }
    const routing = options.routing ?? this.options.routing ?? 'least-loaded';
    // An unknown name (saved state, a caller's typo) routes as the default did before there was a table.
    const router = POOL_ROUTERS[routing] ?? POOL_ROUTERS['least-loaded'];
    const pool = router(options, eligible, { rotation: this.rotation, affinity: this.affinity });
    if (routing === 'round-robin') this.rotation++;
    return pool;
  }

  /** The pool that holds `agentId`; a request for that agent goes nowhere else. */
  poolOfAgent(agentId: string): AgentPool {
    for (const { pool } of this.pools.values()) if (pool.agents.has(agentId)) return pool;
    const live = [...this.pools.values()].flatMap(({ pool }) => [...pool.agents.keys()]);
    throw new PoolError('POOL_AGENT_NOT_FOUND', `No pool has an agent "${agentId}" (it may have been stopped or recycled under a new id). Agents: ${live.length ? live.join(', ') : 'none'}.`);
  }

  exportState(): PoolManagerState {
    return {
      version: 1,
      pools: [...this.pools.values()].map(({ config }) => ({ ...config })),
      sticky: [...this.stickyProfiles].map(([sessionKey, profile]) => ({ sessionKey, profile })),
      affinity: [...this.affinity].flatMap(([key, scores]) => {
        const [sourceModule, targetModule] = key.split('\u0000');
        return [...scores].map(([profile, score]) => ({ sourceModule: sourceModule || undefined, targetModule: targetModule || undefined, profile, score }));
      }),
    };
  }

  /** Starts the pools of an exported state and restores the bindings; a malformed state is refused whole. */
  async restore(state: unknown): Promise<void> {
    const parsed = parseState(state);
    for (const { sessionKey, profile } of parsed.sticky) this.stickyProfiles.set(sessionKey, profile);
    for (const { sourceModule, targetModule, profile, score } of parsed.affinity) {
      const key = pairKey(sourceModule, targetModule)!;
      if (!this.affinity.has(key)) this.affinity.set(key, new Map());
      this.affinity.get(key)!.set(profile, score);
    }
    const results = await Promise.allSettled(parsed.pools.map((config) => this.start(config)));
    const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed.length) throw new AggregateError(failed.map((r) => r.reason), `${failed.length} pool(s) could not be restored`);
  }

  private learn(event: Extract<PoolEvent, { type: 'turn-finished' }>): void {
    const key = pairKey(event.sourceModule, event.targetModule);
    if (key === undefined) return;
    let scores = this.affinity.get(key);
    if (!scores) this.affinity.set(key, (scores = new Map()));
    scores.set(event.profile, (scores.get(event.profile) ?? 0) + 1);
  }

  private require(profile: string) {
    const entry = this.pools.get(profile);
    if (!entry) throw new PoolError('POOL_CLOSED', `No pool is running for profile "${profile}"; start it first.`);
    return entry;
  }
}

function parseState(state: unknown): PoolManagerState {
  const fail = (what: string) => new PoolError('POOL_INVALID_OPTION', `Saved pool state is not usable (${what}); the pools start from the settings instead.`);
  if (!state || typeof state !== 'object') throw fail('not an object');
  const value = state as Partial<PoolManagerState>;
  if (value.version !== 1) throw fail(`unknown version ${JSON.stringify(value.version)}`);
  if (!Array.isArray(value.pools) || value.pools.some((p) => !p || typeof p.profile !== 'string')) throw fail('"pools" must be a list of configurations with a profile');
  const sticky = value.sticky ?? [];
  if (!Array.isArray(sticky) || sticky.some((s) => typeof s?.sessionKey !== 'string' || typeof s?.profile !== 'string')) throw fail('"sticky" must be a list of {sessionKey, profile}');
  const affinity = value.affinity ?? [];
  if (!Array.isArray(affinity) || affinity.some((a) => typeof a?.profile !== 'string' || typeof a?.score !== 'number')) throw fail('"affinity" must be a list of {profile, score}');
  return { version: 1, pools: value.pools, sticky, affinity };
}

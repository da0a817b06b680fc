import { join } from 'node:path';
import type { AgentProfile, PermissionHandler } from '../agents/adapter';
import { createAgentConnection } from '../agents/factory';
import { resolveProfiles } from '../agents/profiles';
import type { AgentBudget, BudgetSnapshot } from '../budget/budget';
import type { Clock } from '../common/clock';
import { unfrozenClock } from '../common/unfrozenClock';
import { DisposableStore } from '../common/disposable';
import { AgentPoolError, errorMessage } from '../common/errors';
import { Emitter, type Disposable } from '../common/event';
import type { Settings } from '../config/settings';
import type { AggregateView } from '../metrics/aggregate';
import type { MetricsCollector } from '../metrics/collector';
import { loadPreviousMetrics, type MetricsStateStore } from '../metrics/persistence';
import type { MetricsSnapshot } from '../metrics/snapshot';
import type { MetricsView } from '../metrics/transport';
import type { CoordinationBackend } from '../backend/backend';
import { localBackend } from '../backend/localBackend';
import { CapShedding } from './capShedding';
import type { PoolEvent, PoolSnapshot } from '../pool/events';
import type { BatchResult } from '../pool/batch';
import type { ManagerHealth } from '../pool/health';
import { PoolManager, type BatchOptions, type BatchPrompt, type ManagerRunOptions, type PoolConfig } from '../pool/manager';
import type { Lease } from '../pool/lease';
import type { RunResult } from '../pool/pool';
import type { CleanupReport, InstanceLifecycle, InstanceRegistry, InstanceView } from '../registry/types';
import { resolveRegistryDirectory } from '../directory/layout';
import type { CoreLogger } from '../common/logger';
import type { PoolStateStore, SavedPoolState } from './poolState';
import { PoolStateKeeper } from './poolStateKeeper';
import { WindowMetrics } from './windowMetrics';
import { notLiveYet, sizesChanged } from './settingsChange';
import { WindowLifecycle } from './windowLifecycle';
import { ConversationStore } from '../conversations/conversationStore';
import { Conversations } from './conversations';
import { describePoolEvent, WindowWatcher } from './activityLog';

export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error';
/** `error`: the failure a line reports; a surface that shows that failure itself skips the line (one message, once). */
export type ServiceLog = (level: LogLevel, message: string, error?: unknown) => void;

export interface AgentPoolServiceOptions {
  settings: Settings;
  workspace: { name: string; folders: string[] };
  extensionVersion: string;
  /** Working directory for agents (absolute). */
  cwd: string;
  /** Where dist/demo-agent.js lives; defaults to the bundle's own directory. */
  distDirectory?: string;
  /** Returns why no agent may start (e.g. Restricted Mode), or undefined when spawning is allowed. */
  spawnBlockedReason: () => string | undefined;
  permissionHandler?: PermissionHandler;
  /** Keeps cumulative counters across a window reload. */
  metricsStateStore?: MetricsStateStore;
  /** Keeps the pools (and what the user chose for them) across a reload or a crashed host; saved on every change. */
  poolStateStore?: PoolStateStore;
  clock?: Clock;
  log: ServiceLog;
  /** Where the registry, the budget and the metrics live; the file backend in the registry directory by default. */
  backend?: CoordinationBackend;
}

/**
 * One window's Agent Pool: the registry record, the shared budget, the pools, and the metrics that
 * flow to every other window. The extension and the CLI's `run` both use this, so a headless pool
 * registers and shows up exactly like a VS Code window.
 *
 * Start-up order: registry (so the budget can name this window) -> budget -> pools -> metrics.
 * Shutdown order (see shutdown()): stop accepting work, let turns finish within the grace, kill
 * agents, release slots, write the last snapshot, deregister.
 */
export class AgentPoolService implements Disposable {
  private readonly changed = new Emitter<void>();
  readonly onDidChange = this.changed.event;
  private readonly poolEvents = new Emitter<PoolEvent>();
  /** Every event of every pool of this window (agent states, turns, scaling...), as the pools fire them. */
  readonly onDidPoolEvent = this.poolEvents.event;
  private readonly disposables = new DisposableStore();
  private readonly clock: Clock;
  private settings: Settings;
  private profileTable: Record<string, AgentProfile>;
  private shuttingDown: Promise<void> | undefined;
  private disposed = false;
  private starting: Promise<void> | undefined;

  private readonly backend: CoordinationBackend;
  private readonly registry: InstanceRegistry;
  private budgetInstance: AgentBudget | undefined;
  private managerInstance: PoolManager | undefined;
  private metrics: WindowMetrics | undefined;
  private readonly capShedding: CapShedding;
  private windowLifecycle: WindowLifecycle | undefined;
  private readonly poolState: PoolStateKeeper;
  readonly aggregator: MetricsView;
  /** The conversations every window and the CLI share (records in the registry directory). */
  readonly conversations: Conversations;
  /** Why registration failed (unusable directory); metrics then stay in memory. */
  registrationProblem: string | undefined;

  constructor(private readonly options: AgentPoolServiceOptions) {
    // Deadlines that judge agents (first event, idle watchdog, turn deadline) count only time this
    // process could run: a frozen window does not fail its agents for its own freeze.
    this.clock = options.clock ?? unfrozenClock;
    this.settings = options.settings;
    this.poolState = new PoolStateKeeper({
      clock: this.clock,
      store: options.poolStateStore,
      warn: (message) => options.log('warn', message),
      managerState: () => this.managerInstance?.exportState(),
      defaultProfile: () => this.settings.defaultProfile,
    });
    this.profileTable = resolveProfiles(options.settings.profiles, options.distDirectory);
    this.backend = options.backend ?? localBackend(resolveRegistryDirectory(options.settings.registryDirectory || undefined));
    const directory = this.backend.directory;
    this.registry = this.backend.createRegistry({
      clock: this.clock,
      log: this.coreLogger('registry'),
      heartbeatIntervalMs: options.settings.heartbeatIntervalMs,
    });
    this.aggregator = this.backend.createMetricsView({ registry: this.registry, clock: this.clock, log: (m) => options.log('warn', `metrics: ${m}`) });
    this.capShedding = new CapShedding({
      budget: () => this.budget(),
      pools: () => this.pools(),
      stopAgent: (agentId) => this.agentPool(agentId).stopAgent(agentId),
      log: (message) => options.log('warn', `budget: ${message}`),
    });
    const windows = new WindowWatcher();
    this.disposables.add(
      this.registry.onDidChange(() => {
        for (const line of windows.update(this.registry.instances())) options.log(line.level, line.message);
        // A participant that joined or left may have moved the store's cap.
        void this.budgetInstance?.refresh?.();
        this.changed.fire();
      }),
    );
    this.disposables.add(this.aggregator.onDidChange(() => this.changed.fire()));
    this.conversations = new Conversations({
      store: new ConversationStore({ directory, log: this.coreLogger('conversations') }),
      manager: () => this.managerInstance,
      workspace: { name: options.workspace.name, folders: options.workspace.folders },
      owner: () => ({ instanceId: this.registry.selfId ?? `pid ${process.pid}`, pid: process.pid, label: options.workspace.name }),
      clock: this.clock,
      idleCloseMs: options.settings.conversationIdleCloseMinutes * 60_000,
      log: (level, message) => options.log(level, `conversations: ${message}`),
    });
    this.disposables.add(this.conversations);
    this.disposables.add(this.conversations.onDidChange(() => this.changed.fire()));
    // Every path (run, a lease's prompts, the chat) goes through here: never silent, said once.
    this.disposables.add(this.conversations.onDidLoseContext(({ key, reason }) => options.log('warn', `conversation ${key}: its earlier context is gone: ${reason}`)));
  }

  get directory(): string {
    return this.backend.directory;
  }

  get selfId(): string | undefined {
    return this.registry.selfId;
  }

  private get manager(): PoolManager {
    if (!this.managerInstance) throw new AgentPoolError('SERVICE_NOT_STARTED', 'Agent Pool has not started yet.');
    return this.managerInstance;
  }

  get collector(): MetricsCollector | undefined {
    return this.metrics?.collector;
  }

  /**
   * Registers this window and starts metrics; pools start separately (startPool / restore).
   * A shutdown that arrives while this runs wins: each step after an await checks for it, so nothing
   * is left running or spawned after deactivate.
   */
  start(): Promise<void> {
    this.starting ??= this.startInOrder();
    return this.starting;
  }

  private async startInOrder(): Promise<void> {
    const { settings, workspace, extensionVersion, log } = this.options;
    let windowId = `unregistered-${process.pid}`;
    try {
      const record = await this.registry.register({
        workspaceName: workspace.name,
        workspaceFolders: workspace.folders,
        extensionVersion,
        lifecycle: 'IDLE',
        maxAgentsTotal: settings.maxAgentsTotal,
      });
      windowId = record.id;
    } catch (error) {
      this.registrationProblem = errorMessage(error);
      log('error', `This window could not register in ${this.directory}: ${this.registrationProblem}`);
    }
    if (this.shuttingDown) return;
    const budget = await this.backend.openBudget({
      maxAgentsTotal: settings.maxAgentsTotal,
      maxAgentsPerWindow: settings.maxAgentsPerWindow,
      windowId,
      clock: this.clock,
      log: this.coreLogger('budget'),
      declaredCaps: () => this.registry.declaredCaps(),
    });
    if (this.shuttingDown) return budget.dispose();
    this.budgetInstance = budget;
    this.disposables.add(
      this.budgetInstance.onDidChange(() => {
        if (!this.shuttingDown) this.capShedding.check();
        this.changed.fire();
      }),
    );
    this.managerInstance = new PoolManager({
      resolveProfile: (name) => this.profile(name),
      shared: {
        createConnection: (profile, connectionOptions) => createAgentConnection(profile, connectionOptions),
        budget: this.budgetInstance,
        cwd: this.options.cwd,
        clock: this.clock,
        permissionHandler: this.options.permissionHandler,
        log: (level, message, error) => log(level, message, error),
      },
    });
    this.disposables.add(
      this.managerInstance.onDidEvent((event) => {
        const line = describePoolEvent(event, clockTime);
        if (line) log(line.level, line.message);
        this.poolEvents.fire(event);
        this.changed.fire();
      }),
    );
    // An agent that just finished its turn is idle: stopped now if the store's cap dropped below the running count.
    this.disposables.add(this.managerInstance.onDidEvent((event) => event.type === 'agent-state' && event.to === 'idle' && !this.shuttingDown && this.capShedding.check()));
    // A finished turn may bind a conversation or teach a module pair: both belong to the saved state.
    this.disposables.add(this.managerInstance.onDidEvent((event) => event.type === 'turn-finished' && this.poolState.scheduleSave()));
    this.windowLifecycle = new WindowLifecycle(
      this.managerInstance.onDidEvent,
      (lifecycle) => this.registry.setLifecycle(lifecycle),
      (error) => log('warn', `registry: could not record the window's lifecycle: ${errorMessage(error)}`),
    );
    this.disposables.add(this.windowLifecycle);
    this.disposables.add(this.windowLifecycle.onDidChange(() => this.changed.fire()));
    this.conversations.attach(this.managerInstance);

    const restored = this.options.metricsStateStore
      ? await loadPreviousMetrics(this.options.metricsStateStore, (id) => this.registry.instances().some((i) => i.record.id === id && i.health !== 'dead'))
      : undefined;
    if (this.shuttingDown) return;
    this.metrics = new WindowMetrics({
      windowId,
      publish: this.registry.selfId !== undefined,
      clock: this.clock,
      backend: this.backend,
      manager: this.managerInstance,
      restored,
      stateStore: this.options.metricsStateStore,
      heartbeatIntervalMs: () => this.settings.heartbeatIntervalMs,
      log: (message) => log('warn', `metrics: ${message}`),
      stopped: () => this.shuttingDown !== undefined || this.disposed,
    });
    if (!this.shuttingDown) await this.aggregator.start();
  }

  /** ACTIVE while an agent works on a lease, IDLE otherwise, COMPLETING once shutdown began (seed 004). */
  lifecycle(): InstanceLifecycle {
    return this.windowLifecycle?.current ?? (this.shuttingDown ? 'COMPLETING' : 'IDLE');
  }

  profiles(): Record<string, AgentProfile> {
    return this.profileTable;
  }

  profile(name: string): AgentProfile {
    const profile = this.profileTable[name];
    if (!profile) {
      throw new AgentPoolError(
        'UNKNOWN_PROFILE',
        `There is no agent profile "${name}". Known profiles: ${Object.keys(this.profileTable).join(', ')}.`,
        {
          advice: {
            vscode: 'Add one under agentPool.profiles.',
            cli: 'Use one of them with --profile, or add one in a JSON file passed with --profiles FILE.',
          },
        },
      );
    }
    return profile;
  }

  pools(): PoolSnapshot[] {
    return this.managerInstance?.list() ?? [];
  }

  budget(): BudgetSnapshot {
    return this.budgetInstance?.snapshot() ?? { cap: this.settings.maxAgentsTotal, used: 0, usedHere: 0, holders: [] };
  }

  instances(): InstanceView[] {
    return this.registry.instances();
  }

  aggregate(): AggregateView {
    return this.aggregator.current;
  }

  localMetrics(): MetricsSnapshot | undefined {
    return this.metrics?.collector.snapshot();
  }

  async startPool(profileName: string, overrides: Partial<PoolConfig> = {}): Promise<void> {
    this.assertSpawnAllowed();
    try {
      await this.manager.start({ ...this.poolConfig(profileName), ...overrides });
    } finally {
      this.poolState.scheduleSave();
      this.changed.fire();
    }
  }

  async stopPool(profileName: string): Promise<void> {
    await this.manager.close(profileName);
    this.poolState.forgetSizes(profileName);
    this.changed.fire();
  }

  /**
   * Starts a pool with its own sizes and strategy in one call (seed 003's launch_cluster), or
   * rescales the running one; resolves once its warm agents are ready. The sizes count as chosen
   * with Scale Pool (kept across a reload); the strategy applies to this pool until it stops.
   */
  async launchPool(profileName: string, options: { minAgents?: number; maxAgents?: number; strategy?: string } = {}): Promise<PoolSnapshot> {
    const { minAgents, maxAgents, strategy } = options;
    const running = this.pools().some((pool) => pool.profile === profileName);
    if (running) this.scalePool(profileName, { minAgents, maxAgents });
    else {
      const overrides: Partial<PoolConfig> = {};
      if (minAgents !== undefined) overrides.minAgents = minAgents;
      if (maxAgents !== undefined) overrides.maxAgents = maxAgents;
      if (strategy !== undefined) overrides.strategy = strategy as PoolConfig['strategy'];
      // Only the bound the caller gave moves: the other stays the setting's, unless that would cross it.
      const settings = this.settings.pool;
      if (minAgents !== undefined && maxAgents === undefined && minAgents > settings.maxAgents) overrides.maxAgents = minAgents;
      if (maxAgents !== undefined && minAgents === undefined && maxAgents < settings.minAgents) overrides.minAgents = maxAgents;
      await this.startPool(profileName, overrides);
      if (minAgents !== undefined || maxAgents !== undefined) this.recordChosenSizes(profileName);
    }
    return this.pools().find((pool) => pool.profile === profileName)!;
  }

  /** The user's choice of sizes for one pool (Scale Pool): kept across reloads while the size settings stay as they are. */
  scalePool(profileName: string, limits: { minAgents?: number; maxAgents?: number }): void {
    this.manager.scale(profileName, limits);
    this.recordChosenSizes(profileName);
    this.changed.fire();
  }

  private recordChosenSizes(profileName: string): void {
    const pool = this.pools().find((snapshot) => snapshot.profile === profileName);
    if (pool) {
      const { minAgents, maxAgents } = this.settings.pool;
      this.poolState.chooseSizes({ profile: profileName, minAgents: pool.minAgents, maxAgents: pool.maxAgents, settings: { minAgents, maxAgents } });
    } else this.poolState.scheduleSave();
  }

  /**
   * Starts this window's pools: the saved ones laid under the current settings (see
   * layerUnderSettings), else one for the default profile. A saved state that is unusable, or names
   * a profile that no longer exists, is said in `notes` and the rest starts from the settings.
   */
  async startSavedPools(): Promise<{ started: string[]; notes: string[] }> {
    this.assertSpawnAllowed();
    const notes: string[] = [];
    const layered = await this.poolState.layered(
      { defaultProfile: this.settings.defaultProfile, configFor: (profile) => this.poolConfig(profile), hasProfile: (profile) => profile in this.profileTable },
      notes,
    );
    try {
      await this.manager.restore(layered);
    } finally {
      this.poolState.scheduleSave();
      this.changed.fire();
    }
    return { started: layered.pools.map((pool) => pool.profile), notes };
  }

  /** One prompt, routed by `options`; logs its start and its end (profile, agent, duration, outcome), never its text. */
  async run(prompt: string, options: ManagerRunOptions = {}): Promise<RunResult & { profile: string }> {
    this.assertSpawnAllowed();
    const { log } = this.options;
    const started = this.clock.monotonicNow();
    const route = options.agentId ?? options.profiles?.join(', ') ?? 'automatic routing';
    const conversation = options.sessionKey ? `, conversation ${options.sessionKey}` : '';
    log('info', `prompt started: ${options.task ? `"${options.task}" ` : ''}(${route}${conversation})`);
    const took = () => `${((this.clock.monotonicNow() - started) / 1000).toFixed(1)} s`;
    try {
      // A conversation's turn goes through its shared record: one owner at a time, resumed wherever it was served.
      const { sessionKey } = options;
      const result = sessionKey === undefined ? await this.manager.run(prompt, options) : await this.conversations.run(prompt, { ...options, sessionKey });
      if (result.continuity === 'resumed' || result.continuity === 'loaded') log('info', `conversation ${sessionKey}: ${result.continuity} session ${result.sessionId} on ${result.agentId}`);
      const outcome = result.stopReason === 'cancelled' ? 'cancelled by the user' : result.stopReason === 'end_turn' ? 'answered' : `stopped: ${result.stopReason}`;
      log('info', `prompt finished: ${result.agentId} (${result.profile}) in ${took()}, ${outcome}`);
      return result;
    } catch (error) {
      if (options.signal?.aborted) log('info', `prompt cancelled by the user after ${took()} (${route})`);
      else log('info', `prompt failed after ${took()} (${route}): ${errorMessage(error)}`);
      throw error;
    }
  }

  /**
   * Tries a pool whose circuit is open again now (the user fixed the install or signed in): closes
   * the circuit and starts its warm agents; rejects with the reason if they still cannot start.
   */
  async retryPool(profileName: string): Promise<void> {
    this.assertSpawnAllowed();
    const pool = this.manager.get(profileName);
    if (!pool) throw new AgentPoolError('POOL_NOT_RUNNING', `No pool for profile "${profileName}" is running in this window; start it with "Agent Pool: Start Pool".`);
    pool.breaker.reset();
    this.changed.fire();
    await pool.start();
  }

  /**
   * Stops one agent. Returns whether the pool starts another in its place, which it does while it
   * would otherwise fall below its warm minimum.
   */
  stopAgent(agentId: string): { replaced: boolean; minAgents: number } {
    const pool = this.agentPool(agentId);
    const live = pool.snapshot().agents.filter((a) => a.id !== agentId && a.state !== 'stopped' && a.state !== 'draining').length;
    pool.stopAgent(agentId);
    this.changed.fire();
    return { replaced: live < pool.minAgents, minAgents: pool.minAgents };
  }

  restartAgent(agentId: string): Promise<void> {
    return this.agentPool(agentId).restartAgent(agentId);
  }

  recycleAgent(agentId: string): void {
    this.agentPool(agentId).recycleAgent(agentId);
  }

  /** The profile of the pool that holds `agentId`, if any pool of this window does. */
  profileOfAgent(agentId: string): string | undefined {
    return this.pools().find((pool) => pool.agents.some((agent) => agent.id === agentId))?.profile;
  }

  private agentPool(agentId: string) {
    const profile = this.profileOfAgent(agentId);
    const pool = profile === undefined ? undefined : this.manager.get(profile);
    if (!pool) throw new AgentPoolError('POOL_AGENT_NOT_FOUND', `There is no agent ${agentId} in this window any more.`);
    return pool;
  }

  /**
   * A lease on one agent, routed like run(); the caller releases it. With a `sessionKey` it is the
   * conversation's, through its shared record like run(): one owner at a time, resumed wherever it
   * was served, recorded when released.
   */
  async acquire(options: ManagerRunOptions = {}): Promise<Lease> {
    this.assertSpawnAllowed();
    const { sessionKey } = options;
    return sessionKey === undefined ? this.manager.acquire(options) : this.conversations.acquire({ ...options, sessionKey });
  }

  /** Starts an agent of `profileName`'s pool for one module pair only (seed 000's create_dedicated_instance); resolves with its id. */
  async createDedicatedAgent(profileName: string, sourceModule: string | undefined, targetModule: string | undefined): Promise<string> {
    this.assertSpawnAllowed();
    try {
      return await this.manager.createDedicatedAgent(profileName, sourceModule, targetModule);
    } finally {
      this.changed.fire();
    }
  }

  /** Several prompts, at most `options.concurrency` at once, answers in input order (see PoolManager.runBatch). */
  async runBatch(prompts: ReadonlyArray<string | BatchPrompt>, options: BatchOptions = {}): Promise<BatchResult<RunResult & { profile: string }>> {
    this.assertSpawnAllowed();
    return this.manager.runBatch(prompts, options);
  }

  /** Each running pool's health; down with no pool. */
  health(): ManagerHealth {
    return this.managerInstance?.health() ?? { status: 'down', pools: [] };
  }

  /** Re-reads the registry and every window's metrics now, instead of at the next change or heartbeat. */
  async refresh(): Promise<void> {
    await this.registry.refresh();
    await this.aggregator.refresh();
  }

  cleanup(maxAgeMs?: number): Promise<CleanupReport> {
    return this.registry.cleanup(maxAgeMs === undefined ? {} : { maxAgeMs });
  }

  /** What a reload would restore: the pools, their bindings, and the user's choices beyond the settings. */
  savedPoolState(): SavedPoolState | undefined {
    return this.poolState.current();
  }

  /** Resolves once every pool-state save asked for so far has landed. */
  flushPoolState(): Promise<void> {
    return this.poolState.flush();
  }

  /**
   * Applies new settings. Pool sizes apply live to running pools; every other pool setting, and a
   * changed profile, applies to pools started from now on; the budget, the registry directory and
   * the heartbeat apply after a window reload. Returns one sentence per setting that is not live
   * yet, naming it, so the caller can say so.
   */
  async applySettings(settings: Settings): Promise<string[]> {
    const previous = this.settings;
    this.settings = settings;
    this.profileTable = resolveProfiles(settings.profiles, this.options.distDirectory);
    const pools = this.pools();
    if (sizesChanged(previous, settings)) {
      for (const pool of pools) this.manager.scale(pool.profile, { minAgents: settings.pool.minAgents, maxAgents: settings.pool.maxAgents });
      // The settings say the sizes now: earlier Scale Pool choices give way.
      this.poolState.forgetAllSizes();
    }
    this.poolState.scheduleSave();
    const notes = notLiveYet(previous, settings, pools.length > 0);
    this.changed.fire();
    return notes;
  }

  /**
   * Stop accepting work, let turns finish within the pools' grace, kill agents, and only then
   * release the budget's slots (another window may take a slot only once our agent is dead), write
   * the last snapshot, deregister.
   */
  shutdown(): Promise<void> {
    this.shuttingDown ??= (async () => {
      // A start in flight stops at its next step; let it, so nothing it creates is left behind.
      await this.starting?.catch(() => undefined);
      this.metrics?.stopHeartbeat();
      // The pools as they run now are what the next start restores; closing them must not overwrite that.
      await this.poolState.flush();
      this.poolState.finish();
      // Readers (other windows, the CLI) learn first that this window is finishing, then its agents go.
      await this.windowLifecycle?.completing();
      await this.managerInstance?.closeAll().catch((error) => this.options.log('error', `closing pools: ${errorMessage(error)}`));
      await this.metrics?.close();
      await this.registry.deregister().catch((error) => this.options.log('warn', `deregistering: ${errorMessage(error)}`));
      this.teardown();
    })();
    return this.shuttingDown;
  }

  /**
   * Shuts down now (a second Ctrl-C or SIGTERM): turns get no grace and agents are killed at once.
   * Nothing is skipped: each slot is released once its process is gone, then the record removed.
   */
  hurryShutdown(): Promise<void> {
    const done = this.shutdown();
    this.managerInstance?.hurry();
    return done;
  }

  /** Disposable entry point: the same ordered shutdown, not awaited. */
  dispose(): void {
    void this.shutdown();
  }

  private teardown(): void {
    this.disposed = true;
    this.metrics?.dispose();
    this.managerInstance?.dispose();
    this.budgetInstance?.dispose();
    this.aggregator.dispose();
    this.registry.dispose();
    this.backend.dispose();
    this.disposables.dispose();
    this.changed.dispose();
    this.poolEvents.dispose();
  }

  /** Every pool option a setting feeds, from the current settings. */
  private poolConfig(profile: string): PoolConfig {
    return { profile, ...this.settings.pool } as PoolConfig;
  }

  private assertSpawnAllowed(): void {
    if (this.shuttingDown) throw new AgentPoolError('SERVICE_CLOSED', 'Agent Pool is shutting down; no agent is started.');
    const reason = this.options.spawnBlockedReason();
    if (reason) throw new AgentPoolError('SPAWN_BLOCKED', reason);
    // An unusable directory (read-only, full, not a directory, no permission) is known since the
    // budget opened: say so now rather than wait out the acquire timeout for a slot that cannot come.
    const unavailable = this.budgetInstance?.snapshot().unavailableReason;
    if (unavailable) throw new AgentPoolError('BUDGET_UNAVAILABLE', `${unavailable} No agent is started until its slot can be recorded.`);
  }

  private coreLogger(component: string): CoreLogger {
    const log = this.options.log;
    return {
      info: (message) => log('info', `${component}: ${message}`),
      warn: (message) => log('warn', `${component}: ${message}`),
      error: (message) => log('error', `${component}: ${message}`),
    };
  }
}

function clockTime(wallMs: number): string {
  const date = new Date(wallMs);
  return `${String(date.getHours()).padStart(2, '0')}:${String(date.getMinutes()).padStart(2, '0')}`;
}

export function defaultMetricsStatePath(directory: string, workspaceKey: string): string {
  return join(directory, 'metrics-state', `${workspaceKey}.json`);
}

import * as vscode from 'vscode';
import type { AgentStreamEvent } from '../core/agents/adapter';
import type { AggregateView } from '../core/metrics/aggregate';
import type { MetricsSnapshot } from '../core/metrics/snapshot';
import type { PoolSnapshot } from '../core/pool/events';
import type { AgentPoolService } from '../core/service/agentPoolService';

/**
 * What `vscode.extensions.getExtension('agent-pool.agent-pool').exports` gives other extensions.
 * Version 1; documented in the README. Leases are exclusive until released.
 */
export interface AgentPoolApi {
  readonly version: 1;
  /** Exclusive use of one agent, chosen for a (source, target) module pair or a conversation. */
  acquire(options?: AgentRequest): Promise<AgentLease>;
  /** acquire + one prompt + release. */
  run(prompt: string, options?: AgentRequest & { onEvent?: (event: AgentStreamEvent) => void }): Promise<AgentAnswer>;
  /**
   * Starts a pool of `profile` with its own sizes and strategy, or rescales the running one, and
   * resolves once its warm agents are ready (seed 003's launch_cluster). The handle runs prompts on
   * that pool only, rescales it, and stops it.
   */
  launch(profile: string, options?: LaunchOptions): Promise<AgentPoolHandle>;
  /**
   * Starts an agent in `profile`'s running pool that serves one (source, target) module pair only
   * (seed 000's create_dedicated_instance); resolves with its id once ready. Needs the pool's
   * strategy to be module-affinity; counts toward its maxAgents.
   */
  createDedicatedAgent(options: { profile: string; sourceModule?: string; targetModule?: string }): Promise<{ agentId: string; profile: string }>;
  metrics(): { thisWindow: MetricsSnapshot | undefined; allWindows: AggregateView; pools: PoolSnapshot[] };
  /** Fires (debounced) whenever pools, windows or metrics change. */
  readonly onDidChange: vscode.Event<void>;
}

export interface AgentRequest {
  /** Only this profile's pool; otherwise routed across running pools. */
  profile?: string;
  sourceModule?: string;
  targetModule?: string;
  /** Keeps a conversation on the same agent and session. */
  sessionKey?: string;
  timeoutMs?: number;
  signal?: AbortSignal;
  priority?: number;
}

export interface LaunchOptions {
  /** Shorthand for minAgents = maxAgents = agents. */
  agents?: number;
  minAgents?: number;
  maxAgents?: number;
  /** One of the agentPool.pool.strategy values; the setting's when omitted. */
  strategy?: string;
}

export interface AgentPoolHandle {
  readonly profile: string;
  /** The pool now; undefined once it has stopped. */
  snapshot(): PoolSnapshot | undefined;
  run(prompt: string, options?: Omit<AgentRequest, 'profile'> & { onEvent?: (event: AgentStreamEvent) => void }): Promise<AgentAnswer>;
  acquire(options?: Omit<AgentRequest, 'profile'>): Promise<AgentLease>;
  /** An agent of this pool for one module pair only; see AgentPoolApi.createDedicatedAgent. */
  createDedicatedAgent(sourceModule: string | undefined, targetModule: string | undefined): Promise<string>;
  /** New sizes, live: agents above the maximum stop (busy ones after their lease). */
  scale(limits: { minAgents?: number; maxAgents?: number }): void;
  /** Lets running turns finish within the shutdown grace, then stops every agent of the pool. */
  stop(): Promise<void>;
}

export interface AgentLease {
  readonly agentId: string;
  readonly profile: string;
  prompt(text: string, options?: { signal?: AbortSignal; onEvent?: (event: AgentStreamEvent) => void }): Promise<AgentAnswer>;
  release(): void;
}

export interface AgentAnswer {
  text: string;
  stopReason: string;
  agentId: string;
  profile: string;
  totalMs: number;
  firstEventMs?: number;
}

export function createApi(service: AgentPoolService, onDidChange: vscode.Event<void>, assertSpawnAllowed: () => void): AgentPoolApi {
  const routing = (options: AgentRequest) => ({
    profiles: options.profile ? [options.profile] : undefined,
    sourceModule: options.sourceModule,
    targetModule: options.targetModule,
    sessionKey: options.sessionKey,
    timeout: options.timeoutMs,
    signal: options.signal,
    priority: options.priority,
  });
  const acquire = async (options: AgentRequest = {}): Promise<AgentLease> => {
    assertSpawnAllowed();
    const lease = await service.acquire(routing(options));
    return {
      agentId: lease.agentId,
      profile: lease.profile,
      async prompt(text, turn = {}) {
        const result = await lease.prompt(text, turn);
        return { text: result.text, stopReason: result.stopReason, agentId: lease.agentId, profile: lease.profile, totalMs: result.totalMs, firstEventMs: result.firstEventMs };
      },
      release: () => lease.release(),
    };
  };
  const run = async (prompt: string, options: AgentRequest & { onEvent?: (event: AgentStreamEvent) => void } = {}): Promise<AgentAnswer> => {
    const result = await service.run(prompt, { ...routing(options), onEvent: options.onEvent });
    return { text: result.text, stopReason: result.stopReason, agentId: result.agentId, profile: result.profile, totalMs: result.totalMs, firstEventMs: result.firstEventMs };
  };
  return {
    version: 1,
    acquire,
    run,
    async launch(profile, options = {}) {
      assertSpawnAllowed();
      const { agents, strategy } = options;
      await service.launchPool(profile, { minAgents: options.minAgents ?? agents, maxAgents: options.maxAgents ?? agents, strategy });
      return {
        profile,
        snapshot: () => service.pools().find((pool) => pool.profile === profile),
        run: (prompt, runOptions = {}) => run(prompt, { ...runOptions, profile }),
        acquire: (acquireOptions = {}) => acquire({ ...acquireOptions, profile }),
        scale: (limits) => service.scalePool(profile, limits),
        createDedicatedAgent: (sourceModule, targetModule) => {
          assertSpawnAllowed();
          return service.createDedicatedAgent(profile, sourceModule, targetModule);
        },
        stop: () => service.stopPool(profile),
      };
    },
    async createDedicatedAgent({ profile, sourceModule, targetModule }) {
      assertSpawnAllowed();
      return { agentId: await service.createDedicatedAgent(profile, sourceModule, targetModule), profile };
    },
    metrics: () => ({ thisWindow: service.localMetrics(), allWindows: service.aggregate(), pools: service.pools() }),
    onDidChange,
  };
}

import * as vscode from 'vscode';
import type { AgentStreamEvent } from '../core/agents/adapter';
import type { Event as CoreEvent } from '../core/common/event';
import { formatContextUse } from '../core/conversations/conversation';
import type { AggregateView } from '../core/metrics/aggregate';
import type { MetricsSnapshot } from '../core/metrics/snapshot';
import type { PoolSnapshot } from '../core/pool/events';
import type { TurnResult } from '../core/pool/lease';
import type { AgentPoolService } from '../core/service/agentPoolService';
import type { ConversationView } from '../core/service/conversations';

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
  /**
   * The conversations every window and the `agent-pool` CLI share (records in the registry
   * directory): the same ones `sessionKey` continues, Run Prompt offers and the tree shows.
   */
  readonly conversations: AgentPoolConversations;
  /** Fires (debounced) whenever pools, windows or metrics change. */
  readonly onDidChange: vscode.Event<void>;
}

export interface AgentPoolConversations {
  /** Every conversation, most recently used first. */
  list(): Promise<ConversationSummary[]>;
  get(key: string): Promise<ConversationSummary | undefined>;
  /**
   * Ends a conversation: `session/close` to its agent where supported, its record and transcript
   * removed; the key then starts afresh. Waits for a turn of it to end; false if there was none.
   */
  close(key: string): Promise<boolean>;
  /** A conversation went on in a new session: the agent could not resume it, its earlier context is gone. */
  readonly onDidLoseContext: vscode.Event<{ key: string; profile: string; reason: string }>;
}

export interface ConversationSummary {
  key: string;
  profile: string;
  /** The agent session holding its context, once one was opened. */
  sessionId: string | undefined;
  /** The agent of this window whose process holds the session; undefined when none does (it resumes on the next turn). */
  agentId: string | undefined;
  turns: number;
  /** Cost over its turns (the differences of the agent's running totals), tokens, and the context in use against the window. */
  usage: { costUsd: number; inputTokens: number; outputTokens: number; contextUsed?: number; contextSize?: number };
  /** "15k/200k (7.5%)", when the agent reported it. */
  contextText: string | undefined;
  /** Wall-clock ms. */
  lastUsedAt: number;
  createdAt: number;
  /** Times it went on without its earlier context, and why the last time. */
  contextLost: number;
  contextLostReason: string | undefined;
  /** The workspace and the window or process that ran its last turn. */
  workspace: string;
  servedBy: string;
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
  /** The agent session the answer came from. */
  sessionId: string;
  /**
   * For a conversation (`sessionKey`): how its session served this turn: `started`, `kept`,
   * `resumed`/`loaded` (another agent process took it over), or `context-lost` (a new session:
   * `contextLost` says why the earlier context is gone).
   */
  continuity?: 'started' | 'kept' | 'resumed' | 'loaded' | 'context-lost';
  contextLost?: string;
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
  const answer = (result: TurnResult, agentId: string, profile: string): AgentAnswer => {
    const given: AgentAnswer = { text: result.text, stopReason: result.stopReason, agentId, profile, totalMs: result.totalMs, firstEventMs: result.firstEventMs, sessionId: result.sessionId };
    if (result.continuity !== undefined) given.continuity = result.continuity;
    if (result.contextLost !== undefined) given.contextLost = result.contextLost;
    return given;
  };
  const acquire = async (options: AgentRequest = {}): Promise<AgentLease> => {
    assertSpawnAllowed();
    const lease = await service.acquire(routing(options));
    return {
      agentId: lease.agentId,
      profile: lease.profile,
      async prompt(text, turn = {}) {
        return answer(await lease.prompt(text, turn), lease.agentId, lease.profile);
      },
      release: () => lease.release(),
    };
  };
  const run = async (prompt: string, options: AgentRequest & { onEvent?: (event: AgentStreamEvent) => void } = {}): Promise<AgentAnswer> => {
    const result = await service.run(prompt, { ...routing(options), onEvent: options.onEvent });
    return answer(result, result.agentId, result.profile);
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
    conversations: {
      list: async () => (await service.conversations.list()).map(summaryOf),
      get: async (key) => {
        const view = await service.conversations.get(key);
        return view && summaryOf(view);
      },
      close: (key) => service.conversations.close(key),
      onDidLoseContext: asVscodeEvent(service.conversations.onDidLoseContext),
    },
    onDidChange,
  };
}

function summaryOf(view: ConversationView): ConversationSummary {
  const { usage } = view;
  return {
    key: view.key,
    profile: view.profile,
    sessionId: view.sessionId,
    agentId: view.agentId,
    turns: view.turns,
    usage: { costUsd: usage.costUsd, inputTokens: usage.inputTokens, outputTokens: usage.outputTokens, contextUsed: usage.contextUsed, contextSize: usage.contextSize },
    contextText: formatContextUse(usage),
    lastUsedAt: view.lastUsedAt,
    createdAt: view.createdAt,
    contextLost: view.contextLost,
    contextLostReason: view.contextLostReason,
    workspace: view.workspace.name,
    servedBy: view.owner.label,
  };
}

/** A core event as VS Code's: the same listener shape, plus `thisArgs` and the disposables array. */
function asVscodeEvent<T>(event: CoreEvent<T>): vscode.Event<T> {
  return (listener, thisArgs?, disposables?) => {
    const subscription = event((value) => listener.call(thisArgs, value));
    disposables?.push(subscription);
    return subscription;
  };
}

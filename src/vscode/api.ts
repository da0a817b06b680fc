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
  return {
    version: 1,
    async acquire(options = {}) {
      assertSpawnAllowed();
      const lease = await service.manager.acquire(routing(options));
      return {
        agentId: lease.agentId,
        profile: lease.profile,
        async prompt(text, turn = {}) {
          const result = await lease.prompt(text, turn);
          return { text: result.text, stopReason: result.stopReason, agentId: lease.agentId, profile: lease.profile, totalMs: result.totalMs, firstEventMs: result.firstEventMs };
        },
        release: () => lease.release(),
      };
    },
    async run(prompt, options = {}) {
      const result = await service.run(prompt, { ...routing(options), onEvent: options.onEvent });
      return { text: result.text, stopReason: result.stopReason, agentId: result.agentId, profile: result.profile, totalMs: result.totalMs, firstEventMs: result.firstEventMs };
    },
    metrics: () => ({ thisWindow: service.localMetrics(), allWindows: service.aggregate(), pools: service.pools() }),
    onDidChange,
  };
}

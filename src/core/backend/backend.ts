import type { AgentBudget } from '../budget/budget';
import type { Clock } from '../common/clock';
import type { Disposable } from '../common/event';
import type { CoreLogger } from '../common/logger';
import type { MetricsStateStore } from '../metrics/persistence';
import type { MetricsState } from '../metrics/metricsState';
import type { MetricsSnapshot } from '../metrics/snapshot';
import type { MetricsPublisher, MetricsView } from '../metrics/transport';
import type { Event } from '../common/event';
import type { InstanceRegistry } from '../registry/types';
import type { OwnerSilenceWatch } from '../process/ownerWatch';

/**
 * Where participants meet: the registry of windows, the global budget and the metrics transport.
 * The service and the CLI see only this, so the file backend (one machine, the default) and a
 * backend spanning machines are interchangeable. Conversations and saved state stay in `directory`
 * on this machine whatever the backend.
 */
export interface CoordinationBackend extends Disposable {
  readonly kind: 'local' | 'etcd';
  /** This machine's registry directory (agentPool.registryDirectory). */
  readonly directory: string;
  /** Where the budget and registry live, in words for messages: the directory, or the etcd endpoints. */
  readonly describe: string;
  /** Set by backends whose slots expire on their own: the guardians' silence watch (see process/ownerWatch.ts). */
  readonly ownerSilenceWatch?: OwnerSilenceWatch;
  createRegistry(options: RegistryOpenOptions): InstanceRegistry;
  openBudget(options: BudgetOpenOptions): Promise<AgentBudget>;
  createMetricsView(options: { registry?: InstanceRegistry; clock?: Clock; log?: (message: string) => void }): MetricsView;
  createMetricsPublisher(options: MetricsPublisherOptions): MetricsPublisher;
}

export interface RegistryOpenOptions {
  clock?: Clock;
  log?: CoreLogger;
  heartbeatIntervalMs?: number;
}

export interface BudgetOpenOptions {
  maxAgentsTotal: number;
  maxAgentsPerWindow?: number;
  /** Shown to other participants as the holder of this budget's slots. */
  windowId: string;
  clock?: Clock;
  log?: CoreLogger;
  /** The caps live participants declare (InstanceRegistry.declaredCaps): the smallest is enforced. */
  declaredCaps?: () => Promise<number[]>;
}

export interface MetricsPublisherOptions {
  instanceId: string;
  produce: () => MetricsSnapshot;
  produceState?: () => MetricsState;
  onDidChange?: Event<void>;
  stateStore?: MetricsStateStore;
  clock?: Clock;
  log?: (message: string) => void;
}

import type { Disposable, Event } from '../common/event';

/**
 * The cross-window registry, as the pool, the metrics aggregator, the CLI and the UI see it.
 *
 * On disk (one per-user directory, mode 0700, files of other users ignored):
 *   instances/<id>.json          one record per window, written atomically (temp file + rename)
 *   instances/<id>.metrics.json  that window's metrics snapshot (owned by src/core/metrics)
 *   slots/slot-<k>               one file per held slot of the global agent budget
 */
export type InstanceLifecycle = 'ACTIVE' | 'IDLE' | 'COMPLETING';

/** What a reader concludes about a window; never stored, always derived on the reader's own clock. */
export type InstanceHealth = 'live' | 'unresponsive' | 'dead';

export interface InstanceRecord {
  schema: 1;
  /** `YYYYMMDD_HHMMSS_<pid>_<8 hex>`: sorts in time order. */
  id: string;
  pid: number;
  processStartTime: string;
  hostname: string;
  workspaceName: string;
  workspaceFolders: string[];
  extensionVersion: string;
  /** Wall-clock ms, for display only. */
  startedAt: number;
  lifecycle: InstanceLifecycle;
  heartbeatSeq: number;
  /** Wall-clock ms of the last heartbeat, for display only: staleness is judged from heartbeatSeq. */
  heartbeatAt: number;
  /** Where the window can be reached (e.g. a metrics URL), if anywhere. */
  address?: string;
  /**
   * The agentPool.maxAgentsTotal this participant was configured with. The store's cap is the
   * smallest one declared by a live participant (see budget/effectiveCap.ts); absent in records of
   * older versions, which then declare nothing.
   */
  maxAgentsTotal?: number;
}

export interface InstanceView {
  record: InstanceRecord;
  health: InstanceHealth;
  /** Milliseconds since this reader last saw heartbeatSeq move (reader's monotonic clock). */
  heartbeatAgeMs: number;
  isSelf: boolean;
}

export type RegistryChange =
  | { kind: 'joined'; instance: InstanceView }
  | { kind: 'left'; id: string }
  | { kind: 'unresponsive'; instance: InstanceView }
  | { kind: 'changed'; instance: InstanceView };

export interface CleanupReport {
  removedDead: string[];
  removedStale: string[];
  reclaimedSlots: string[];
  killedOrphans: number[];
  /** Live processes that leases of dead windows name as their agents, not proven to be: reported, never killed. */
  notKilled: number[];
}

export interface InstanceRegistry extends Disposable {
  readonly directory: string;
  /** This window's id once registered. */
  readonly selfId: string | undefined;
  register(info: RegisterInfo): Promise<InstanceRecord>;
  setLifecycle(lifecycle: InstanceLifecycle): Promise<void>;
  deregister(): Promise<void>;
  /** Current view of every window, this one included; cheap, no I/O. */
  instances(): InstanceView[];
  /** Re-reads the directory now (the watcher does this on its own). */
  refresh(): Promise<void>;
  /** Removes dead windows (and records from other hosts or older than maxAgeMs) with their slots and agents. */
  cleanup(options?: { maxAgeMs?: number }): Promise<CleanupReport>;
  /**
   * The caps declared by every participant not proven dead, read from the store now (not from the
   * cached view): the budget calls it inside the cross-window lock before every acquisition.
   */
  declaredCaps(): Promise<number[]>;
  readonly onDidChange: Event<RegistryChange>;
}

export interface RegisterInfo {
  workspaceName: string;
  workspaceFolders: string[];
  extensionVersion: string;
  address?: string;
  /** `lifecycle` defaults to ACTIVE. */
  lifecycle?: InstanceLifecycle;
  /** The cap this participant was configured with (agentPool.maxAgentsTotal, or the CLI's flag). */
  maxAgentsTotal?: number;
}

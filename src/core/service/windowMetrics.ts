import type { CoordinationBackend } from '../backend/backend';
import type { Clock, TimerHandle } from '../common/clock';
import type { Disposable } from '../common/event';
import { MetricsCollector } from '../metrics/collector';
import type { MetricsState } from '../metrics/metricsState';
import type { MetricsStateStore } from '../metrics/persistence';
import type { MetricsPublisher } from '../metrics/transport';
import type { PoolManager } from '../pool/manager';

export interface WindowMetricsOptions {
  windowId: string;
  /** Only a registered window publishes its snapshots for other windows and the CLI. */
  publish: boolean;
  clock: Clock;
  backend: CoordinationBackend;
  manager: PoolManager;
  restored: MetricsState | undefined;
  stateStore: MetricsStateStore | undefined;
  heartbeatIntervalMs(): number;
  log(message: string): void;
  /** True once the window is shutting down or gone: the heartbeat stops re-arming. */
  stopped(): boolean;
}

/**
 * One window's metrics: the collector fed by the manager's events, and (for a registered window)
 * the publisher that writes its snapshots, also with each heartbeat so readers see the figures are
 * current.
 */
export class WindowMetrics implements Disposable {
  readonly collector: MetricsCollector;
  private readonly attachment: Disposable;
  private readonly writer: MetricsPublisher | undefined;
  private heartbeatTimer: TimerHandle | undefined;

  constructor(private readonly options: WindowMetricsOptions) {
    const { manager } = options;
    const collector = new MetricsCollector({ instanceId: options.windowId, clock: options.clock, restored: options.restored });
    this.collector = collector;
    this.attachment = collector.attach({ onDidEmit: manager.onDidEvent, snapshot: () => manager.list() });
    if (options.publish) {
      this.writer = options.backend.createMetricsPublisher({
        instanceId: options.windowId,
        produce: () => collector.snapshot(),
        produceState: () => collector.state(),
        onDidChange: collector.onDidChange,
        stateStore: options.stateStore,
        clock: options.clock,
        log: (message) => options.log(message),
      });
      this.writer.markDirty();
      this.scheduleHeartbeatWrite();
    }
  }

  stopHeartbeat(): void {
    if (this.heartbeatTimer) this.options.clock.clearTimeout(this.heartbeatTimer);
  }

  /** Writes the last snapshot (shutdown, once the pools are closed). */
  async close(): Promise<void> {
    await this.writer?.close({ flush: true }).catch(() => undefined);
  }

  dispose(): void {
    this.stopHeartbeat();
    this.writer?.dispose();
    this.collector.dispose();
    this.attachment.dispose();
  }

  private scheduleHeartbeatWrite(): void {
    this.heartbeatTimer = this.options.clock.setTimeout(() => {
      void this.writer?.heartbeat().finally(() => {
        if (!this.options.stopped()) this.scheduleHeartbeatWrite();
      });
    }, this.options.heartbeatIntervalMs());
    this.heartbeatTimer.unref?.();
  }
}

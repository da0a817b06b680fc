import type { Disposable, Event } from '../common/event';
import type { AggregateView } from './aggregate';

/**
 * How one participant's metrics leave it: the file backend writes a snapshot file per window
 * (SnapshotWriter); another backend may publish throttled summaries elsewhere.
 */
export interface MetricsPublisher extends Disposable {
  /** Something changed: publish soon (coalesced). */
  markDirty(): void;
  /** Publish now even if nothing changed, so readers see the figures are current. */
  heartbeat(): Promise<void>;
  close(options?: { flush: boolean }): Promise<void>;
}

/** Every participant's figures merged, as the UI and the CLI read them (MetricsAggregator for files). */
export interface MetricsView extends Disposable {
  readonly current: AggregateView;
  readonly onDidChange: Event<AggregateView>;
  start(): Promise<AggregateView>;
  refresh(): Promise<AggregateView>;
}

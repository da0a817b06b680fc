import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { errorMessage } from '../../common/errors';
import type { Disposable } from '../../common/event';
import { INSTANCES_DIRECTORY, metricsFileName } from '../../directory/layout';
import { unlinkQuietly, writeFileAtomically } from '../../directory/privateFiles';
import { MetricsAggregator } from '../../metrics/aggregator';
import type { MetricsPublisher, MetricsView } from '../../metrics/transport';
import type { MetricsPublisherOptions } from '../backend';
import type { InstanceRegistry } from '../../registry/types';
import { b64, text, type EtcdGateway, type Watching } from './gateway';
import { prefixRange, type EtcdKeys } from './keys';
import type { LeaseSession } from './leaseSession';

/** Fewest milliseconds between two writes of one participant's snapshot to etcd: every write is a revision to compact. */
export const METRICS_PUT_INTERVAL_MS = 2000;

/**
 * One participant's metrics on etcd: its whole snapshot (already a summary: counters and histogram
 * buckets, no prompts) at `<prefix>/metrics/<id>`, bound to its lease, written at most every
 * METRICS_PUT_INTERVAL_MS however often the figures change.
 */
export class EtcdMetricsPublisher implements MetricsPublisher {
  private timer: NodeJS.Timeout | undefined;
  private lastPut = Number.NEGATIVE_INFINITY;
  private putting: Promise<void> = Promise.resolve();
  private readonly subscription: Disposable | undefined;
  private closed = false;

  constructor(
    private readonly options: MetricsPublisherOptions & { gateway: EtcdGateway; session: LeaseSession; keys: EtcdKeys },
  ) {
    this.subscription = options.onDidChange?.(() => this.markDirty());
  }

  markDirty(): void {
    if (this.closed || this.timer) return;
    const wait = Math.max(0, this.lastPut + METRICS_PUT_INTERVAL_MS - performance.now());
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.put();
    }, wait);
    this.timer.unref();
  }

  heartbeat(): Promise<void> {
    // The lease's keepalive already says the figures are current; a heartbeat only publishes pending changes.
    this.markDirty();
    return Promise.resolve();
  }

  async close(options: { flush: boolean } = { flush: true }): Promise<void> {
    if (options.flush && !this.closed) await this.put();
    this.dispose();
  }

  dispose(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.subscription?.dispose();
  }

  private put(): Promise<void> {
    this.putting = this.putting.then(async () => {
      const leaseId = this.options.session.provableLease();
      if (!leaseId) return;
      this.lastPut = performance.now();
      try {
        const snapshot = this.options.produce();
        await this.options.gateway.call('/v3/kv/put', { key: b64(this.options.keys.metricsOf(this.options.instanceId)), value: b64(JSON.stringify(snapshot)), lease: leaseId });
      } catch (error) {
        this.options.log?.(`metrics not published to etcd: ${errorMessage(error)}`);
      }
    });
    return this.putting;
  }
}

/**
 * Every participant's figures across machines: the snapshots on etcd are mirrored (list, then a
 * watch from the listing's revision) into a private local directory, laid out as the file backend's
 * `instances/`, and merged there by the same MetricsAggregator as on one machine, with the window
 * list from the etcd registry.
 */
export function etcdMetricsView(options: { gateway: EtcdGateway; keys: EtcdKeys; registry?: InstanceRegistry; log?: (message: string) => void }): MetricsView {
  const mirror = mkdtempSync(path.join(os.tmpdir(), 'agent-pool-etcd-metrics-'));
  const instances = path.join(mirror, INSTANCES_DIRECTORY);
  mkdirSync(instances, { recursive: true, mode: 0o700 });
  const aggregator = new MetricsAggregator({ directory: mirror, registry: options.registry, log: options.log });
  let watching: Watching | undefined;
  let disposed = false;
  const fileOf = (key: string) => path.join(instances, metricsFileName(path.basename(text(key))));
  const sync = async (): Promise<void> => {
    if (disposed) return;
    const listed = await options.gateway.call<{ header?: { revision?: string }; kvs?: Array<{ key: string; value?: string }> }>('/v3/kv/range', prefixRange(options.keys.metrics));
    for (const kv of listed.kvs ?? []) await writeFileAtomically(fileOf(kv.key), text(kv.value)).catch(() => undefined);
    watching?.cancel();
    watching = options.gateway.watch(
      { create_request: { ...prefixRange(options.keys.metrics), start_revision: String(BigInt(listed.header?.revision ?? '0') + 1n) } },
      (result) => {
        for (const event of result.events ?? []) {
          void (event.type === 'DELETE' ? unlinkQuietly(fileOf(event.kv.key)) : writeFileAtomically(fileOf(event.kv.key), text(event.kv.value))).catch(() => undefined);
        }
      },
      () => {
        if (!disposed) setTimeout(() => void sync().catch(() => undefined), 500).unref();
      },
    );
  };
  return {
    get current() {
      return aggregator.current;
    },
    onDidChange: aggregator.onDidChange,
    start: async () => {
      await sync().catch((error) => options.log?.(`listing metrics on etcd: ${errorMessage(error)}`));
      return aggregator.start();
    },
    refresh: async () => {
      await sync().catch((error) => options.log?.(`listing metrics on etcd: ${errorMessage(error)}`));
      return aggregator.refresh();
    },
    dispose: () => {
      disposed = true;
      watching?.cancel();
      aggregator.dispose();
      rmSync(mirror, { recursive: true, force: true });
    },
  };
}

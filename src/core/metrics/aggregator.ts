import { watch, type FSWatcher } from 'node:fs';
import { join } from 'node:path';
import type { Clock, TimerHandle } from '../common/clock';
import { systemClock } from '../common/clock';
import { Coalescer } from '../common/coalescer';
import { Emitter, type Disposable, type Event } from '../common/event';
import type { InstanceHealth, InstanceRecord, InstanceRegistry } from '../registry/types';
import { markSuperseded, type AggregateView, type WindowMetrics } from './aggregate';
import { InstanceFileReader, isProcessGone, isProvablyGone } from './instanceFiles';
import { RunningTotals } from './runningTotals';
import { INSTANCES_DIRECTORY } from '../directory/layout';
import type { MetricsSnapshot } from './snapshot';

export interface MetricsAggregatorOptions {
  /** The registry directory (the one holding `instances/`). */
  directory: string;
  /** When given, the window list and health come from it; otherwise from the record files. */
  registry?: InstanceRegistry;
  /** This window's id (defaults to the registry's `selfId`); undefined for the CLI. */
  selfId?: string;
  clock?: Clock;
  /** Quiet time after a change event before re-reading (bounds the work under bursts). Default 40 ms. */
  debounceMs?: number;
  /** Safety-net re-read for file systems whose change events get lost. Default 2000 ms. */
  pollIntervalMs?: number;
  /** Without a registry: a window whose heartbeat has not moved this long is unresponsive. Default 15 s. */
  unresponsiveAfterMs?: number;
  log?: (message: string) => void;
}

interface HeartbeatSeen {
  seq: number;
  /** Reader's monotonic ms when `seq` was last seen to change. */
  changedAt: number;
}

/**
 * A live total across every window, built from their snapshot files. Bad, vanishing or foreign
 * files are skipped and counted, a window keeps its last good snapshot, and nothing here throws:
 * `refresh()` always resolves with the best view it has.
 *
 * Incremental: parsed snapshots and their partial sums are kept per file. A change reported by the
 * directory watcher re-reads only the files it names; the poll and `refresh()` list the directory
 * and re-read only files whose inode, size or mtime moved. Totals are then updated from the cached
 * partials, so one changed window costs one parse and its own buckets, whatever the window count.
 */
export class MetricsAggregator implements Disposable {
  private readonly clock: Clock;
  private readonly reader: InstanceFileReader;
  private readonly heartbeats = new Map<string, HeartbeatSeen>();
  private readonly lastGoodRecords = new Map<string, InstanceRecord>();
  private readonly lastGoodSnapshots = new Map<string, MetricsSnapshot>();
  private readonly totals = new RunningTotals();
  /** Files the watcher named since the last read; only they need a look. */
  private hintedNames = new Set<string>();
  /** The next read lists the whole directory (first read, poll, `refresh()`, a watcher without names). */
  private fullScanDue = true;
  private readonly disposables: Disposable[] = [];
  private watcher: FSWatcher | undefined;
  private debounceTimer: TimerHandle | undefined;
  private pollTimer: TimerHandle | undefined;
  private readonly reading = new Coalescer(() => this.readLogged(), () => !this.disposed);
  private lastSignature = '';
  private view: AggregateView;
  private started = false;
  private disposed = false;

  private readonly _onDidChange = new Emitter<AggregateView>();
  /** Fires when any window's snapshot, health or the set of windows changed. */
  readonly onDidChange: Event<AggregateView> = this._onDidChange.event;

  constructor(private readonly options: MetricsAggregatorOptions) {
    this.clock = options.clock ?? systemClock;
    this.reader = new InstanceFileReader(join(options.directory, INSTANCES_DIRECTORY));
    this.view = this.buildView([]);
  }

  /** The last view; cheap, no I/O. */
  get current(): AggregateView {
    return this.view;
  }

  /** Starts watching (and the polling safety net); the first read happens at once. */
  start(): Promise<AggregateView> {
    if (!this.started && !this.disposed) {
      this.started = true;
      if (this.options.registry) {
        this.disposables.push(this.options.registry.onDidChange(() => this.scheduleRefresh()));
      }
      this.startWatching();
      this.schedulePoll();
    }
    return this.refresh();
  }

  /** Re-reads the directory now (changed files only); concurrent calls share one read and a follow-up. Never rejects. */
  refresh(): Promise<AggregateView> {
    this.fullScanDue = true;
    return this.drain();
  }

  private drain(): Promise<AggregateView> {
    return this.reading.run();
  }

  private async readLogged(): Promise<AggregateView> {
    try {
      await this.readOnce();
    } catch (error) {
      this.fullScanDue = true; // the hints of the failed read are gone
      this.log(`metrics: reading ${this.options.directory} failed: ${String(error)}`);
    }
    return this.view;
  }

  dispose(): void {
    this.disposed = true;
    this.watcher?.close();
    this.watcher = undefined;
    if (this.debounceTimer) this.clock.clearTimeout(this.debounceTimer);
    if (this.pollTimer) this.clock.clearTimeout(this.pollTimer);
    for (const disposable of this.disposables.splice(0)) disposable.dispose();
    this._onDidChange.dispose();
  }

  private async readOnce(): Promise<void> {
    const registry = this.options.registry;
    const which = registry ? 'metrics-only' : 'all';
    // Without a working watcher its hints cannot be trusted to be complete.
    const fullScan = this.fullScanDue || !this.watcher;
    const hinted = this.hintedNames;
    this.fullScanDue = false;
    this.hintedNames = new Set();
    const files = fullScan ? await this.reader.scan(which) : await this.reader.update(which, hinted);
    const now = this.clock.monotonicNow();
    const windows: WindowMetrics[] = [];
    const selfId = this.options.selfId ?? registry?.selfId;

    const instances = registry
      ? registry.instances().map((view) => ({ id: view.record.id, record: view.record, registryView: view }))
      : [...files.records.keys()].map((id) => ({ id, record: files.records.get(id), registryView: undefined }));

    const present = new Set<string>();
    for (const instance of instances) {
      present.add(instance.id);
      const record = instance.record ?? this.lastGoodRecords.get(instance.id);
      // A record never read whole is not a window yet (the bad file is counted in `skipped`).
      if (!record) continue;
      if (instance.record) this.lastGoodRecords.set(instance.id, instance.record);
      const fresh = files.snapshots.get(instance.id);
      if (fresh) this.lastGoodSnapshots.set(instance.id, fresh);
      const snapshot = this.lastGoodSnapshots.get(instance.id);
      const health = instance.registryView
        ? { health: instance.registryView.health, ageMs: instance.registryView.heartbeatAgeMs }
        : this.judgeFromRecord(instance.id, record, now);
      // A silent window may be a dead one whose pid was reused: ask for proof by start time.
      if (!instance.registryView && health.health === 'unresponsive' && (await isProvablyGone(record))) health.health = 'dead';
      const window: WindowMetrics = {
        record,
        id: instance.id,
        health: health.health,
        heartbeatAgeMs: health.ageMs,
        isSelf: instance.registryView?.isSelf ?? instance.id === selfId,
        snapshotStale: fresh === undefined && snapshot !== undefined,
        superseded: false,
      };
      if (snapshot) window.snapshot = snapshot;
      windows.push(window);
    }
    // A window whose record is gone has left: forget it, whatever its metrics file still says.
    for (const map of [this.heartbeats, this.lastGoodRecords, this.lastGoodSnapshots]) {
      for (const id of map.keys()) if (!present.has(id)) map.delete(id);
    }
    windows.sort((a, b) => a.id.localeCompare(b.id));
    markSuperseded(windows);
    this.view = this.buildView(windows);
    const signature = this.signatureOf(windows);
    if (signature !== this.lastSignature) {
      this.lastSignature = signature;
      if (!this.disposed) this._onDidChange.fire(this.view);
    }
  }

  private buildView(windows: WindowMetrics[]): AggregateView {
    const selfId = this.options.selfId ?? this.options.registry?.selfId;
    return {
      generatedAt: this.clock.wallNow(),
      selfId,
      windows,
      totals: this.totals.update(windows, selfId),
      skipped: this.reader.skipped(),
    };
  }

  /** Without a registry: unresponsive when the heartbeat sequence has not moved for a while (reader's clock). */
  private judgeFromRecord(id: string, record: InstanceRecord, now: number): { health: InstanceHealth; ageMs: number } {
    let seen = this.heartbeats.get(id);
    if (!seen) {
      // First sight: the wall-clock age is the only hint; from now on only seq movement counts.
      const wallAge = Math.max(0, this.clock.wallNow() - record.heartbeatAt);
      seen = { seq: record.heartbeatSeq, changedAt: now - wallAge };
      this.heartbeats.set(id, seen);
    } else if (seen.seq !== record.heartbeatSeq) {
      seen.seq = record.heartbeatSeq;
      seen.changedAt = now;
    }
    const ageMs = Math.max(0, now - seen.changedAt);
    if (isProcessGone(record)) return { health: 'dead', ageMs };
    return { health: ageMs > (this.options.unresponsiveAfterMs ?? 15_000) ? 'unresponsive' : 'live', ageMs };
  }

  /**
   * What listeners are told about: a window's figures, health and standing, never its write count.
   * Every window rewrites its snapshot with each heartbeat (twice a second in tests), and a snapshot
   * that differs only in `seq` and `writtenAt` changes nothing anyone shows: firing for it made every
   * idle window re-render its status bar and tree, and set its context keys, several times a second
   * for each other window.
   */
  private signatureOf(windows: WindowMetrics[]): string {
    const parts = windows.map((w) => `${w.id}:${w.snapshot ? contentSignature(w.snapshot) : '-'}:${w.health}:${w.snapshotStale ? 's' : ''}:${w.superseded ? 'x' : ''}`);
    return `${parts.join('|')}#${this.view.skipped.total}`;
  }

  private startWatching(): void {
    if (this.disposed || this.watcher) return;
    try {
      this.watcher = watch(join(this.options.directory, INSTANCES_DIRECTORY), { persistent: false }, (_event, name) => {
        // No name (some platforms, or an overflowed event queue): only a full listing is safe.
        if (name) this.hintedNames.add(name.toString());
        else this.fullScanDue = true;
        this.scheduleRefresh();
      });
      this.watcher.on('error', () => {
        // e.g. the directory was removed: fall back to polling, which retries the watch.
        this.watcher?.close();
        this.watcher = undefined;
        this.fullScanDue = true;
      });
    } catch {
      // No directory yet, or no watch support: the poll below retries.
      this.watcher = undefined;
    }
  }

  private scheduleRefresh(): void {
    if (this.disposed || this.debounceTimer) return;
    this.debounceTimer = this.clock.setTimeout(() => {
      this.debounceTimer = undefined;
      void this.drain();
    }, this.options.debounceMs ?? 40);
    this.debounceTimer.unref?.();
  }

  private schedulePoll(): void {
    if (this.disposed) return;
    this.pollTimer = this.clock.setTimeout(() => {
      this.pollTimer = undefined;
      this.startWatching();
      void this.refresh().finally(() => this.schedulePoll());
    }, this.options.pollIntervalMs ?? 2000);
    this.pollTimer.unref?.();
  }

  private log(message: string): void {
    (this.options.log ?? ((text: string) => console.error(`[agent-pool] ${text}`)))(message);
  }
}

/** A snapshot's content without its write count and time (and agents' uptimes, which only tick), once per parsed snapshot. */
const contentSignatures = new WeakMap<MetricsSnapshot, string>();
function contentSignature(snapshot: MetricsSnapshot): string {
  let signature = contentSignatures.get(snapshot);
  if (signature === undefined) {
    signature = JSON.stringify({ ...snapshot, seq: 0, writtenAt: 0, agents: snapshot.agents.map((agent) => ({ ...agent, uptimeMs: 0 })) });
    contentSignatures.set(snapshot, signature);
  }
  return signature;
}

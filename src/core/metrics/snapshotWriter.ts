import { promises as fs } from 'node:fs';
import { dirname } from 'node:path';
import type { Clock, TimerHandle } from '../common/clock';
import { systemClock } from '../common/clock';
import { errorMessage } from '../common/errors';
import { Emitter, type Disposable, type Event } from '../common/event';
import { writeFileAtomically } from '../directory/privateFiles';
import type { MetricsStateStore } from './persistence';
import { stateFromSnapshot, type MetricsState } from './metricsState';
import type { MetricsSnapshot } from './snapshot';

export interface SnapshotWriterOptions {
  /** `<registry dir>/instances/<id>.metrics.json`; see `metricsFilePath`. */
  file: string;
  /** Builds the snapshot to write (usually `collector.snapshot.bind(collector)`). */
  produce: () => MetricsSnapshot;
  /** Changes that should cause a write (usually `collector.onDidChange`). */
  onDidChange?: Event<void>;
  /** Also keeps the counters here so the next instance of this workspace can restore them. */
  stateStore?: MetricsStateStore;
  /**
   * Builds what `stateStore` keeps (usually `collector.state.bind(collector)`). Without it the state
   * is derived from the shared snapshot: every counter survives a reload, but session and pair
   * latency histograms (which the shared snapshot only summarizes) start again empty.
   */
  produceState?: () => MetricsState;
  /** Fewest milliseconds between two writes. Default 500. */
  minIntervalMs?: number;
  clock?: Clock;
  log?: (message: string) => void;
}

export interface SnapshotWriterStats {
  writes: number;
  failures: number;
  /** Changes that did not cause a write of their own because one was already due. */
  coalesced: number;
}

/**
 * Writes this window's snapshot atomically when something changed, at most every `minIntervalMs`
 * (a change during the quiet period is written at its end: the trailing write is never lost), and
 * at every heartbeat. A failing disk (read-only, full) is logged once per outage; the metrics stay
 * in memory and the next write tries again.
 */
export class SnapshotWriter implements Disposable {
  private readonly clock: Clock;
  private readonly minIntervalMs: number;
  private readonly log: (message: string) => void;
  private readonly subscription: Disposable | undefined;
  private timer: TimerHandle | undefined;
  private writing: Promise<void> | undefined;
  private dirty = false;
  private lastWriteAt = -Infinity;
  private failing = false;
  private disposed = false;
  private directoryReady = false;
  private readonly counts: SnapshotWriterStats = { writes: 0, failures: 0, coalesced: 0 };

  private readonly _onDidWrite = new Emitter<{ seq: number; ok: boolean }>();
  /** Fires after each write attempt, with the snapshot's seq and whether it reached the disk. */
  readonly onDidWrite: Event<{ seq: number; ok: boolean }> = this._onDidWrite.event;

  constructor(private readonly options: SnapshotWriterOptions) {
    this.clock = options.clock ?? systemClock;
    this.minIntervalMs = options.minIntervalMs ?? 500;
    this.log = options.log ?? ((message) => console.error(`[agent-pool] ${message}`));
    this.subscription = options.onDidChange?.(() => this.markDirty());
  }

  get stats(): SnapshotWriterStats {
    return { ...this.counts };
  }

  /** Something changed: write soon, but not sooner than `minIntervalMs` after the last write. */
  markDirty(): void {
    if (this.disposed) return;
    if (this.dirty) {
      this.counts.coalesced++;
      return;
    }
    this.dirty = true;
    if (this.writing) return; // the write in flight reschedules when it ends
    this.schedule();
  }

  /** The heartbeat: write now whether or not anything changed, so readers see a fresh `seq`. */
  heartbeat(): Promise<void> {
    if (this.disposed) return Promise.resolve();
    this.dirty = true;
    return this.flush();
  }

  /** Writes pending changes now (waits for a write in flight first). */
  async flush(): Promise<void> {
    while (this.writing) await this.writing;
    // A closed writer never writes again: the window may have deregistered, and a late write would bring its file back.
    if (!this.dirty || this.disposed) return;
    this.cancelTimer();
    await this.writeNow();
  }

  /** Stops writing; pending changes are flushed first if `flush` is true. Never throws. */
  async close(options: { flush: boolean } = { flush: true }): Promise<void> {
    if (options.flush && !this.disposed) await this.flush();
    this.dispose();
  }

  dispose(): void {
    this.disposed = true;
    this.cancelTimer();
    this.subscription?.dispose();
    this._onDidWrite.dispose();
  }

  private schedule(): void {
    if (this.timer || this.disposed) return;
    const wait = Math.max(0, this.lastWriteAt + this.minIntervalMs - this.clock.monotonicNow());
    this.timer = this.clock.setTimeout(() => {
      this.timer = undefined;
      void this.writeNow();
    }, wait);
    this.timer.unref?.();
  }

  private writeNow(): Promise<void> {
    const write = this.write().then((result) => {
      this.writing = undefined;
      if (this.dirty) this.schedule();
      this._onDidWrite.fire(result);
    });
    this.writing = write;
    return write;
  }

  /** Never rejects: a failed write is logged (once per outage) and reported through onDidWrite. */
  private async write(): Promise<{ seq: number; ok: boolean }> {
    this.dirty = false;
    this.lastWriteAt = this.clock.monotonicNow();
    let seq = -1;
    try {
      const snapshot = this.options.produce();
      seq = snapshot.seq;
      await this.ensureDirectory();
      await writeFileAtomically(this.options.file, JSON.stringify(snapshot));
      if (this.options.stateStore) {
        await this.options.stateStore.save(this.options.produceState?.() ?? stateFromSnapshot(snapshot));
      }
      this.counts.writes++;
      if (this.failing) {
        this.failing = false;
        this.log(`metrics: writing ${this.options.file} works again`);
      }
      return { seq, ok: true };
    } catch (error) {
      this.counts.failures++;
      this.directoryReady = false;
      if (!this.failing) {
        this.failing = true;
        this.log(
          `metrics: cannot write ${this.options.file} (${errorMessage(error)}); metrics stay in this window ` +
            'until the disk accepts writes again. Check free space and that the directory is writable.',
        );
      }
      return { seq, ok: false };
    }
  }

  private async ensureDirectory(): Promise<void> {
    if (this.directoryReady) return;
    await fs.mkdir(dirname(this.options.file), { recursive: true, mode: 0o700 });
    this.directoryReady = true;
  }

  private cancelTimer(): void {
    if (this.timer) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }
}

import { unlinkSync } from 'node:fs';
import * as path from 'node:path';
import type { TimerHandle } from '../common/clock';
import { AgentPoolError, errorMessage } from '../common/errors';
import { Coalescer } from '../common/coalescer';
import { Emitter } from '../common/event';
import { SlotSweeper } from '../budget/slotSweeper';
import { currentProcessIdentity, type ProcessIdentity } from '../process/identity';
import { BadFileTracker, type BadFileCounts } from '../directory/badFiles';
import { DirectoryWatcher } from '../directory/directoryWatcher';
import { isWindowProvablyDead, readInstanceRecords, removeOrphanMetricsFiles, removeWindowFiles, type RecordReadCache } from './instanceReader';
import { recordFileName } from '../directory/layout';
import { newInstanceRecord } from './instanceRecord';
import { InstanceTracker, type ObservedInstance } from './instanceTracker';
import { registryPaths, type RegistryPaths } from '../directory/layout';
import { ensurePrivateDirectory, isUnusableDirectoryError, unusableDirectoryMessage, writeFileAtomically } from '../directory/privateFiles';
import { withRegistryLock } from '../directory/directoryLock';
import { resolveRegistryOptions, type FileInstanceRegistryOptions, type ResolvedRegistryOptions } from './registryOptions';
import type { CleanupReport, InstanceLifecycle, InstanceRecord, InstanceRegistry, InstanceView, RegisterInfo, RegistryChange } from './types';

export type { FileInstanceRegistryOptions } from './registryOptions';

/**
 * The registry of VS Code windows on this machine, one record file per window in a private
 * directory. Readers learn of changes from fs.watch (polling as the fallback), judge heartbeats on
 * their own monotonic clock, and reclaim windows proven dead (record, slots, agent processes).
 */
export class FileInstanceRegistry implements InstanceRegistry {
  private readonly options: ResolvedRegistryOptions;
  private readonly paths: RegistryPaths;
  private readonly badFiles: BadFileTracker;
  private readonly tracker: InstanceTracker;
  private readonly watcher: DirectoryWatcher;
  private readonly changed = new Emitter<RegistryChange>();
  private record: InstanceRecord | undefined;
  private self: ProcessIdentity | undefined;
  private sweeper: SlotSweeper | undefined;
  private heartbeatTimer: TimerHandle | undefined;
  private heartbeating: Promise<void> | undefined;
  private heartbeatFailing = false;
  private readonly refresher = new Coalescer(() => this.scanLogged(), () => !this.disposed);
  /** Records as last read by a scan: unchanged files are not read again on the next one. */
  private readonly recordCache: RecordReadCache = new Map();
  /** Each window's heartbeatSeq at the last scan, and when (monotonic) this reader saw it move. */
  private lastSeen = new Map<string, { seq: number; movedAt: number }>();
  private started = false;
  private disposed = false;

  readonly onDidChange = this.changed.event;

  constructor(options: FileInstanceRegistryOptions) {
    this.options = resolveRegistryOptions(options);
    this.paths = registryPaths(this.options.directory);
    this.badFiles = new BadFileTracker(this.options.log, 'instance registry');
    this.tracker = new InstanceTracker(this.options.unresponsiveAfterMs);
    this.watcher = new DirectoryWatcher(this.paths.instances, () => void this.refresh(), {
      clock: this.options.clock,
      log: this.options.log,
      debounceMs: this.options.debounceMs,
      pollIntervalMs: this.options.sweepIntervalMs,
      useFsWatch: this.options.useFsWatch,
    });
  }

  get directory(): string {
    return this.options.directory;
  }

  get selfId(): string | undefined {
    return this.record?.id;
  }

  /** Starts watching and sweeping without registering (what the CLI and other readers do). */
  async start(): Promise<void> {
    if (this.started || this.disposed) return;
    this.started = true;
    await this.prepareDirectories();
    this.watcher.start();
    await this.refresh();
  }

  async register(info: RegisterInfo): Promise<InstanceRecord> {
    if (this.disposed) throw new AgentPoolError('REGISTRY_CLOSED', 'the instance registry is closed');
    if (this.record) return this.record;
    await this.prepareDirectories();
    const self = await this.identity();
    const { clock, hostname } = this.options;
    const now = clock.wallNow();
    const record: InstanceRecord = newInstanceRecord(info, self, hostname, now);
    await withRegistryLock(this.paths, this.options.log, async () => {
      if (this.options.oneWindowPerProcess) await this.removeEarlierRecordsOfThisProcess(self);
      await this.writeRecord(record);
    }, this.lockOptions());
    this.record = record;
    this.scheduleHeartbeat();
    if (this.started) await this.refresh();
    else await this.start();
    return record;
  }

  async setLifecycle(lifecycle: InstanceLifecycle): Promise<void> {
    if (!this.record || this.record.lifecycle === lifecycle) return;
    this.record = { ...this.record, lifecycle };
    await this.beat();
  }

  async deregister(): Promise<void> {
    const record = this.record;
    if (!record) return;
    this.record = undefined;
    this.stopHeartbeat();
    // A heartbeat already writing must land before the unlink, or it would bring the record back.
    await this.heartbeating;
    await withRegistryLock(this.paths, this.options.log, () => removeWindowFiles(this.paths.instances, record.id, this.options.fs), this.lockOptions());
    await this.refresh();
  }

  /** Resolves once the heartbeat write in flight (if any) has landed: for an orderly shutdown, and tests. */
  async flushHeartbeat(): Promise<void> {
    await this.heartbeating;
  }

  instances(): InstanceView[] {
    return this.tracker.views(this.options.clock.monotonicNow(), this.record?.id);
  }

  async declaredCaps(): Promise<number[]> {
    const records = await readInstanceRecords(this.paths.instances, this.options.fs, this.badFiles);
    const caps: number[] = [];
    for (const [id, record] of records) {
      if (record.maxAgentsTotal === undefined) continue;
      // A dead participant's record may linger until the next sweep: its cap no longer holds.
      if (id !== this.record?.id && (await isWindowProvablyDead(record, this.options.hostname))) continue;
      caps.push(record.maxAgentsTotal);
    }
    return caps;
  }

  /** Bad files seen in `instances/` so far, by kind. */
  badFileCounts(): BadFileCounts {
    return this.badFiles.snapshot();
  }

  refresh(): Promise<void> {
    return this.refresher.run();
  }

  private async scanLogged(): Promise<void> {
    try {
      await this.scanOnce();
    } catch (error) {
      this.options.log.warn(`reading ${this.paths.instances}: ${errorMessage(error)}`);
    }
  }

  async cleanup(options: { maxAgeMs?: number } = {}): Promise<CleanupReport> {
    const maxAgeMs = options.maxAgeMs ?? this.options.staleAfterMs;
    const report: CleanupReport = { removedDead: [], removedStale: [], reclaimedSlots: [], killedOrphans: [], notKilled: [] };
    await this.prepareDirectories();
    await withRegistryLock(this.paths, this.options.log, async () => {
      const records = await readInstanceRecords(this.paths.instances, this.options.fs, this.badFiles);
      const now = this.options.clock.monotonicNow();
      for (const [id, record] of records) {
        if (id === this.record?.id) continue;
        if (await isWindowProvablyDead(record, this.options.hostname)) {
          if (await removeWindowFiles(this.paths.instances, id, this.options.fs)) report.removedDead.push(id);
        } else if (await this.isStaleWithoutProof(record, now, maxAgeMs)) {
          if (await removeWindowFiles(this.paths.instances, id, this.options.fs)) report.removedStale.push(id);
        }
      }
      const swept = await (await this.slotSweeper()).sweep({ killOrphans: this.options.killOrphans });
      report.reclaimedSlots.push(...swept.reclaimed);
      report.killedOrphans.push(...swept.killedOrphans);
      report.notKilled.push(...swept.notKilled);
      await removeOrphanMetricsFiles(this.paths.instances, this.options.fs);
    }, this.lockOptions());
    await this.refresh();
    return report;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.stopHeartbeat();
    this.watcher.dispose();
    const record = this.record;
    this.record = undefined;
    if (record) {
      // Synchronous: the host may be gone before a promise settles, and a reload must leave no ghost.
      try {
        unlinkSync(path.join(this.paths.instances, recordFileName(record.id)));
      } catch {
        // Already gone, or the directory became unusable: a later sweep proves this process dead.
      }
    }
    this.changed.dispose();
  }

  private async scanOnce(): Promise<void> {
    const records = await readInstanceRecords(this.paths.instances, this.options.fs, this.badFiles, this.recordCache);
    const observed = new Map<string, ObservedInstance>();
    const dead: InstanceRecord[] = [];
    const now = this.options.clock.monotonicNow();
    const seen = new Map<string, { seq: number; movedAt: number }>();
    for (const [id, record] of records) {
      const before = this.lastSeen.get(id);
      const movedAt = before && before.seq === record.heartbeatSeq ? before.movedAt : now;
      seen.set(id, { seq: record.heartbeatSeq, movedAt });
      // A heartbeat seen to move within the last second is proof of life: no need to ask /proc
      // (a scan runs on every heartbeat of every window, so that was several /proc reads a second).
      const beatRecently = before !== undefined && now - movedAt < PROOF_OF_LIFE_MS;
      const provablyDead = id !== this.record?.id && !beatRecently && (await isWindowProvablyDead(record, this.options.hostname));
      if (provablyDead) dead.push(record);
      observed.set(id, { record, provablyDead });
    }
    this.lastSeen = seen;
    if (dead.length > 0 && this.options.reclaimDead && !this.disposed) await this.reclaimDeadWindows(dead, observed);
    if (this.disposed) return;
    const changes = this.tracker.update(observed, this.options.clock.monotonicNow(), this.record?.id);
    for (const change of changes) this.changed.fire(change);
  }

  /** Whichever window sweeps first frees a dead window's record, slots and agent processes. */
  private async reclaimDeadWindows(dead: InstanceRecord[], observed: Map<string, ObservedInstance>): Promise<void> {
    for (const record of dead) {
      if (await removeWindowFiles(this.paths.instances, record.id, this.options.fs)) {
        observed.delete(record.id);
        this.options.log.info(`window ${record.id} (pid ${record.pid}, ${record.workspaceName}) is gone: removed its record`);
      }
    }
    try {
      await (await this.slotSweeper()).sweep({ killOrphans: this.options.killOrphans });
    } catch (error) {
      this.options.log.warn(`freeing the slots of dead windows: ${errorMessage(error)}`);
    }
  }

  /**
   * No proof either way: a record whose process cannot be judged, left alone too long. Another
   * host's record is judged only by its heartbeat standing still under this reader's own eyes: its
   * wall clock is not ours, and its processes cannot be checked from here.
   */
  private async isStaleWithoutProof(record: InstanceRecord, now: number, maxAgeMs: number): Promise<boolean> {
    const watchedAge = this.tracker.heartbeatAge(record.id, now) ?? 0;
    if (record.hostname !== this.options.hostname) return watchedAge >= maxAgeMs;
    const self = await this.identity();
    if (record.pid === self.pid && record.processStartTime === self.startTime) return false;
    // Wall time is the only evidence left for a record this reader has not watched for long.
    const wallAge = this.options.clock.wallNow() - record.heartbeatAt;
    return watchedAge >= maxAgeMs || wallAge >= maxAgeMs;
  }

  private async removeEarlierRecordsOfThisProcess(self: ProcessIdentity): Promise<void> {
    const records = await readInstanceRecords(this.paths.instances, this.options.fs, this.badFiles);
    for (const [id, record] of records) {
      if (record.pid === self.pid && record.processStartTime === self.startTime && record.hostname === this.options.hostname) {
        await removeWindowFiles(this.paths.instances, id, this.options.fs);
        this.options.log.info(`removed ${id}, left by an earlier registration of this same window (a reload)`);
      }
    }
  }

  private scheduleHeartbeat(): void {
    if (this.disposed || !this.record) return;
    this.heartbeatTimer = this.options.clock.setTimeout(() => {
      this.heartbeatTimer = undefined;
      // Fixed rate; beat() queues behind a write still in flight, so writes never overlap.
      void this.beat();
      this.scheduleHeartbeat();
    }, this.options.heartbeatIntervalMs);
    this.heartbeatTimer.unref?.();
  }

  private stopHeartbeat(): void {
    if (this.heartbeatTimer) this.options.clock.clearTimeout(this.heartbeatTimer);
    this.heartbeatTimer = undefined;
  }

  /** Bumps heartbeatSeq and rewrites the record (re-creating it if someone removed it). */
  private beat(): Promise<void> {
    const run = async () => {
      await this.heartbeating;
      if (!this.record || this.disposed) return;
      this.record = { ...this.record, heartbeatSeq: this.record.heartbeatSeq + 1, heartbeatAt: this.options.clock.wallNow() };
      try {
        await this.writeRecord(this.record);
        if (this.heartbeatFailing) this.options.log.info(`heartbeats to ${this.paths.instances} work again`);
        this.heartbeatFailing = false;
      } catch (error) {
        if (!this.heartbeatFailing) this.options.log.warn(`heartbeat not written: ${errorMessage(error)}`);
        this.heartbeatFailing = true;
      }
    };
    const beating = run();
    this.heartbeating = beating;
    return beating;
  }

  private async writeRecord(record: InstanceRecord): Promise<void> {
    const target = path.join(this.paths.instances, recordFileName(record.id));
    try {
      await writeFileAtomically(target, `${JSON.stringify(record, null, 2)}\n`, { tempDirectory: this.paths.temp, fs: this.options.fs });
    } catch (error) {
      if (!isUnusableDirectoryError(error)) throw error;
      throw new AgentPoolError('REGISTRY_UNAVAILABLE', unusableDirectoryMessage(this.options.directory, error), { cause: error });
    }
  }

  private async prepareDirectories(): Promise<void> {
    const warning = await ensurePrivateDirectory(this.paths.root, this.options.fs);
    if (warning) this.options.log.warn(warning);
    try {
      for (const directory of [this.paths.instances, this.paths.slots, this.paths.temp]) {
        await this.options.fs.mkdir(directory, { recursive: true, mode: 0o700 });
      }
    } catch (error) {
      throw new AgentPoolError('REGISTRY_UNAVAILABLE', unusableDirectoryMessage(this.options.directory, error), { cause: error });
    }
  }

  private lockOptions() {
    return { fs: this.options.fs, hostname: this.options.hostname };
  }

  private async identity(): Promise<ProcessIdentity> {
    this.self ??= await currentProcessIdentity();
    return this.self;
  }

  private async slotSweeper(): Promise<SlotSweeper> {
    this.sweeper ??= SlotSweeper.forDirectory({
      directory: this.options.directory,
      fs: this.options.fs,
      log: this.options.log,
      self: await this.identity(),
      hostname: this.options.hostname,
      clock: this.options.clock,
      badSlotGraceMs: 10_000,
      component: 'instance registry (slots)',
    });
    return this.sweeper;
  }
}

/** A heartbeat seen to move this recently proves its window alive without asking /proc. */
const PROOF_OF_LIFE_MS = 1000;

import { randomInt } from 'node:crypto';
import { Coalescer } from '../common/coalescer';
import { Emitter } from '../common/event';
import { errorMessage } from '../common/errors';
import { currentProcessIdentity, type ProcessIdentity } from '../process/identity';
import { BadFileTracker, type BadFileCounts } from '../directory/badFiles';
import { DirectoryWatcher } from '../directory/directoryWatcher';
import { withRegistryLock } from '../directory/directoryLock';
import { registryPaths } from '../directory/layout';
import { errorCode, unlinkQuietly, writeTempFile } from '../directory/privateFiles';
import { BudgetError, type AcquireSlotOptions, type AgentBudget, type BudgetSlot, type BudgetSnapshot } from './budget';
import { resolveSlotFileBudgetOptions, type ResolvedSlotFileBudgetOptions, type SlotFileBudgetOptions } from './slotFileBudgetOptions';
import { newNonce, slotFileName, type SlotLease } from './slotLease';
import { SlotStore, witnessOf, type SlotEntry } from './slotStore';
import { SlotSweeper, type SweepResult } from './slotSweeper';
import { exhaustedError, holdersOf, unavailableError, unavailableReasonFor } from './slotFileBudgetText';
import { waitForSlot } from './slotWaiting';
import { effectiveCap } from './effectiveCap';

export type { SlotFileBudgetOptions } from './slotFileBudgetOptions';

interface HeldSlot {
  index: number;
  lease: SlotLease;
}

/** One acquisition: its lease is written once and linked into whichever slot frees first. */
interface Attempt {
  lease: SlotLease;
  leaseFile?: string;
  won: boolean;
}

/**
 * The global agent budget shared by every window of the user on this machine: one slot file per
 * running agent (see SlotStore), reclaimed only on proof of death (see SlotSweeper). Waiting
 * acquisitions wake when a slot frees anywhere: the slots directory is watched, with polling and
 * a periodic sweep as the fallback. If the directory cannot be written, nothing is granted.
 */
export class SlotFileBudget implements AgentBudget {
  private readonly options: ResolvedSlotFileBudgetOptions;
  private readonly store: SlotStore;
  private readonly sweeper: SlotSweeper;
  private readonly badFiles: BadFileTracker;
  private readonly watcher: DirectoryWatcher;
  private readonly changed = new Emitter<BudgetSnapshot>();
  private readonly held = new Map<string, HeldSlot>();
  private readonly waiters = new Set<() => void>();
  private readonly pendingReleases: HeldSlot[] = [];
  private entries: SlotEntry[] = [];
  /** The store's cap as last read: the smallest declared by a live participant, ours included. */
  private effective: number;
  /** Every live participant declared the same cap as ours at the last read (no lock needed to stay under it). */
  private capsAgree = true;
  private unavailableReason: string | undefined;
  private inFlight = 0;
  private sweeping: Promise<SweepResult> | undefined;
  private readonly refresher = new Coalescer(() => this.readSlots(), () => !this.closed);
  private lastSweepEnd = Number.NEGATIVE_INFINITY;
  private lastSignature = '';
  private closed = false;
  private prepared = false;

  readonly onDidChange = this.changed.event;

  /** Opens the budget; never throws for an unusable directory (the snapshot and acquisitions say why). */
  static async open(options: SlotFileBudgetOptions): Promise<SlotFileBudget> {
    const resolved = resolveSlotFileBudgetOptions(options);
    const budget = new SlotFileBudget(resolved, await currentProcessIdentity());
    await budget.start();
    return budget;
  }

  private constructor(
    options: ResolvedSlotFileBudgetOptions,
    private readonly self: ProcessIdentity,
  ) {
    this.options = options;
    this.effective = options.maxAgentsTotal;
    this.badFiles = new BadFileTracker(options.log, 'agent budget');
    this.store = new SlotStore(registryPaths(options.directory), options.fs, this.badFiles, options.faultHook);
    this.sweeper = new SlotSweeper(this.store, self, options.hostname, options.clock, options.log, options.badSlotGraceMs);
    this.watcher = new DirectoryWatcher(this.store.paths.slots, (reason) => this.onDirectoryChange(reason), {
      clock: options.clock,
      log: options.log,
      debounceMs: options.debounceMs,
      pollIntervalMs: options.sweepIntervalMs,
      useFsWatch: options.useFsWatch,
    });
  }

  /** The cap enforced now (see effectiveCap.ts); `configuredCap` is this participant's own. */
  get cap(): number {
    return this.effective;
  }

  get configuredCap(): number {
    return this.options.maxAgentsTotal;
  }

  get directory(): string {
    return this.options.directory;
  }

  async tryAcquire({ label }: { label: string }): Promise<BudgetSlot | undefined> {
    const attempt = this.newAttempt(label);
    try {
      return await this.takeSlot(attempt);
    } finally {
      await this.discardAttempt(attempt);
    }
  }

  acquire({ label, timeoutMs, signal }: AcquireSlotOptions): Promise<BudgetSlot> {
    const attempt = this.newAttempt(label);
    return waitForSlot({
      label,
      timeoutMs,
      signal,
      clock: this.options.clock,
      pollIntervalMs: this.options.waitPollIntervalMs,
      tryTake: () => this.takeSlot(attempt),
      onWake: (wake) => {
        this.waiters.add(wake);
        return () => this.waiters.delete(wake);
      },
      timeoutError: () =>
        exhaustedError(label, timeoutMs, this.snapshot(), { held: this.held.size, max: this.options.maxAgentsPerWindow }),
      onSettled: () => void this.discardAttempt(attempt),
    });
  }

  snapshot(): BudgetSnapshot {
    const holders = holdersOf(this.entries);
    const snapshot: BudgetSnapshot = { cap: this.cap, configuredCap: this.configuredCap, used: holders.length, usedHere: this.held.size, holders };
    if (this.unavailableReason) snapshot.unavailableReason = this.unavailableReason;
    return snapshot;
  }


  /** Bad files seen in the slots directory so far, by kind. */
  badFileCounts(): BadFileCounts {
    return this.badFiles.snapshot();
  }

  /** Frees provably abandoned slots now (the periodic sweep calls this too); one sweep at a time. */
  sweep(): Promise<SweepResult> {
    this.sweeping ??= (async () => {
      try {
        await this.retryPendingReleases();
        const result = await this.sweeper.sweep({ killOrphans: this.options.killOrphans });
        this.entries = result.reclaimed.length > 0 ? (await this.store.list()).entries : result.entries;
        this.fireIfChanged();
        if (result.reclaimed.length > 0) this.wakeWaiters();
        return result;
      } finally {
        this.sweeping = undefined;
        this.lastSweepEnd = this.options.clock.monotonicNow();
      }
    })();
    return this.sweeping;
  }

  /** Re-reads the slots directory now (the watcher does this on its own); bursts coalesce into one re-read. */
  refresh(): Promise<void> {
    return this.refresher.run();
  }

  private async readSlots(): Promise<void> {
    try {
      await this.readEffectiveCap();
      this.entries = (await this.store.list()).entries;
      this.fireIfChanged();
    } catch (error) {
      this.options.log.warn(`reading ${this.store.paths.slots}: ${errorMessage(error)}`);
    }
  }

  dispose(): void {
    if (this.closed) return;
    this.closed = true;
    this.watcher.dispose();
    for (const wake of [...this.waiters]) wake();
    this.waiters.clear();
    for (const held of this.held.values()) void this.store.release(held.index, held.lease.nonce).catch(() => false);
    this.held.clear();
    this.changed.dispose();
  }

  private async start(): Promise<void> {
    await this.ensureAvailable(true).catch(() => undefined);
    await this.readEffectiveCap();
    this.watcher.start();
    await this.sweep().catch((error) => this.options.log.warn(`first sweep of ${this.store.paths.slots}: ${errorMessage(error)}`));
  }

  private newLease(label: string): SlotLease {
    return {
      schema: 1,
      nonce: newNonce(),
      ownerPid: this.self.pid,
      ownerStartTime: this.self.startTime,
      hostname: this.options.hostname,
      windowId: this.options.windowId,
      label,
      acquiredAt: this.options.clock.wallNow(),
    };
  }

  private newAttempt(label: string): Attempt {
    return { lease: this.newLease(label), won: false };
  }

  private async discardAttempt(attempt: Attempt): Promise<void> {
    const file = attempt.leaseFile;
    attempt.leaseFile = undefined;
    if (file) await unlinkQuietly(file, this.options.fs);
  }

  /** One try at a slot for `attempt`: look for free names, link the lease into one, reclaim first if all are held. */
  private async takeSlot(attempt: Attempt): Promise<BudgetSlot | undefined> {
    this.assertOpen();
    if (attempt.won) throw new Error('an acquisition attempt must not take two slots');
    if (this.held.size + this.inFlight >= this.options.maxAgentsPerWindow) return undefined;
    this.inFlight++;
    try {
      await this.ensureAvailable();
      let index = await this.linkIntoFreeSlot(attempt);
      if (index === undefined && this.options.clock.monotonicNow() - this.lastSweepEnd >= this.options.sweepIntervalMs / 2) {
        if ((await this.sweep()).reclaimed.length > 0) index = await this.linkIntoFreeSlot(attempt);
      }
      if (index === undefined) return undefined;
      attempt.won = true;
      // The temp name is a second link to the lease now in the slot: it must go, and never be linked again.
      await this.discardAttempt(attempt);
      if (this.closed) {
        await this.store.release(index, attempt.lease.nonce).catch(() => false);
        throw new BudgetError('BUDGET_CLOSED', 'the agent budget was closed while a slot was being taken');
      }
      this.markAvailable();
      const slot = this.holdSlot(index, attempt.lease);
      void this.refresh();
      return slot;
    } catch (error) {
      throw this.asBudgetError(error);
    } finally {
      this.inFlight--;
    }
  }

  /** Re-reads the caps the store's live participants declare; on a read error the last one holds. */
  private async readEffectiveCap(): Promise<void> {
    try {
      const declared = await this.options.declaredCaps();
      this.effective = effectiveCap(this.options.maxAgentsTotal, declared);
      this.capsAgree = declared.every((cap) => cap === this.options.maxAgentsTotal);
    } catch (error) {
      this.capsAgree = false;
      this.options.log.warn(`reading the caps other windows declare: ${errorMessage(error)}; keeping the cap at ${this.effective}`);
    }
  }

  /**
   * Inside the cross-window lock: the store's cap is read afresh, every slot file is counted (those
   * above the cap too, left by a participant with a larger cap), and only a name below the cap is
   * taken. The lock makes "count, then link" one step against other acquisitions; names below the
   * cap keep link(2) the last word should the lock be unavailable.
   */
  private async linkIntoFreeSlot(attempt: Attempt): Promise<number | undefined> {
    // Visibly full at the cap as last read: no need to queue for the lock (a hundred woken waiters would).
    const count = await this.store.countSlots().catch(() => 0);
    if (count >= this.effective) return undefined;
    // Every live participant declares our cap (the usual case): all take names below that one cap, so
    // link(2) alone is exact, as it was before caps could differ, and acquisitions do not queue for the
    // lock (30 racers for a cap of 8 never had 8 holders at once while each waited for it). A smaller
    // cap joining meanwhile is a late join, which shedding handles.
    await this.readEffectiveCap();
    if (this.capsAgree) return this.linkBelowCap(attempt);
    return withRegistryLock(
      this.store.paths,
      this.options.log,
      async () => {
        await this.readEffectiveCap();
        this.entries = (await this.store.list()).entries;
        if (this.entries.length >= this.effective) return undefined;
        return this.linkBelowCap(attempt);
      },
      { fs: this.options.fs, hostname: this.options.hostname },
    );
  }

  private async linkBelowCap(attempt: Attempt): Promise<number | undefined> {
    let free: number[];
    try {
      free = await this.store.freeIndexes(this.cap);
    } catch (error) {
      if (errorCode(error) !== 'ENOENT') throw error;
      // Someone removed our directories (a user cleaning up): recreate them.
      await this.store.prepare();
      free = await this.store.freeIndexes(this.cap);
    }
    if (free.length === 0) return undefined;
    // Start at a random free name so racing windows spread out instead of all fighting for one.
    const start = randomInt(free.length);
    const order = [...free.slice(start), ...free.slice(0, start)];
    try {
      attempt.leaseFile ??= await this.store.writeLease(attempt.lease);
    } catch (error) {
      if (errorCode(error) !== 'ENOENT') throw error;
      await this.store.prepare();
      attempt.leaseFile = await this.store.writeLease(attempt.lease);
    }
    return this.store.linkIntoFirstFree(attempt.leaseFile, order);
  }

  private holdSlot(index: number, lease: SlotLease): BudgetSlot {
    const id = slotFileName(index);
    const held: HeldSlot = { index, lease };
    this.held.set(id, held);
    let released = false;
    return {
      id,
      bindProcess: async (child: ProcessIdentity) => {
        if (released) throw new BudgetError('BUDGET_CLOSED', `${id} was already released; acquire a new slot for this agent`);
        const next: SlotLease = {
          ...held.lease,
          childPid: child.pid,
          childStartTime: child.startTime,
          ...(child.spawnToken !== undefined ? { childSpawnToken: child.spawnToken } : {}),
        };
        let rebound: boolean;
        try {
          rebound = await this.store.rebind(index, next);
        } catch (error) {
          throw this.asBudgetError(error);
        }
        if (!rebound) {
          throw new BudgetError(
            'BUDGET_UNAVAILABLE',
            `${id} in ${this.store.paths.slots} no longer holds this window's lease (was the directory cleaned by hand?). ` +
              'Stop this agent and start it again to take a fresh slot.',
          );
        }
        held.lease = next;
        void this.refresh();
      },
      release: async () => {
        if (released) return;
        released = true;
        if (this.held.get(id) === held) this.held.delete(id);
        try {
          await this.store.release(index, held.lease.nonce);
        } catch (error) {
          // The file stays (we are alive, so nobody reclaims it); retried on every sweep.
          this.pendingReleases.push(held);
          this.options.log.warn(`could not free ${id} in ${this.store.paths.slots}: ${errorMessage(error)}; will retry`);
        }
        this.wakeWaiters();
        await this.refresh();
      },
    };
  }

  private async retryPendingReleases(): Promise<void> {
    for (const held of this.pendingReleases.splice(0)) {
      try {
        await this.store.release(held.index, held.lease.nonce);
      } catch {
        this.pendingReleases.push(held);
      }
    }
  }

  /**
   * Prepares the directories once, and re-checks with a probe write while the directory is known
   * to be unusable (or when opening), so the snapshot says why before anyone waits on it.
   */
  private async ensureAvailable(probe = false): Promise<void> {
    if (this.prepared && this.unavailableReason === undefined && !probe) return;
    try {
      const warning = await this.store.prepare();
      if (warning) this.options.log.warn(warning);
      this.prepared = true;
      await unlinkQuietly(await writeTempFile(this.store.paths.temp, '{}', this.options.fs), this.options.fs);
      this.markAvailable();
    } catch (error) {
      throw this.asBudgetError(error);
    }
  }

  private markAvailable(): void {
    if (this.unavailableReason === undefined) return;
    this.unavailableReason = undefined;
    this.options.log.info(`the agent budget in ${this.options.directory} is usable again`);
    this.fireIfChanged();
  }

  private asBudgetError(error: unknown): BudgetError {
    if (error instanceof BudgetError) return error;
    const reason = unavailableReasonFor(this.options.directory, error);
    if (this.unavailableReason !== reason) {
      this.unavailableReason = reason;
      this.options.log.error(reason);
      this.fireIfChanged();
    }
    return unavailableError(reason, error);
  }


  private onDirectoryChange(reason: 'event' | 'poll'): void {
    // Known to be unusable: every poll probes again, so agents can start as soon as it is fixed.
    if (reason === 'poll' && this.unavailableReason !== undefined) void this.ensureAvailable(true).catch(() => undefined);
    const work = reason === 'poll' ? this.sweep().then(() => undefined) : this.refresh();
    void work.catch((error) => this.options.log.warn(`sweeping ${this.store.paths.slots}: ${errorMessage(error)}`));
    this.wakeWaiters();
  }

  private wakeWaiters(): void {
    for (const wake of [...this.waiters]) void wake();
  }

  private fireIfChanged(): void {
    if (this.closed) return;
    const signature = `${this.entries.map(witnessOf).join(',')}|${this.held.size}|${this.effective}|${this.unavailableReason ?? ''}`;
    if (signature === this.lastSignature) return;
    this.lastSignature = signature;
    this.changed.fire(this.snapshot());
  }

  private assertOpen(): void {
    if (this.closed) throw new BudgetError('BUDGET_CLOSED', 'the agent budget is closed');
  }
}

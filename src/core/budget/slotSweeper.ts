import type { Clock } from '../common/clock';
import { errorMessage } from '../common/errors';
import { killProvenAgent, processLiveness, type ProcessIdentity } from '../process/identity';
import type { CoreLogger } from '../common/logger';
import { BadFileTracker } from '../directory/badFiles';
import { registryPaths } from '../directory/layout';
import type { FileSystem } from '../directory/privateFiles';
import { slotFileName } from './slotLease';
import { SlotStore, type SlotEntry } from './slotStore';

export interface SweepOptions {
  /** Kill agent children of owners proven dead (only while their start time still matches). */
  killOrphans: boolean;
}

export interface SweepResult {
  /** Every slot file seen, as read before reclaiming. */
  entries: SlotEntry[];
  /** Slot names freed by this sweep. */
  reclaimed: string[];
  killedOrphans: number[];
  /** Live processes named by abandoned leases that could not be proven to be their agents: reported, not killed. */
  notKilled: number[];
}

/** How long a killed orphan may take to die before the sweep leaves its slot for the next one. */
const ORPHAN_DEATH_WAIT_MS = 1000;

/**
 * Decides which slots are provably abandoned and frees them. A slot is abandoned only when its
 * owner is dead (pid + start time) and its agent child is dead or was never spawned: a frozen
 * window's slots, and the slots of a dead window whose agent still runs, are kept until that agent
 * is gone. Unreadable slot files (never written by us: leases are linked in whole) are freed after
 * this reader has seen them unchanged for a grace period on its own monotonic clock.
 */
export class SlotSweeper {
  private readonly badSince = new Map<string, number>();
  private readonly reportedUnproven = new Set<string>();

  constructor(
    private readonly store: SlotStore,
    private readonly self: ProcessIdentity,
    private readonly hostname: string,
    private readonly clock: Clock,
    private readonly log: CoreLogger,
    private readonly badSlotGraceMs: number,
  ) {}

  /**
   * A sweeper of its own for a reader that holds no budget (the registry's cleanup, the CLI):
   * slot reclaim stays here, whoever asks for it.
   */
  static forDirectory(options: {
    directory: string;
    fs: FileSystem;
    log: CoreLogger;
    self: ProcessIdentity;
    hostname: string;
    clock: Clock;
    badSlotGraceMs: number;
    component: string;
  }): SlotSweeper {
    const store = new SlotStore(registryPaths(options.directory), options.fs, new BadFileTracker(options.log, options.component));
    return new SlotSweeper(store, options.self, options.hostname, options.clock, options.log, options.badSlotGraceMs);
  }

  async sweep(options: SweepOptions): Promise<SweepResult> {
    const { entries, tombs } = await this.store.list();
    const result: SweepResult = { entries, reclaimed: [], killedOrphans: [], notKilled: [] };
    const now = this.clock.monotonicNow();
    const seenBad = new Set<string>();
    for (let entry of entries) {
      try {
        if (entry.kind === 'bad') {
          const key = `${entry.index}:${entry.ino}`;
          seenBad.add(key);
          const since = this.badSince.get(key) ?? now;
          this.badSince.set(key, since);
          if (now - since < this.badSlotGraceMs) continue;
        } else {
          const settled = await this.abandonedLease(entry, options, result);
          if (!settled) continue;
          entry = settled;
        }
        const outcome = await this.store.reclaim(entry, this.self);
        if (outcome === 'reclaimed') {
          result.reclaimed.push(slotFileName(entry.index));
          this.log.info(`freed ${slotFileName(entry.index)} of ${describeLease(entry)}: its holder is gone`);
        }
      } catch (error) {
        this.log.warn(`could not free ${slotFileName(entry.index)}: ${errorMessage(error)}`);
      }
    }
    for (const key of this.badSince.keys()) if (!seenBad.has(key)) this.badSince.delete(key);
    await this.store.removeObsoleteTombs(tombs, entries).catch(() => 0);
    await this.store.removeDeadTempFiles().catch(() => 0);
    return result;
  }

  /**
   * The lease as it stands once its owner is proven dead, if it is abandoned. The listing may be
   * older than the owner's last rewrite (binding its agent child keeps the nonce), so it is read
   * again after the death is proven: from then on nobody can change it.
   */
  private async abandonedLease(entry: SlotEntry & { kind: 'lease' }, options: SweepOptions, result: SweepResult): Promise<SlotEntry | undefined> {
    // Another machine's processes cannot be checked from here: no proof, no reclaim.
    if (entry.lease.hostname !== this.hostname) return undefined;
    if ((await processLiveness({ pid: entry.lease.ownerPid, startTime: entry.lease.ownerStartTime })) !== 'dead') return undefined;
    const settled = await this.store.read(entry.index);
    if (settled?.kind !== 'lease' || settled.lease.nonce !== entry.lease.nonce) return undefined;
    const lease = settled.lease;
    if (lease.childPid === undefined || lease.childStartTime === undefined) return settled;
    const child: ProcessIdentity = { pid: lease.childPid, startTime: lease.childStartTime, ...(lease.childSpawnToken ? { spawnToken: lease.childSpawnToken } : {}) };
    const childLiveness = await processLiveness(child);
    if (childLiveness === 'dead') return settled;
    if (childLiveness === 'unknown' || !options.killOrphans) return undefined;
    const outcome = await killProvenAgent(child, 'SIGKILL');
    if (outcome === 'unproven') {
      // Killing on a lease's word needs proof; without it the process is reported, never killed,
      // and the slot stays held while that process runs (the cap is never exceeded).
      const slot = slotFileName(entry.index);
      result.notKilled.push(child.pid);
      const key = `${slot}:${child.pid}:${child.startTime}`;
      if (!this.reportedUnproven.has(key)) {
        this.reportedUnproven.add(key);
        this.log.warn(
          `${slot} names pid ${child.pid} as the agent of window ${lease.windowId}, which is gone, but pid ${child.pid} cannot be proven to be ` +
            `that agent (no matching spawn token in /proc/${child.pid}/environ), so it was not killed. If it is an agent, stop it; ` +
            `if not, remove the slot file: rm '${this.store.slotPath(entry.index)}'`,
        );
      }
      return undefined;
    }
    if (outcome === 'killed') {
      result.killedOrphans.push(child.pid);
      this.log.info(`killed agent process ${child.pid} (${lease.label}): its window ${lease.windowId} is gone`);
    }
    return (await this.waitUntilDead(child)) ? settled : undefined;
  }

  private async waitUntilDead(child: ProcessIdentity): Promise<boolean> {
    // Waits on the kernel, not on our clock: SIGKILL takes effect within milliseconds.
    for (let waited = 0; waited < ORPHAN_DEATH_WAIT_MS; waited += 20) {
      if ((await processLiveness(child)) === 'dead') return true;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    return false;
  }
}

function describeLease(entry: SlotEntry): string {
  return entry.kind === 'lease'
    ? `window ${entry.lease.windowId} (pid ${entry.lease.ownerPid}, ${entry.lease.label})`
    : `an unreadable slot file (${entry.badKind})`;
}

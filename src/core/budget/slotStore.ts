import * as path from 'node:path';
import type { ProcessIdentity } from '../process/identity';
import { processLiveness, isProcessAlive } from '../process/identity';
import type { BadFileKind, BadFileTracker } from '../directory/badFiles';
import type { RegistryPaths } from '../directory/layout';
import {
  ensurePrivateDirectory,
  errorCode,
  tempFileOwnerPid,
  unlinkQuietly,
  writeTempFile,
  type FileSystem,
} from '../directory/privateFiles';
import { fileSignature, readJsonSafely, type Validation } from '../directory/safeJson';
import { pidNumber, shapeProblems, text } from '../common/shape';
import {
  SLOT_FILE_PATTERN,
  slotFileName,
  TOMB_FILE_PATTERN,
  tombFileName,
  validateLease,
  type SlotLease,
} from './slotLease';

/** Exact points in taking and reclaiming slots, where fault tests SIGKILL the process. */
export type SlotFaultPoint = 'lease-written' | 'slot-linked' | 'tomb-claimed' | 'reclaim-verified' | 'slot-unlinked';

export type SlotEntry =
  | { index: number; kind: 'lease'; lease: SlotLease; ino: number }
  | { index: number; kind: 'bad'; badKind: BadFileKind; ino: number; signature: string };

export type ReclaimOutcome = 'reclaimed' | 'busy' | 'gone';

/** Past this many dead reclaimers of one lease something is badly wrong; leave it to a person. */
const MAX_TOMB_GENERATIONS = 64;

/** The identity written into a tomb: who is reclaiming, so others can tell a dead reclaimer from a slow one. */
interface Claimant {
  pid: number;
  startTime: string;
}

/**
 * The slot files themselves: `slots/slot-<k>` holds one lease, taken with link(2) so that exactly
 * one process wins a free slot and no reader ever sees half a lease. No shared counter exists to
 * be corrupted; the cap is the number of names.
 */
export class SlotStore {
  constructor(
    readonly paths: RegistryPaths,
    private readonly fs: FileSystem,
    private readonly badFiles: BadFileTracker,
    private readonly faultHook: (point: SlotFaultPoint, detail: string) => void = () => {},
  ) {}

  /** Creates the directories (0700); returns a warning when it had to narrow a mode. */
  async prepare(): Promise<string | undefined> {
    const warning = await ensurePrivateDirectory(this.paths.root, this.fs);
    for (const directory of [this.paths.slots, this.paths.temp]) {
      try {
        await this.fs.mkdir(directory, { recursive: true, mode: 0o700 });
      } catch (error) {
        // mkdir -p over a regular file says EEXIST; what it means is "not a directory".
        if (errorCode(error) === 'EEXIST') throw Object.assign(new Error(`${directory} is not a directory`), { code: 'ENOTDIR' });
        throw error;
      }
    }
    return warning;
  }

  slotPath(index: number): string {
    return path.join(this.paths.slots, slotFileName(index));
  }

  /**
   * Slots 0..cap-1 whose names are free right now: one readdir, so a hundred waiting windows
   * woken by one release do not each write a file and try every name. Only a hint: another
   * process may still win the name first, which link(2) then says.
   */
  async freeIndexes(cap: number): Promise<number[]> {
    const taken = new Set(await this.fs.readdir(this.paths.slots));
    const free: number[] = [];
    for (let index = 0; index < cap; index++) if (!taken.has(slotFileName(index))) free.push(index);
    return free;
  }

  /** How many slot files exist now (any index): one readdir, no reads. */
  async countSlots(): Promise<number> {
    return (await this.fs.readdir(this.paths.slots)).filter((name) => SLOT_FILE_PATTERN.test(name)).length;
  }

  /** Writes a complete lease to a temp file, to be linked into a slot name (possibly after several tries). */
  async writeLease(lease: SlotLease): Promise<string> {
    const temp = await writeTempFile(this.paths.temp, JSON.stringify(lease), this.fs);
    this.faultHook('lease-written', lease.nonce);
    return temp;
  }

  /** Links the lease into the first of `indexes` still free; undefined when every one was taken first. */
  async linkIntoFirstFree(leaseFile: string, indexes: number[]): Promise<number | undefined> {
    for (const index of indexes) {
      try {
        await this.fs.link(leaseFile, this.slotPath(index));
      } catch (error) {
        if (errorCode(error) === 'EEXIST') continue;
        throw error;
      }
      this.faultHook('slot-linked', `${index}`);
      return index;
    }
    return undefined;
  }

  async read(index: number): Promise<SlotEntry | undefined> {
    const file = this.slotPath(index);
    const result = await readJsonSafely(file, validateLease, this.fs);
    if (result.status === 'missing') return undefined;
    if (result.status === 'ok') return { index, kind: 'lease', lease: result.value, ino: result.stats.ino };
    // A slot released between listing and reading is simply free, not a bad file.
    if (result.kind === 'vanished') return undefined;
    const signature = fileSignature(result.stats);
    this.badFiles.report(file, result.kind, signature, result.detail);
    return { index, kind: 'bad', badKind: result.kind, ino: result.stats?.ino ?? 0, signature };
  }

  /** Every slot file present (any index, so windows with a larger cap are counted too) and every tomb name. */
  async list(): Promise<{ entries: SlotEntry[]; tombs: string[] }> {
    let names: string[];
    try {
      names = await this.fs.readdir(this.paths.slots);
    } catch (error) {
      if (errorCode(error) === 'ENOENT') return { entries: [], tombs: [] };
      throw error;
    }
    const tombs = names.filter((name) => TOMB_FILE_PATTERN.test(name));
    const indexes = names.flatMap((name) => {
      const match = SLOT_FILE_PATTERN.exec(name);
      return match ? [Number(match[1])] : [];
    });
    for (const name of names) {
      if (!SLOT_FILE_PATTERN.test(name) && !TOMB_FILE_PATTERN.test(name)) {
        this.badFiles.report(path.join(this.paths.slots, name), 'unexpected-name', name);
      }
    }
    const entries = (await Promise.all(indexes.map((index) => this.read(index)))).filter((entry): entry is SlotEntry => !!entry);
    return { entries: entries.sort((a, b) => a.index - b.index), tombs };
  }

  /** Removes the slot if it still holds this lease; false when it was no longer ours. */
  async release(index: number, nonce: string): Promise<boolean> {
    const entry = await this.read(index);
    if (entry?.kind !== 'lease' || entry.lease.nonce !== nonce) return false;
    await this.fs.unlink(this.slotPath(index));
    return true;
  }

  /**
   * Replaces our own lease (to record the agent child) with rename(2), atomic for readers. Safe
   * because nobody removes the slot of a live owner; the nonce check guards against a slot that
   * was somehow taken from us, in which case nothing is written.
   */
  async rebind(index: number, lease: SlotLease): Promise<boolean> {
    const temp = await writeTempFile(this.paths.temp, JSON.stringify(lease), this.fs);
    try {
      const entry = await this.read(index);
      if (entry?.kind !== 'lease' || entry.lease.nonce !== lease.nonce) return false;
      await this.fs.rename(temp, this.slotPath(index));
      return true;
    } finally {
      await unlinkQuietly(temp, this.fs);
    }
  }

  /**
   * Frees a slot whose holder is proven dead, with exactly one live reclaimer winning.
   *
   * The reclaimer first takes `tomb-<k>-<witness>-<gen>` with link(2) (EEXIST: someone else has
   * it). The tomb holds the reclaimer's pid and start time, so when a reclaimer is killed half-way,
   * the next one proves it dead and moves on to generation gen+1 instead of the slot leaking
   * forever. While holding its tomb it re-reads the slot: only if the same lease is still there
   * does it unlink the slot. Nobody else can remove that lease meanwhile: its owner is dead and
   * every other live reclaimer is locked out by the tomb. A lease never comes back once gone
   * (nonces are unique), so a reclaimer with a stale view finds a different witness and stops.
   */
  async reclaim(entry: SlotEntry, self: ProcessIdentity): Promise<ReclaimOutcome> {
    const witness = witnessOf(entry);
    const claim = await writeTempFile(this.paths.temp, JSON.stringify({ pid: self.pid, startTime: self.startTime }), this.fs);
    let wonTomb: string | undefined;
    const deadTombs: string[] = [];
    try {
      for (let generation = 0, vanished = 0; !wonTomb; ) {
        if (generation >= MAX_TOMB_GENERATIONS || vanished > MAX_TOMB_GENERATIONS) return 'busy';
        const tomb = path.join(this.paths.slots, tombFileName(entry.index, witness, generation));
        try {
          await this.fs.link(claim, tomb);
          wonTomb = tomb;
        } catch (error) {
          if (errorCode(error) !== 'EEXIST') throw error;
          const claimant = await this.readClaimant(tomb);
          if (claimant === 'vanished') {
            vanished++;
            continue;
          }
          if (claimant && (await processLiveness(claimant)) !== 'dead') return 'busy';
          // The earlier reclaimer died (or the tomb was never a reclaimer's): its generation is spent.
          deadTombs.push(tomb);
          generation++;
        }
      }
      this.faultHook('tomb-claimed', `${entry.index}:${witness}:${wonTomb}`);
      if (!(await this.stillHolds(entry))) return 'gone';
      this.faultHook('reclaim-verified', `${entry.index}:${witness}`);
      const removed = await unlinkQuietly(this.slotPath(entry.index), this.fs);
      if (removed) this.faultHook('slot-unlinked', `${entry.index}:${witness}`);
      return removed ? 'reclaimed' : 'gone';
    } finally {
      // Our own tomb is a claim we no longer act on; dead reclaimers' tombs may go only once the
      // witness is obsolete, or two live reclaimers could end up sharing one generation.
      if (wonTomb) await unlinkQuietly(wonTomb, this.fs);
      if (deadTombs.length > 0 && !(await this.stillHolds(entry).catch(() => true))) {
        for (const tomb of deadTombs) await unlinkQuietly(tomb, this.fs);
      }
      await unlinkQuietly(claim, this.fs);
    }
  }

  /**
   * Removes tombs whose lease is no longer in its slot. Safe whoever holds them: a reclaimer's
   * re-check against an obsolete witness always fails, so such a tomb guards nothing.
   */
  async removeObsoleteTombs(tombs: string[], entries: SlotEntry[]): Promise<number> {
    const witnessByIndex = new Map(entries.map((entry) => [entry.index, witnessOf(entry)]));
    let removed = 0;
    for (const name of tombs) {
      const match = TOMB_FILE_PATTERN.exec(name);
      if (!match) continue;
      if (witnessByIndex.get(Number(match[1])) === match[2]) continue;
      if (await unlinkQuietly(path.join(this.paths.slots, name), this.fs)) removed++;
    }
    return removed;
  }

  /** Temp files left by processes killed mid-write (their pid is in the name). */
  async removeDeadTempFiles(): Promise<number> {
    let names: string[];
    try {
      names = await this.fs.readdir(this.paths.temp);
    } catch {
      return 0;
    }
    let removed = 0;
    for (const name of names) {
      const pid = tempFileOwnerPid(name);
      if (pid === undefined || isProcessAlive(pid)) continue;
      if (await unlinkQuietly(path.join(this.paths.temp, name), this.fs)) removed++;
    }
    return removed;
  }

  private async stillHolds(entry: SlotEntry): Promise<boolean> {
    const current = await this.read(entry.index);
    return current !== undefined && witnessOf(current) === witnessOf(entry);
  }

  private async readClaimant(tomb: string): Promise<Claimant | undefined | 'vanished'> {
    const result = await readJsonSafely(tomb, validateClaimant, this.fs);
    if (result.status === 'missing' || (result.status === 'bad' && result.kind === 'vanished')) return 'vanished';
    // Anything else bad was not written by a reclaimer (ours are complete before they are linked):
    // nobody live holds it.
    return result.status === 'ok' ? result.value : undefined;
  }
}

function validateClaimant(value: unknown): Validation<Claimant> {
  const problems = shapeProblems(value, { pid: pidNumber(), startTime: text({ minLength: 1 }) });
  return problems ? { ok: false, detail: problems } : { ok: true, value: value as Claimant };
}

/** What identifies one lease for good: its nonce; for an unreadable slot file, its inode. */
export function witnessOf(entry: SlotEntry): string {
  return entry.kind === 'lease' ? entry.lease.nonce : `bad${entry.ino}`;
}

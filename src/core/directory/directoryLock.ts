import { randomBytes } from 'node:crypto';
import * as os from 'node:os';
import * as path from 'node:path';
import * as lockfile from 'proper-lockfile';
import { pidNumber, shapeProblems, text } from '../common/shape';
import { errorMessage } from '../common/errors';
import type { CoreLogger } from '../common/logger';
import { currentProcessIdentity, processLiveness, type ProcessIdentity } from '../process/identity';
import type { RegistryPaths } from './layout';
import { errorCode, nodeFileSystem, unlinkQuietly, writeFileAtomically, type FileSystem } from './privateFiles';
import { readJsonSafely, type Validation } from './safeJson';

/**
 * The lock for multi-file steps in the shared directory (registering a window, explicit cleanup).
 *
 * It only keeps those steps from interleaving: every single write is atomic on its own, slot
 * reclaim has its own exactly-one-winner protocol, and the budget never depends on this lock. So
 * a lock that cannot be had is logged once and the step goes on without it; it never stalls a
 * window or a command for long:
 *
 * - The holder records itself in `registry.lock/owner.json` (pid, start time, host). A leftover
 *   whose owner is provably dead (pid gone, or reused by a later process) is broken at once.
 * - A leftover that is not a directory (a file, a FIFO, a symlink) was never made by
 *   proper-lockfile, which only ever mkdirs the lock: it is removed at once.
 * - A leftover directory without a readable owner record (an older version, a crash between
 *   mkdir and writing the record, or made by hand) is broken once this process has watched its
 *   mtime stand still for ORPHAN_LOCK_WAIT_MS. That is safe: a current holder writes its record
 *   within milliseconds of the mkdir, and holders of older versions refresh the mtime every
 *   2 s (LOCK_OPTIONS.update), so a live one moves it within that window; and even breaking a
 *   live lock costs only two such steps interleaving, which the atomic writes make harmless.
 * - A live holder is waited for at most LIVE_HOLDER_WAIT_MS; then the step goes on without it.
 * - EROFS, ENOSPC and EDQUOT are final at once: retrying cannot help, and the caller reports the
 *   unusable directory. So is a lock that cannot be made with none in the way (EACCES, EPERM, and
 *   ENOTDIR or ENOENT: a file stands where the directory was, or it is gone).
 */
const LOCK_OPTIONS = { realpath: false, stale: 30_000, update: 2_000, retries: 0 } as const;

/** How long a lock held by a live (or unprovable) owner is waited for before going on without it. */
export const LIVE_HOLDER_WAIT_MS = 5_000;
/** How long a lock directory without owner record must stand unchanged before it is broken. */
export const ORPHAN_LOCK_WAIT_MS = 2_500;

const OWNER_FILE = 'owner.json';
const FINAL_CODES = new Set(['EROFS', 'ENOSPC', 'EDQUOT']);
const CANNOT_MAKE_CODES = new Set(['EACCES', 'EPERM', 'ENOTDIR', 'ENOENT']);

interface LockOwner extends ProcessIdentity {
  hostname: string;
}

export interface DirectoryLockOptions {
  fs?: FileSystem;
  hostname?: string;
}

/** Warnings already given in this process: a lock that cannot be had is said once, not per step. */
const warned = new Set<string>();

export async function withRegistryLock<T>(
  paths: RegistryPaths,
  log: CoreLogger,
  work: () => Promise<T>,
  options: DirectoryLockOptions = {},
): Promise<T> {
  const release = await acquireLock(paths, log, options);
  try {
    return await work();
  } finally {
    await release?.();
  }
}

type Leftover =
  | { kind: 'gone' }
  | { kind: 'dead-owner'; owner: LockOwner }
  | { kind: 'not-a-lock'; what: string }
  | { kind: 'no-owner'; signature: string }
  | { kind: 'live'; owner: LockOwner };

async function acquireLock(paths: RegistryPaths, log: CoreLogger, options: DirectoryLockOptions): Promise<(() => Promise<void>) | undefined> {
  const fs = options.fs ?? nodeFileSystem;
  const hostname = options.hostname ?? os.hostname();
  const self = await currentProcessIdentity();
  const startedAt = performance.now();
  let orphan: { signature: string; since: number } | undefined;
  let delayMs = 20;
  for (;;) {
    let compromised = false;
    try {
      const release = await lockfile.lock(paths.root, {
        ...LOCK_OPTIONS,
        lockfilePath: paths.lock,
        onCompromised: (error) => {
          compromised = true;
          warnOnce(log, `lost:${paths.lock}`, `the registry lock ${paths.lock} was lost (${errorMessage(error)}); the current step finishes without it`);
        },
      });
      const ownerFile = path.join(paths.lock, OWNER_FILE);
      const owner: LockOwner = { ...self, hostname };
      // Without the record the lock still works; others then break it only after the orphan wait.
      await writeFileAtomically(ownerFile, JSON.stringify(owner), { fs }).catch(() => undefined);
      return async () => {
        await unlinkQuietly(ownerFile, fs);
        await release().catch((error: unknown) => {
          if (!compromised) log.warn(`releasing the registry lock ${paths.lock}: ${errorMessage(error)}`);
        });
      };
    } catch (error) {
      const code = errorCode(error);
      if (code !== undefined && FINAL_CODES.has(code)) return goOnWithout(log, paths, `${errorMessage(error)}`);
      const leftover = await inspectLeftover(paths.lock, fs, hostname);
      // No lock there, and none can be made: no permission, or the directory itself is gone or a file now.
      if (leftover.kind === 'gone' && code !== undefined && CANNOT_MAKE_CODES.has(code)) return goOnWithout(log, paths, errorMessage(error));
      const now = performance.now();
      if (leftover.kind === 'dead-owner' || leftover.kind === 'not-a-lock') {
        const why = leftover.kind === 'dead-owner' ? `its owner (pid ${leftover.owner.pid}) is gone` : `it is ${leftover.what}, not a lock`;
        if (await breakLock(paths.lock, fs)) log.info(`removed the leftover registry lock ${paths.lock}: ${why}`);
      } else if (leftover.kind === 'no-owner') {
        if (orphan?.signature !== leftover.signature) orphan = { signature: leftover.signature, since: now };
        else if (now - orphan.since >= ORPHAN_LOCK_WAIT_MS) {
          if (await breakLock(paths.lock, fs)) {
            log.info(`removed the leftover registry lock ${paths.lock}: it names no owner and did not change for ${ORPHAN_LOCK_WAIT_MS} ms`);
          }
          orphan = undefined;
        }
      }
      if (now - startedAt >= LIVE_HOLDER_WAIT_MS) {
        const holder = leftover.kind === 'live' ? ` (held by pid ${leftover.owner.pid} on ${leftover.owner.hostname})` : '';
        return goOnWithout(log, paths, `still busy after ${LIVE_HOLDER_WAIT_MS} ms${holder}`);
      }
      if (leftover.kind !== 'gone' && leftover.kind !== 'dead-owner' && leftover.kind !== 'not-a-lock') {
        await new Promise((resolve) => setTimeout(resolve, delayMs));
        delayMs = Math.min(delayMs * 1.5, 250);
      }
    }
  }
}

function goOnWithout(log: CoreLogger, paths: RegistryPaths, reason: string): undefined {
  warnOnce(log, `take:${paths.lock}`, `could not take the registry lock ${paths.lock} (${reason}); going on without it`);
  return undefined;
}

function warnOnce(log: CoreLogger, key: string, message: string): void {
  if (warned.has(key)) return;
  warned.add(key);
  log.warn(message);
}

async function inspectLeftover(lock: string, fs: FileSystem, hostname: string): Promise<Leftover> {
  let stats;
  try {
    stats = await fs.lstat(lock);
  } catch {
    return { kind: 'gone' };
  }
  if (!stats.isDirectory()) {
    const what = stats.isSymbolicLink() ? 'a symbolic link' : stats.isFile() ? 'a regular file' : 'a special file';
    return { kind: 'not-a-lock', what };
  }
  const owner = await readJsonSafely(path.join(lock, OWNER_FILE), validateOwner, fs);
  if (owner.status !== 'ok') return { kind: 'no-owner', signature: `${stats.ino}:${stats.mtimeMs}` };
  // Another machine's processes cannot be judged from here: no proof, so it counts as live.
  if (owner.value.hostname !== hostname) return { kind: 'live', owner: owner.value };
  return (await processLiveness(owner.value)) === 'dead' ? { kind: 'dead-owner', owner: owner.value } : { kind: 'live', owner: owner.value };
}

/**
 * Moves the leftover aside under a unique name first (rename is atomic, so of two breakers only
 * one gets it), then removes it; a mode-000 directory is opened up first so it can be emptied.
 */
async function breakLock(lock: string, fs: FileSystem): Promise<boolean> {
  const aside = `${lock}.broken-${randomBytes(4).toString('hex')}`;
  try {
    await fs.rename(lock, aside);
  } catch {
    return false;
  }
  try {
    const stats = await fs.lstat(aside);
    if (stats.isDirectory()) await fs.chmod(aside, 0o700);
    await fs.rm(aside, { recursive: true, force: true });
  } catch {
    // A rest that cannot be removed no longer blocks anyone: it has another name now.
  }
  return true;
}

function validateOwner(value: unknown): Validation<LockOwner> {
  const problems = shapeProblems(value, { pid: pidNumber(), startTime: text({ minLength: 1 }), hostname: text() });
  return problems ? { ok: false, detail: problems } : { ok: true, value: value as LockOwner };
}

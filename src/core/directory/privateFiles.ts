import { randomBytes } from 'node:crypto';
import { constants, promises as fsp, type Stats } from 'node:fs';
import * as path from 'node:path';
import { AgentPoolError, errorMessage } from '../common/errors';

/**
 * The file operations the registry and the slot budget use, injectable so tests can make a real
 * directory fail the way a full disk or a quota would on one exact call.
 */
export type FileSystem = Pick<
  typeof fsp,
  'mkdir' | 'stat' | 'lstat' | 'chmod' | 'readdir' | 'open' | 'readFile' | 'writeFile' | 'rename' | 'link' | 'unlink' | 'rmdir' | 'rm'
>;

export const nodeFileSystem: FileSystem = fsp;

/** Errors that mean "this directory cannot hold our files now": nothing may be granted on top of them. */
const UNUSABLE_CODES = new Set(['EACCES', 'EPERM', 'EROFS', 'ENOSPC', 'EDQUOT', 'ENOTDIR', 'EFBIG', 'EMLINK', 'ELOOP']);

export function isUnusableDirectoryError(error: unknown): boolean {
  return UNUSABLE_CODES.has((error as NodeJS.ErrnoException)?.code ?? '');
}

export function errorCode(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException)?.code;
}

export function unusableDirectoryMessage(directory: string, error: unknown): string {
  const code = errorCode(error);
  const why =
    code === 'ENOSPC' || code === 'EDQUOT' || code === 'EFBIG'
      ? 'the disk or your quota is full'
      : code === 'EROFS'
        ? 'it is on a read-only file system'
        : code === 'ENOTDIR'
          ? 'a file stands where a directory should be'
          : 'it is not writable';
  const remedy =
    code === 'ENOSPC' || code === 'EDQUOT' || code === 'EFBIG'
      ? 'Free some space'
      : code === 'EROFS'
        ? 'Remount it writable'
        : code === 'ENOTDIR'
          ? 'Remove that file'
          : 'Fix its permissions (it must be writable by you)';
  return (
    `The Agent Pool registry directory ${directory} cannot be used because ${why} (${code ?? errorMessage(error)}). ` +
    `${remedy}, or point agentPool.registryDirectory at a writable directory private to you.`
  );
}

/** On POSIX, files and directories of other users are never trusted; Windows has no uid to compare. */
export function isOwnedByCurrentUser(stats: Stats): boolean {
  const uid = process.getuid?.();
  return uid === undefined || stats.uid === uid;
}

/**
 * Creates `directory` (and parents) with mode 0700 and checks it: it must be a real directory of
 * ours. A directory of ours that others can read is narrowed to 0700 rather than refused.
 * Returns a warning to log when it had to narrow the mode.
 */
export async function ensurePrivateDirectory(directory: string, fs: FileSystem = nodeFileSystem): Promise<string | undefined> {
  try {
    await fs.mkdir(directory, { recursive: true, mode: 0o700 });
  } catch (error) {
    // mkdir -p over a file says EEXIST: what it means is "not a directory", not a permission problem.
    const meaning = errorCode(error) === 'EEXIST' ? Object.assign(new Error(`${directory} is not a directory`), { code: 'ENOTDIR' }) : error;
    throw new AgentPoolError('REGISTRY_UNAVAILABLE', unusableDirectoryMessage(directory, meaning), { cause: error });
  }
  const stats = await fs.lstat(directory).catch((error: unknown) => {
    throw new AgentPoolError('REGISTRY_UNAVAILABLE', unusableDirectoryMessage(directory, error), { cause: error });
  });
  if (!stats.isDirectory()) {
    throw new AgentPoolError(
      'REGISTRY_UNAVAILABLE',
      `The Agent Pool registry path ${directory} is not a directory (a file or a symbolic link stands there). ` +
        'Remove it, or point agentPool.registryDirectory elsewhere.',
    );
  }
  if (!isOwnedByCurrentUser(stats)) {
    throw new AgentPoolError(
      'REGISTRY_UNSAFE',
      `The Agent Pool registry directory ${directory} belongs to user ${stats.uid}, not to you. ` +
        'Point agentPool.registryDirectory at a directory of your own.',
    );
  }
  if (process.platform !== 'win32' && (stats.mode & 0o077) !== 0) {
    await fs.chmod(directory, 0o700);
    return `narrowed ${directory} from mode ${(stats.mode & 0o777).toString(8)} to 700: it must be private to you`;
  }
  return undefined;
}

/** `<pid>-<random>.tmp`: the pid lets a sweeper remove temp files of processes that died mid-write. */
export function tempFilePath(tempDirectory: string): string {
  return path.join(tempDirectory, `${process.pid}-${randomBytes(6).toString('hex')}.tmp`);
}

export function tempFileOwnerPid(fileName: string): number | undefined {
  const match = /^(\d+)-[0-9a-f]+\.tmp$/.exec(fileName);
  return match ? Number(match[1]) : undefined;
}

/** Writes a complete temp file, readable only by us; the caller links or renames it into place. */
export async function writeTempFile(tempDirectory: string, content: string, fs: FileSystem = nodeFileSystem): Promise<string> {
  const tempPath = tempFilePath(tempDirectory);
  try {
    await fs.writeFile(tempPath, content, { mode: 0o600, flag: 'wx' });
  } catch (error) {
    await unlinkQuietly(tempPath, fs);
    throw error;
  }
  return tempPath;
}

export interface AtomicWriteOptions {
  /**
   * Where the temp file is written: on the target's file system, and a folder whose readers skip
   * `*.tmp` names. Default: the target's own folder. The registry uses its `tmp/`, where a sweeper
   * removes the temp files of processes killed mid-write.
   */
  tempDirectory?: string;
  fs?: FileSystem;
}

/**
 * The one atomic write of the shared directory: a complete temp file readable only by us, then
 * rename, so a reader sees the old file or the new one, never half of either.
 */
export async function writeFileAtomically(target: string, content: string, options: AtomicWriteOptions = {}): Promise<void> {
  const fs = options.fs ?? nodeFileSystem;
  const tempPath = await writeTempFile(options.tempDirectory ?? path.dirname(target), content, fs);
  try {
    await renameWithRetry(tempPath, target, fs);
  } catch (error) {
    await unlinkQuietly(tempPath, fs);
    throw error;
  }
}

/** Windows refuses a rename while a reader has the target open (EPERM/EBUSY): retry briefly. */
async function renameWithRetry(from: string, to: string, fs: FileSystem): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await fs.rename(from, to);
      return;
    } catch (error) {
      const transient = process.platform === 'win32' && (errorCode(error) === 'EPERM' || errorCode(error) === 'EBUSY');
      if (!transient || attempt >= 10) throw error;
      await new Promise((resolve) => setTimeout(resolve, 10 * (attempt + 1)));
    }
  }
}

/** Unlinks, treating "already gone" as success. Returns whether this call removed the file. */
export async function unlinkQuietly(file: string, fs: FileSystem = nodeFileSystem): Promise<boolean> {
  try {
    await fs.unlink(file);
    return true;
  } catch {
    return false;
  }
}

/**
 * O_APPEND so each write lands at the end whoever else has the file open; O_NOFOLLOW and
 * O_NONBLOCK so a symlink planted in its place is refused and a FIFO never blocks the writer.
 */
const APPEND_FLAGS = constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | (constants.O_NOFOLLOW ?? 0) | (constants.O_NONBLOCK ?? 0);

/**
 * Appends `content` to a private file of ours (created with mode 0600), in one write. What was
 * opened is checked by fstat: a FIFO, device or another user's file standing under the name is
 * refused (EINVAL) rather than written to. Returns the file's size after the write.
 */
export async function appendPrivateFile(file: string, content: string, fs: FileSystem = nodeFileSystem): Promise<number> {
  const handle = await fs.open(file, APPEND_FLAGS, 0o600);
  try {
    const stats = await handle.stat();
    if (!stats.isFile() || !isOwnedByCurrentUser(stats)) {
      const what = stats.isFile() ? `a file of user ${stats.uid}` : 'not a regular file';
      throw Object.assign(new Error(`${file} is ${what}; nothing was appended to it`), { code: 'EINVAL' });
    }
    const bytes = Buffer.from(content, 'utf8');
    for (let written = 0; written < bytes.length; ) written += (await handle.write(bytes, written, bytes.length - written)).bytesWritten;
    return stats.size + bytes.length;
  } finally {
    await handle.close().catch(() => undefined);
  }
}

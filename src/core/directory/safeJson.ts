import { constants, type Stats } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { classifyUnparsable, type BadFileKind } from './badFiles';
import { errorCode, isOwnedByCurrentUser, type FileSystem } from './privateFiles';

/**
 * Reading files that other processes (or people) put in the shared directory. Nothing read here
 * may hang, exhaust memory or throw: a FIFO named like a record, a symlink to /dev/zero, a 50 MB
 * file or a 100,000-deep array each come back as `bad` with the reason, to be counted and logged once.
 */

/** Larger than any record, lease or snapshot we write by orders of magnitude; bigger files are not read. */
export const MAX_FILE_BYTES = 1024 * 1024;
/** Our files nest at most 6 levels; deeper JSON is refused before parsing, so no reader recurses on it. */
export const MAX_JSON_DEPTH = 64;

/**
 * O_NONBLOCK: opening a FIFO must not wait for a writer (and reading one must not wait for data);
 * O_NOFOLLOW: a symlink swapped in after the lstat is refused by the kernel, not followed.
 */
const SAFE_OPEN_FLAGS = constants.O_RDONLY | (constants.O_NONBLOCK ?? 0) | (constants.O_NOFOLLOW ?? 0);

export type SafeTextResult =
  | { status: 'ok'; text: string; stats: Stats }
  | { status: 'missing' }
  | { status: 'bad'; kind: BadFileKind; detail?: string; stats?: Stats };

export type SafeReadResult<T> =
  | { status: 'ok'; value: T; stats: Stats }
  | { status: 'missing' }
  | { status: 'bad'; kind: BadFileKind; detail?: string; stats?: Stats };

export type Validation<T> = { ok: true; value: T } | { ok: false; detail: string };

/**
 * Reads one regular file of ours, whole, as UTF-8. Checks before opening (lstat: no symlinks, only
 * regular files of this user, at most MAX_FILE_BYTES), opens with O_NONBLOCK | O_NOFOLLOW, checks
 * again by fstat on what was opened, and reads at most MAX_FILE_BYTES + 1 bytes. Never throws.
 */
export async function readTextSafely(file: string, fs: FileSystem, maxBytes = MAX_FILE_BYTES): Promise<SafeTextResult> {
  let stats: Stats;
  try {
    stats = await fs.lstat(file);
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return { status: 'missing' };
    return { status: 'bad', kind: 'unreadable', detail: errorCode(error) ?? String(error) };
  }
  const before = checkStats(stats, maxBytes);
  if (before) return { ...before, stats };
  let handle: FileHandle;
  try {
    handle = await fs.open(file, SAFE_OPEN_FLAGS);
  } catch (error) {
    const code = errorCode(error);
    if (code === 'ENOENT') return { status: 'bad', kind: 'vanished', stats };
    if (code === 'ELOOP') return { status: 'bad', kind: 'not-a-file', detail: 'a symbolic link', stats };
    return { status: 'bad', kind: 'unreadable', detail: code ?? String(error), stats };
  }
  try {
    const opened = await handle.stat();
    const after = checkStats(opened, maxBytes);
    if (after) return { ...after, stats: opened };
    const buffer = Buffer.allocUnsafe(Math.min(opened.size, maxBytes) + 1);
    let length = 0;
    while (length < buffer.length) {
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, length);
      if (bytesRead === 0) break;
      length += bytesRead;
    }
    // The file grew between fstat and read: past the limit it is refused, not read on.
    if (length > maxBytes) return { status: 'bad', kind: 'garbage', detail: `larger than ${maxBytes} bytes`, stats: opened };
    return { status: 'ok', text: buffer.toString('utf8', 0, length), stats: opened };
  } catch (error) {
    const code = errorCode(error);
    if (code === 'ENOENT') return { status: 'bad', kind: 'vanished', stats };
    return { status: 'bad', kind: 'unreadable', detail: code ?? String(error), stats };
  } finally {
    await handle.close().catch(() => undefined);
  }
}

function checkStats(stats: Stats, maxBytes: number): { status: 'bad'; kind: BadFileKind; detail?: string } | undefined {
  if (stats.isSymbolicLink()) return { status: 'bad', kind: 'not-a-file', detail: 'a symbolic link (never followed)' };
  if (!stats.isFile()) return { status: 'bad', kind: 'not-a-file', detail: fileTypeOf(stats) };
  if (!isOwnedByCurrentUser(stats)) return { status: 'bad', kind: 'foreign-owner', detail: `uid ${stats.uid}` };
  if (stats.size > maxBytes) return { status: 'bad', kind: 'garbage', detail: `${stats.size} bytes, more than the ${maxBytes} any real file has` };
  return undefined;
}

function fileTypeOf(stats: Stats): string {
  if (stats.isDirectory()) return 'a directory';
  if (stats.isFIFO()) return 'a named pipe (FIFO)';
  if (stats.isSocket()) return 'a socket';
  if (stats.isCharacterDevice() || stats.isBlockDevice()) return 'a device';
  return 'not a regular file';
}

/** JSON.parse behind a nesting limit (checked first, in one linear pass), never throwing. */
export function parseJsonSafely(text: string, maxDepth = MAX_JSON_DEPTH): { ok: true; value: unknown } | { ok: false; kind: BadFileKind; detail: string } {
  if (text.trim().length === 0) return { ok: false, kind: 'empty', detail: 'no content' };
  const depth = nestingDepth(text, maxDepth);
  if (depth > maxDepth) return { ok: false, kind: 'garbage', detail: `nested deeper than ${maxDepth} levels` };
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (error) {
    return { ok: false, kind: classifyUnparsable(text), detail: (error as Error).message };
  }
}

/** True when the text nests [ and { deeper than `maxDepth`: such JSON is refused unparsed. */
export function exceedsJsonDepth(text: string, maxDepth = MAX_JSON_DEPTH): boolean {
  return nestingDepth(text, maxDepth) > maxDepth;
}

/** Depth of [ and { outside strings; stops counting once past `limit`. */
function nestingDepth(text: string, limit: number): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const char = text.charCodeAt(i);
    if (inString) {
      if (char === 0x5c) i++; // backslash: skip the escaped character
      else if (char === 0x22) inString = false;
    } else if (char === 0x22) {
      inString = true;
    } else if (char === 0x5b || char === 0x7b) {
      depth++;
      if (depth > deepest) deepest = depth;
      if (deepest > limit) return deepest;
    } else if (char === 0x5d || char === 0x7d) {
      depth--;
    }
  }
  return deepest;
}

/**
 * Reads, parses and validates one JSON file of the shared directory (readTextSafely, then
 * parseJsonSafely, then `validate`), for any kind of record: registry records, slot leases, lock
 * owners, conversation records. Never throws; every problem comes back as `bad` with its reason.
 */
export async function readJsonSafely<T>(file: string, validate: (value: unknown) => Validation<T>, fs: FileSystem): Promise<SafeReadResult<T>> {
  const read = await readTextSafely(file, fs);
  if (read.status !== 'ok') return read;
  const parsed = parseJsonSafely(read.text);
  if (!parsed.ok) return { status: 'bad', kind: parsed.kind, detail: parsed.detail, stats: read.stats };
  const checked = validate(parsed.value);
  if (!checked.ok) return { status: 'bad', kind: 'wrong-schema', detail: checked.detail, stats: read.stats };
  return { status: 'ok', value: checked.value, stats: read.stats };
}

/** What makes a bad file "the same bad file" for counting and logging once. */
export function fileSignature(stats: Stats | undefined): string {
  return stats ? `${stats.ino}:${stats.size}:${stats.mtimeMs}` : 'unknown';
}

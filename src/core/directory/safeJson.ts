import type { Stats } from 'node:fs';
import { classifyUnparsable, type BadFileKind } from './badFiles';
import { errorCode, isOwnedByCurrentUser, type FileSystem } from './privateFiles';

/** Larger than any record or lease we write by orders of magnitude; bigger files are not read. */
const MAX_FILE_BYTES = 256 * 1024;

export type SafeReadResult<T> =
  | { status: 'ok'; value: T; stats: Stats }
  | { status: 'missing' }
  | { status: 'bad'; kind: BadFileKind; detail?: string; stats?: Stats };

/**
 * Reads one JSON file from a directory others may have scribbled in, and never throws for its
 * content: symlinks, other users' files, empty, cut-off, garbage and wrong-schema files all come
 * back as `bad` with the reason. I/O errors other than "gone" are rethrown for the caller to judge.
 */
export async function readJsonSafely<T>(
  file: string,
  validate: (value: unknown) => { ok: true; value: T } | { ok: false; detail: string },
  fs: FileSystem,
): Promise<SafeReadResult<T>> {
  let stats: Stats;
  try {
    stats = await fs.lstat(file);
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return { status: 'missing' };
    throw error;
  }
  if (!stats.isFile()) return { status: 'bad', kind: 'not-a-file', stats };
  if (!isOwnedByCurrentUser(stats)) return { status: 'bad', kind: 'foreign-owner', detail: `uid ${stats.uid}`, stats };
  if (stats.size > MAX_FILE_BYTES) return { status: 'bad', kind: 'garbage', detail: `${stats.size} bytes`, stats };
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return { status: 'bad', kind: 'vanished', stats };
    throw error;
  }
  if (text.length === 0) return { status: 'bad', kind: 'empty', stats };
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    return { status: 'bad', kind: classifyUnparsable(text), detail: (error as Error).message, stats };
  }
  const checked = validate(json);
  if (!checked.ok) return { status: 'bad', kind: 'wrong-schema', detail: checked.detail, stats };
  return { status: 'ok', value: checked.value, stats };
}

/** What makes a bad file "the same bad file" for counting and logging once. */
export function fileSignature(stats: Stats | undefined): string {
  return stats ? `${stats.ino}:${stats.size}:${stats.mtimeMs}` : 'unknown';
}

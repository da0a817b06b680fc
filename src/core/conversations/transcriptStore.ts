import * as path from 'node:path';
import { appendPrivateFile, nodeFileSystem, unlinkQuietly, type FileSystem } from '../directory/privateFiles';
import { parseJsonSafely, readTextSafely } from '../directory/safeJson';
import { recordFileName } from './conversationRecord';
import { validateTranscriptEntry, type TranscriptEntry } from './transcriptEntry';

/**
 * Where a transcript stops growing: at 2 MiB the file becomes the previous generation (the one
 * before that is dropped) and a new one starts. So a conversation's transcript takes at most
 * 4 MiB on disk, every read of it is bounded (export reads two files of at most 2 MiB with the
 * directory's hostile-file care), and it still holds hundreds of turns: a typical turn's line is
 * 1-10 KB, and no line exceeds about 200 KB (TRANSCRIPT_TEXT_LIMIT per text field).
 */
export const TRANSCRIPT_GENERATION_BYTES = 2 * 1024 * 1024;

export interface TranscriptRead {
  entries: TranscriptEntry[];
  /** Lines that were not ours or not whole (a crash mid-append, an edit by hand), skipped. */
  skippedLines: number;
  /** Files of the transcript that could not be read at all, with why (a symlink, another user's file, …). */
  problems: string[];
  /** True when earlier lines were dropped by rotation: the transcript starts after the conversation did. */
  truncated: boolean;
}

/**
 * The transcripts of the conversations folder: `<hash>.transcript.jsonl`, one JSON line per turn
 * (and per "context lost" event), appended by the process that runs the turn while it holds the
 * conversation (so lines never interleave), private to the user, and `<hash>.transcript.1.jsonl`,
 * the generation before. Readers only ever see whole lines or skip a torn last one.
 */
export class TranscriptStore {
  constructor(
    readonly folder: string,
    private readonly fs: FileSystem = nodeFileSystem,
  ) {}

  fileOf(key: string): string {
    return path.join(this.folder, transcriptFileName(key, 0));
  }

  /** Appends the lines in one write; rotates first when they would take the file past its bound. */
  async append(key: string, entries: readonly TranscriptEntry[]): Promise<void> {
    if (entries.length === 0) return;
    const text = entries.map((entry) => `${JSON.stringify(entry)}\n`).join('');
    const file = this.fileOf(key);
    const size = await this.fs.lstat(file).then(
      (stats) => (stats.isFile() ? stats.size : 0),
      () => 0,
    );
    if (size > 0 && size + Buffer.byteLength(text) > TRANSCRIPT_GENERATION_BYTES) {
      await this.fs.rename(file, path.join(this.folder, transcriptFileName(key, 1)));
    }
    await appendPrivateFile(file, text, this.fs);
  }

  /** The whole transcript, oldest line first; never throws for what it finds in the files. */
  async read(key: string): Promise<TranscriptRead> {
    const read: TranscriptRead = { entries: [], skippedLines: 0, problems: [], truncated: false };
    for (const generation of [1, 0]) {
      const file = path.join(this.folder, transcriptFileName(key, generation));
      const result = await readTextSafely(file, this.fs, TRANSCRIPT_GENERATION_BYTES);
      if (result.status === 'missing') continue;
      if (result.status === 'bad') {
        read.problems.push(`${file}: ${result.kind}${result.detail ? ` (${result.detail})` : ''}`);
        continue;
      }
      for (const line of result.text.split('\n')) {
        if (line.trim() === '') continue;
        const parsed = parseJsonSafely(line);
        const checked = parsed.ok ? validateTranscriptEntry(parsed.value, key) : undefined;
        if (checked?.ok) read.entries.push(checked.value);
        else read.skippedLines++;
      }
    }
    const first = read.entries.find((entry) => entry.type === 'turn' && entry.turn !== null);
    read.truncated = first?.type === 'turn' && first.turn !== null && first.turn > 1;
    return read;
  }

  /** Removes both generations; true when there was something to remove. */
  async delete(key: string): Promise<boolean> {
    const removed = await Promise.all([0, 1].map((generation) => unlinkQuietly(path.join(this.folder, transcriptFileName(key, generation)), this.fs)));
    return removed.some(Boolean);
  }
}

/** `<hash>.transcript.jsonl`, or `.transcript.1.jsonl` for the previous generation: never `*.json`, which records own. */
export function transcriptFileName(key: string, generation: 0 | 1 | number): string {
  const hash = recordFileName(key).replace(/\.json$/, '');
  return `${hash}.transcript${generation === 0 ? '' : `.${generation}`}.jsonl`;
}

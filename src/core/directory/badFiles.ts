import type { CoreLogger } from '../common/logger';

/** Why a file in the registry directory was skipped. */
export type BadFileKind =
  | 'empty'
  | 'truncated'
  | 'garbage'
  | 'wrong-schema'
  | 'vanished'
  | 'foreign-owner'
  | 'not-a-file'
  | 'unexpected-name'
  | 'unreadable';

export const BAD_FILE_KINDS: readonly BadFileKind[] = [
  'empty',
  'truncated',
  'garbage',
  'wrong-schema',
  'vanished',
  'foreign-owner',
  'not-a-file',
  'unexpected-name',
  'unreadable',
];

export type BadFileCounts = Record<BadFileKind, number>;

const MAX_REMEMBERED = 10_000;

/**
 * Counts bad files and logs each one once. A file is "the same bad file" while its name, kind and
 * signature (size and mtime) stay the same, so a sweep every 2 s neither floods the log nor inflates
 * the counts, while a file rewritten badly again is counted again.
 */
export class BadFileTracker {
  private readonly counts: BadFileCounts = Object.fromEntries(BAD_FILE_KINDS.map((kind) => [kind, 0])) as BadFileCounts;
  private readonly seen = new Set<string>();

  constructor(
    private readonly log: CoreLogger,
    private readonly component: string,
  ) {}

  report(file: string, kind: BadFileKind, signature: string, detail?: string): void {
    const key = `${file}\0${kind}\0${signature}`;
    if (this.seen.has(key)) return;
    if (this.seen.size >= MAX_REMEMBERED) this.seen.clear();
    this.seen.add(key);
    this.counts[kind]++;
    this.log.warn(`${this.component}: skipped ${file}: ${describeKind(kind)}${detail ? ` (${detail})` : ''}${removalAdvice(file, kind)}`);
  }

  snapshot(): BadFileCounts {
    return { ...this.counts };
  }

  total(): number {
    return BAD_FILE_KINDS.reduce((sum, kind) => sum + this.counts[kind], 0);
  }
}

/** Sorts a JSON.parse failure into truncated (a cut-off object) or garbage (not JSON at all). */
export function classifyUnparsable(text: string): BadFileKind {
  if (text.trim().length === 0) return 'empty';
  return /^\s*[[{]/.test(text) ? 'truncated' : 'garbage';
}

function describeKind(kind: BadFileKind): string {
  switch (kind) {
    case 'empty':
      return 'the file is empty';
    case 'truncated':
      return 'the JSON is cut off or malformed';
    case 'garbage':
      return 'the content is not JSON';
    case 'wrong-schema':
      return 'the JSON does not have the expected fields';
    case 'vanished':
      return 'the file disappeared while being read';
    case 'foreign-owner':
      return 'the file belongs to another user and is not trusted';
    case 'not-a-file':
      return 'it is not a regular file';
    case 'unexpected-name':
      return 'the name is not one the registry writes';
    case 'unreadable':
      return 'it cannot be read';
  }
}

/** Files Agent Pool never writes that way stay until someone removes them: say how. */
function removalAdvice(file: string, kind: BadFileKind): string {
  const quoted = `'${file.replace(/'/g, `'\\''`)}'`;
  if (kind === 'unreadable') return `; Agent Pool skips it: remove it with \`rm -f ${quoted}\`, or make it readable with \`chmod 600 ${quoted}\``;
  if (kind === 'not-a-file') return `; Agent Pool skips it: remove it with \`rm -rf ${quoted}\``;
  return '';
}

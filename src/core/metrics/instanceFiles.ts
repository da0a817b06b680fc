import { promises as fs, lstatSync, statSync, type Stats } from 'node:fs';
import { hostname } from 'node:os';
import { basename, sep } from 'node:path';
import { isProcessAlive } from '../process/identity';
import { isWindowProvablyDead } from '../registry/instanceReader';
import type { InstanceRecord } from '../registry/types';
import { emptySkippedFiles, type SkippedFiles } from './aggregate';
import type { BadFileKind } from '../directory/badFiles';
import { classifyInstanceFile } from '../directory/layout';
import { nodeFileSystem } from '../directory/privateFiles';
import { exceedsJsonDepth, readTextSafely } from '../directory/safeJson';
import { validateRecord } from '../registry/instanceRecord';
import { parseMetricsSnapshot, type MetricsSnapshot, type SnapshotProblem } from './snapshot';

interface CachedFile<T> {
  ino: number;
  size: number;
  mtimeMs: number;
  kind: 'metrics' | 'record';
  id: string;
  /** Undefined when this version of the file was bad (it was counted). */
  value: T | undefined;
}

export interface InstanceFiles {
  /** Every record file seen; `undefined` when the file exists but its current version is bad. */
  records: Map<string, InstanceRecord | undefined>;
  /** The current good snapshot of every metrics file. */
  snapshots: Map<string, MetricsSnapshot>;
}

/** Matches no real file, so the next successful stat always re-reads. */
const UNSTATABLE = { ino: -1, size: -1, mtimeMs: -1 };

type Problem = SnapshotProblem | 'vanished' | 'foreign-owner' | 'unreadable';

const PROBLEM_KEYS: Record<Problem, keyof Omit<SkippedFiles, 'total'>> = {
  empty: 'empty',
  truncated: 'truncated',
  garbage: 'garbage',
  'wrong-schema': 'wrongSchema',
  vanished: 'vanished',
  'foreign-owner': 'foreignOwner',
  unreadable: 'unreadable',
};

/**
 * Reads `instances/`: window records and metrics snapshots written by other processes. Parsed files
 * are kept; a file is re-read only when its inode, size or mtime changed (every atomic write makes a
 * new inode), files of other users are ignored, and each bad file is counted once per version,
 * never thrown. `scan` lists and stats the whole directory; `update` looks only at named files (the
 * directory watcher's hints), so one changed window costs one stat and one parse, not thousands.
 */
export class InstanceFileReader {
  private readonly cache = new Map<string, CachedFile<unknown>>();
  private readonly counts = emptySkippedFiles();
  /** Names that could not even be stat'ed (e.g. a dangling link): counted once until they change. */
  private readonly unstatable = new Set<string>();
  private readonly uid = typeof process.getuid === 'function' ? process.getuid() : undefined;

  private readonly prefix: string;

  constructor(private readonly instancesDirectory: string) {
    this.prefix = instancesDirectory.endsWith(sep) ? instancesDirectory : instancesDirectory + sep;
  }

  skipped(): SkippedFiles {
    return { ...this.counts };
  }

  /** Lists the directory and brings every file of interest up to date. */
  async scan(which: 'all' | 'metrics-only'): Promise<InstanceFiles> {
    let names: string[];
    try {
      names = await fs.readdir(this.instancesDirectory);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      names = [];
    }
    const seen = new Set<string>();
    await Promise.all(
      names.map(async (name) => {
        const entry = classifyInstanceFile(name);
        if (!entry || (which === 'metrics-only' && entry.kind !== 'metrics')) return;
        seen.add(name);
        await this.readCached(name, entry.kind, 'listed');
      }),
    );
    for (const name of this.cache.keys()) if (!seen.has(name)) this.cache.delete(name);
    for (const name of this.unstatable) if (!seen.has(name)) this.unstatable.delete(name);
    return this.files();
  }

  /**
   * Brings only the named files up to date (names as `fs.watch` reports them); every other file
   * keeps its last reading. A named file that is gone has simply left: it is dropped, not counted.
   */
  async update(which: 'all' | 'metrics-only', names: Iterable<string>): Promise<InstanceFiles> {
    const work: Array<Promise<unknown>> = [];
    for (const name of names) {
      const entry = classifyInstanceFile(name);
      if (!entry || (which === 'metrics-only' && entry.kind !== 'metrics')) continue;
      work.push(this.readCached(basename(name), entry.kind, 'hinted'));
    }
    await Promise.all(work);
    return this.files();
  }

  private files(): InstanceFiles {
    const result: InstanceFiles = { records: new Map(), snapshots: new Map() };
    for (const cached of this.cache.values()) {
      if (cached.kind === 'record') result.records.set(cached.id, cached.value as InstanceRecord | undefined);
      else if (cached.value !== undefined) result.snapshots.set(cached.id, cached.value as MetricsSnapshot);
    }
    return result;
  }

  private async readCached(name: string, kind: 'metrics' | 'record', how: 'listed' | 'hinted'): Promise<void> {
    const path = this.prefix + name;
    let stats: Stats | undefined;
    try {
      // Synchronous on purpose: lstat of a cached inode is a few microseconds, while an async stat
      // costs more main-thread time than that (a promise, a thread-pool hop, Date objects) and a
      // poll of 1,000 windows stats 2,000 files. Only changed files are read, asynchronously.
      stats = lstatSync(path, { throwIfNoEntry: false });
    } catch {
      return this.fail(name, undefined, 'unreadable');
    }
    if (!stats) {
      if (how === 'hinted') {
        this.cache.delete(name);
        this.unstatable.delete(name);
        return;
      }
      return this.fail(name, undefined, 'vanished');
    }
    this.unstatable.delete(name);
    const cached = this.cache.get(name);
    if (cached && cached.ino === stats.ino && cached.size === stats.size && cached.mtimeMs === stats.mtimeMs) return;
    // A symlink is never followed (one to a live record would list that window twice, one to
    // /dev/zero would never end); a dangling one is a file that is gone.
    if (stats.isSymbolicLink()) return this.fail(name, stats, statSync(path, { throwIfNoEntry: false }) ? 'unreadable' : 'vanished');
    if (!stats.isFile()) return this.fail(name, stats, 'unreadable');
    if (this.uid !== undefined && stats.uid !== this.uid) return this.fail(name, stats, 'foreign-owner');
    const read = await readTextSafely(path, nodeFileSystem);
    if (read.status !== 'ok') return this.fail(name, stats, read.status === 'missing' ? 'vanished' : problemOfBadRead(read.kind));
    const parsed = kind === 'record' ? parseRecord(read.text, classifyInstanceFile(name)!.id) : parseSnapshot(read.text);
    if (typeof parsed === 'string') return this.fail(name, stats, parsed as Problem);
    this.remember(name, stats, parsed);
  }

  /** Counts the problem once per file version (the cache entry remembers it was bad). */
  private fail(name: string, stats: Stats | undefined, problem: Problem): void {
    // Without stats the file has no version to remember; it counts as bad until it can be read.
    this.remember(name, stats ?? UNSTATABLE, undefined);
    if (!stats) {
      if (this.unstatable.has(name)) return;
      this.unstatable.add(name);
    }
    this.counts[PROBLEM_KEYS[problem]]++;
    this.counts.total++;
  }

  private remember(name: string, stats: Pick<Stats, 'ino' | 'size' | 'mtimeMs'>, value: unknown): void {
    const entry = classifyInstanceFile(name)!;
    this.cache.set(name, { ino: stats.ino, size: stats.size, mtimeMs: stats.mtimeMs, kind: entry.kind, id: entry.id, value });
  }
}

function parseSnapshot(text: string): MetricsSnapshot | Problem {
  const parsed = parseMetricsSnapshot(text);
  return 'snapshot' in parsed ? parsed.snapshot : parsed.problem;
}

/**
 * The registry's own validator (every field, in range), for any id matching the file name: a
 * record with `lifecycle: 7` or `startedAt: 1e300` is a bad file, not a window.
 */
export function parseRecord(text: string, id: string): InstanceRecord | Problem {
  if (text.trim().length === 0) return 'empty';
  if (exceedsJsonDepth(text)) return 'garbage';
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return text.trimEnd().endsWith('}') ? 'garbage' : 'truncated';
  }
  const checked = validateRecord(value, id, { anyId: true });
  return checked.ok ? checked.value : 'wrong-schema';
}

function problemOfBadRead(kind: BadFileKind): Problem {
  switch (kind) {
    case 'vanished':
    case 'foreign-owner':
    case 'empty':
    case 'truncated':
    case 'garbage':
      return kind;
    case 'wrong-schema':
      return 'wrong-schema';
    default:
      return 'unreadable';
  }
}

/** Proof of death only: a pid on this host that no longer exists (EPERM means alive, another user's). */
export function isProcessGone(record: Pick<InstanceRecord, 'pid' | 'hostname'>): boolean {
  if (record.hostname !== undefined && record.hostname !== hostname()) return false;
  return !isProcessAlive(record.pid);
}

/** Proof by identity (pid + start time), for windows that went silent: catches pid reuse. */
export function isProvablyGone(record: Pick<InstanceRecord, 'pid' | 'hostname' | 'processStartTime'>): Promise<boolean> {
  return isWindowProvablyDead(record, hostname());
}

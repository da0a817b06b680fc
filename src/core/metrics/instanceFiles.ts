import { promises as fs, type Stats } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { processLiveness } from '../process/identity';
import type { InstanceRecord } from '../registry/types';
import { emptySkippedFiles, type SkippedFiles } from './aggregate';
import { classifyInstanceFile } from './layout';
import { parseMetricsSnapshot, type MetricsSnapshot, type SnapshotProblem } from './snapshot';

interface CachedFile<T> {
  ino: number;
  size: number;
  mtimeMs: number;
  value: T | undefined;
}

export interface InstanceFiles {
  /** Every record file seen; `undefined` when the file exists but could not be read this time. */
  records: Map<string, InstanceRecord | undefined>;
  /** Good snapshots read this time (or unchanged since the last read). */
  snapshots: Map<string, MetricsSnapshot>;
}

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
 * Reads `instances/`: window records and metrics snapshots written by other processes. A file is
 * re-read only when its inode, size or mtime changed (every atomic write makes a new inode), files
 * of other users are ignored, and each bad file is counted once per version, never thrown.
 */
export class InstanceFileReader {
  private readonly cache = new Map<string, CachedFile<unknown>>();
  private readonly counts = emptySkippedFiles();
  /** Names that could not even be stat'ed (e.g. a dangling link): counted once until they change. */
  private readonly unstatable = new Set<string>();
  private readonly uid = typeof process.getuid === 'function' ? process.getuid() : undefined;

  constructor(private readonly instancesDirectory: string) {}

  skipped(): SkippedFiles {
    return { ...this.counts };
  }

  async read(which: 'all' | 'metrics-only'): Promise<InstanceFiles> {
    const result: InstanceFiles = { records: new Map(), snapshots: new Map() };
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
        if (entry.kind === 'record') {
          result.records.set(entry.id, await this.readCached(name, parseRecord));
        } else {
          const snapshot = await this.readCached(name, parseSnapshot);
          if (snapshot) result.snapshots.set(entry.id, snapshot);
        }
      }),
    );
    for (const name of this.cache.keys()) if (!seen.has(name)) this.cache.delete(name);
    for (const name of this.unstatable) if (!seen.has(name)) this.unstatable.delete(name);
    return result;
  }

  private async readCached<T>(name: string, parse: (text: string) => T | Problem): Promise<T | undefined> {
    const path = join(this.instancesDirectory, name);
    let stats: Stats;
    try {
      stats = await fs.stat(path);
    } catch (error) {
      return this.fail(name, undefined, isGone(error) ? 'vanished' : 'unreadable');
    }
    this.unstatable.delete(name);
    const cached = this.cache.get(name) as CachedFile<T> | undefined;
    if (cached && cached.ino === stats.ino && cached.size === stats.size && cached.mtimeMs === stats.mtimeMs) {
      return cached.value;
    }
    if (this.uid !== undefined && stats.uid !== this.uid) return this.fail(name, stats, 'foreign-owner');
    let text: string;
    try {
      text = await fs.readFile(path, 'utf8');
    } catch (error) {
      return this.fail(name, stats, isGone(error) ? 'vanished' : 'unreadable');
    }
    const parsed = parse(text);
    if (typeof parsed === 'string') return this.fail(name, stats, parsed as Problem);
    this.cache.set(name, { ino: stats.ino, size: stats.size, mtimeMs: stats.mtimeMs, value: parsed });
    return parsed;
  }

  /** Counts the problem once per file version (the cache entry remembers it was bad). */
  private fail(name: string, stats: Stats | undefined, problem: Problem): undefined {
    if (!stats) {
      if (this.unstatable.has(name)) return undefined;
      this.unstatable.add(name);
    }
    this.counts[PROBLEM_KEYS[problem]]++;
    this.counts.total++;
    if (stats) this.cache.set(name, { ino: stats.ino, size: stats.size, mtimeMs: stats.mtimeMs, value: undefined });
    return undefined;
  }
}

function parseSnapshot(text: string): MetricsSnapshot | Problem {
  const parsed = parseMetricsSnapshot(text);
  return 'snapshot' in parsed ? parsed.snapshot : parsed.problem;
}

/** The registry owns record validation; this only checks what the aggregator relies on. */
export function parseRecord(text: string): InstanceRecord | Problem {
  if (text.trim().length === 0) return 'empty';
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return text.trimEnd().endsWith('}') ? 'garbage' : 'truncated';
  }
  const record = value as Partial<InstanceRecord> | null;
  if (
    typeof record !== 'object' ||
    record === null ||
    record.schema !== 1 ||
    typeof record.id !== 'string' ||
    typeof record.pid !== 'number' ||
    typeof record.heartbeatSeq !== 'number' ||
    typeof record.heartbeatAt !== 'number'
  ) {
    return 'wrong-schema';
  }
  return record as InstanceRecord;
}

/** Proof of death only: a pid on this host that no longer exists (EPERM means alive, another user's). */
export function isProcessGone(record: Pick<InstanceRecord, 'pid' | 'hostname'>): boolean {
  if (record.hostname !== undefined && record.hostname !== hostname()) return false;
  try {
    process.kill(record.pid, 0);
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

/** Proof by identity (pid + start time), for windows that went silent: catches pid reuse. */
export async function isProvablyGone(record: Pick<InstanceRecord, 'pid' | 'hostname' | 'processStartTime'>): Promise<boolean> {
  if (record.hostname !== hostname()) return false;
  return (await processLiveness({ pid: record.pid, startTime: record.processStartTime })) === 'dead';
}

function isGone(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

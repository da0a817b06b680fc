import * as path from 'node:path';
import { isProcessAlive, processLiveness } from '../process/identity';
import type { BadFileTracker } from '../directory/badFiles';
import { classifyInstanceFileName, metricsFileName, parseMetricsFileName, recordFileName } from '../directory/layout';
import { validateRecord } from './instanceRecord';
import { errorCode, unlinkQuietly, type FileSystem } from '../directory/privateFiles';
import { fileSignature, readJsonSafely } from '../directory/safeJson';
import type { InstanceRecord } from './types';

/** A record as last read, by file name, with the file's signature (inode, size, mtime) then. */
export type RecordReadCache = Map<string, { signature: string; record: InstanceRecord }>;

/**
 * Reads `instances/`: every good record by id; bad files are counted and logged once, never thrown.
 * With `cache`, a record file whose signature has not changed since it was last read is not read
 * again: every write is a new file (written aside, then renamed), so a changed file has a new inode.
 * A window rescans on every heartbeat of every other window, and most files have not changed since
 * the scan before: without the cache, five windows heartbeating made an idle window read about 60
 * files a second.
 */
export async function readInstanceRecords(
  instancesDirectory: string,
  fs: FileSystem,
  badFiles: BadFileTracker,
  cache?: RecordReadCache,
): Promise<Map<string, InstanceRecord>> {
  let names: string[];
  try {
    names = await fs.readdir(instancesDirectory);
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return new Map();
    throw error;
  }
  const records = new Map<string, InstanceRecord>();
  await Promise.all(
    names.map(async (name) => {
      const file = path.join(instancesDirectory, name);
      const kind = classifyInstanceFileName(name);
      if (kind.kind === 'other') return;
      if (kind.kind === 'unexpected') return badFiles.report(file, 'unexpected-name', name);
      const cached = cache?.get(name);
      if (cached) {
        const stats = await fs.lstat(file).catch(() => undefined);
        if (stats?.isFile() && fileSignature(stats) === cached.signature) return void records.set(kind.id, cached.record);
      }
      const result = await readJsonSafely(file, (value) => validateRecord(value, kind.id), fs);
      if (result.status === 'ok') {
        records.set(kind.id, result.value);
        cache?.set(name, { signature: fileSignature(result.stats), record: result.value });
      } else {
        cache?.delete(name);
        if (result.status === 'bad') badFiles.report(file, result.kind, fileSignature(result.stats), result.detail);
      }
    }),
  );
  if (cache) for (const name of cache.keys()) if (!names.includes(name)) cache.delete(name);
  return records;
}

/** Dead only on proof: same host, and the pid is gone or now names a process started later. */
export async function isWindowProvablyDead(record: Pick<InstanceRecord, 'pid' | 'hostname' | 'processStartTime'>, hostname: string): Promise<boolean> {
  if (record.hostname !== hostname) return false;
  return (await processLiveness({ pid: record.pid, startTime: record.processStartTime })) === 'dead';
}

/** Removes a window's record and its metrics snapshot; true when the record is gone afterwards. */
export async function removeWindowFiles(instancesDirectory: string, id: string, fs: FileSystem): Promise<boolean> {
  await unlinkQuietly(path.join(instancesDirectory, metricsFileName(id)), fs);
  try {
    await fs.unlink(path.join(instancesDirectory, recordFileName(id)));
    return true;
  } catch (error) {
    return errorCode(error) === 'ENOENT';
  }
}

/** Metrics snapshots whose window record is gone and whose process (pid from the id) is gone too. */
export async function removeOrphanMetricsFiles(instancesDirectory: string, fs: FileSystem): Promise<number> {
  let names: string[];
  try {
    names = await fs.readdir(instancesDirectory);
  } catch {
    return 0;
  }
  const present = new Set(names);
  let removed = 0;
  for (const name of names) {
    const snapshot = parseMetricsFileName(name);
    if (!snapshot || present.has(recordFileName(snapshot.id)) || isProcessAlive(snapshot.pid)) continue;
    if (await unlinkQuietly(path.join(instancesDirectory, name), fs)) removed++;
  }
  return removed;
}

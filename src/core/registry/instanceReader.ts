import * as path from 'node:path';
import { isProcessAlive, processLiveness } from '../process/identity';
import type { BadFileTracker } from '../directory/badFiles';
import { classifyInstanceFileName, metricsFileName, parseMetricsFileName, recordFileName } from '../directory/layout';
import { validateRecord } from './instanceRecord';
import { errorCode, unlinkQuietly, type FileSystem } from '../directory/privateFiles';
import { fileSignature, readJsonSafely } from '../directory/safeJson';
import type { InstanceRecord } from './types';

/** Reads `instances/`: every good record by id; bad files are counted and logged once, never thrown. */
export async function readInstanceRecords(
  instancesDirectory: string,
  fs: FileSystem,
  badFiles: BadFileTracker,
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
      const result = await readJsonSafely(file, (value) => validateRecord(value, kind.id), fs);
      if (result.status === 'ok') records.set(kind.id, result.value);
      else if (result.status === 'bad') badFiles.report(file, result.kind, fileSignature(result.stats), result.detail);
    }),
  );
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

import { basename, join } from 'node:path';

/** File names inside the registry directory that belong to metrics (see registry/types.ts). */
export const INSTANCES_DIRECTORY = 'instances';
export const METRICS_SUFFIX = '.metrics.json';
export const RECORD_SUFFIX = '.json';

export function metricsFilePath(registryDirectory: string, instanceId: string): string {
  return join(registryDirectory, INSTANCES_DIRECTORY, `${instanceId}${METRICS_SUFFIX}`);
}

export function recordFilePath(registryDirectory: string, instanceId: string): string {
  return join(registryDirectory, INSTANCES_DIRECTORY, `${instanceId}${RECORD_SUFFIX}`);
}

/** Where a workspace's counters wait for its next window when the extension uses files. */
export function metricsStatePath(registryDirectory: string, workspaceKey: string): string {
  return join(registryDirectory, 'metrics-state', `${workspaceKey.replace(/[^A-Za-z0-9._-]/g, '_')}.json`);
}

/** Classifies a directory entry: a snapshot, a window record, or something else (temp files, locks). */
export function classifyInstanceFile(name: string): { kind: 'metrics' | 'record'; id: string } | undefined {
  const file = basename(name);
  if (file.startsWith('.')) return undefined;
  if (file.endsWith(METRICS_SUFFIX)) return { kind: 'metrics', id: file.slice(0, -METRICS_SUFFIX.length) };
  if (file.endsWith(RECORD_SUFFIX)) return { kind: 'record', id: file.slice(0, -RECORD_SUFFIX.length) };
  return undefined;
}

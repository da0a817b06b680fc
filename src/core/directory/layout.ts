import * as os from 'node:os';
import * as path from 'node:path';

/**
 * Where the registry lives when `agentPool.registryDirectory` is empty: the platform's per-user
 * state directory. Pure (environment, platform and home passed in) so every platform is testable here.
 */
export interface PlatformContext {
  platform: NodeJS.Platform;
  env: NodeJS.ProcessEnv;
  homedir: string;
}

export const REGISTRY_DIRECTORY_NAME = 'agent-pool';
export const INSTANCES_DIRECTORY = 'instances';
export const METRICS_SUFFIX = '.metrics.json';
export const RECORD_SUFFIX = '.json';

/** `YYYYMMDD_HHMMSS_<pid>_<8 hex>`, UTC, so ids sort in registration order whatever the time zone. */
export const INSTANCE_ID_PATTERN = /^\d{8}_\d{6}_\d{1,10}_[0-9a-f]{8}$/;
const RECORD_FILE_PATTERN = /^(\d{8}_\d{6}_\d{1,10}_[0-9a-f]{8})\.json$/;
const METRICS_FILE_PATTERN = /^(\d{8}_\d{6}_(\d{1,10})_[0-9a-f]{8})\.metrics\.json$/;

export function defaultRegistryDirectory(context: PlatformContext = currentPlatform()): string {
  const { platform, env, homedir } = context;
  if (platform === 'win32') {
    const localAppData = env.LOCALAPPDATA || path.win32.join(homedir, 'AppData', 'Local');
    return path.win32.join(localAppData, REGISTRY_DIRECTORY_NAME);
  }
  if (platform === 'darwin') {
    return path.posix.join(homedir, 'Library', 'Application Support', REGISTRY_DIRECTORY_NAME);
  }
  // XDG says a relative XDG_STATE_HOME is invalid and must be ignored.
  const stateHome = env.XDG_STATE_HOME && path.posix.isAbsolute(env.XDG_STATE_HOME)
    ? env.XDG_STATE_HOME
    : path.posix.join(homedir, '.local', 'state');
  return path.posix.join(stateHome, REGISTRY_DIRECTORY_NAME);
}

/** The setting's value when set (with `~` expanded), else the platform default. */
export function resolveRegistryDirectory(setting: string | undefined, context: PlatformContext = currentPlatform()): string {
  const trimmed = setting?.trim();
  if (!trimmed) return defaultRegistryDirectory(context);
  const pathApi = context.platform === 'win32' ? path.win32 : path.posix;
  if (trimmed === '~') return context.homedir;
  if (trimmed.startsWith('~/') || trimmed.startsWith('~\\')) return pathApi.join(context.homedir, trimmed.slice(2));
  return pathApi.resolve(trimmed);
}

/**
 * The per-user directory every window shares (mode 0700, files of other users ignored):
 *
 *   instances/<id>.json          one record per window (src/core/registry), written atomically
 *   instances/<id>.metrics.json  that window's metrics snapshot (src/core/metrics)
 *   slots/slot-<k>               one file per held slot of the global agent budget (src/core/budget)
 *   conversations/<hash>.json    one record per conversation (src/core/conversations), written atomically
 *   conversations/<hash>.json.lock  held while a turn of that conversation runs, in any window or process
 *   conversations/<hash>.transcript[.1].jsonl  its transcript, appended per turn (../conversations/transcriptStore.ts)
 *   conversations/<hash>.queue/<n>.ticket  the turns waiting for it, in order (../conversations/turnQueue.ts)
 *   tmp/                         temp files, renamed or linked into place: never half a file elsewhere
 *   registry.lock                the lock for multi-file steps (./directoryLock.ts)
 *
 * This file is the only place that knows these names.
 */
export function registryPaths(directory: string) {
  return {
    root: directory,
    instances: path.join(directory, INSTANCES_DIRECTORY),
    slots: path.join(directory, 'slots'),
    /** Temp files are written here, then renamed or linked into place: never half a file in the others. */
    temp: path.join(directory, 'tmp'),
    /** Conversation records, shared by every window and the CLI. */
    conversations: path.join(directory, 'conversations'),
    /** The lock directory for registration and explicit cleanup. */
    lock: path.join(directory, 'registry.lock'),
  };
}

export type RegistryPaths = ReturnType<typeof registryPaths>;

function currentPlatform(): PlatformContext {
  return { platform: process.platform, env: process.env, homedir: os.homedir() };
}

export function recordFileName(id: string): string {
  return `${id}${RECORD_SUFFIX}`;
}

export function metricsFileName(id: string): string {
  return `${id}${METRICS_SUFFIX}`;
}

export function metricsFilePath(registryDirectory: string, instanceId: string): string {
  return path.join(registryDirectory, INSTANCES_DIRECTORY, metricsFileName(instanceId));
}

export function recordFilePath(registryDirectory: string, instanceId: string): string {
  return path.join(registryDirectory, INSTANCES_DIRECTORY, recordFileName(instanceId));
}

export type InstanceFileName =
  | { kind: 'record'; id: string }
  /** Files the registry does not own here (metrics snapshots, their temp files, dot files). */
  | { kind: 'other' }
  /** A `.json` file with a name the registry never writes. */
  | { kind: 'unexpected' };

/** How the registry sees a name in `instances/`: its own record, someone else's file, or a stray `.json`. */
export function classifyInstanceFileName(name: string): InstanceFileName {
  const record = RECORD_FILE_PATTERN.exec(name);
  if (record) return { kind: 'record', id: record[1]! };
  if (name.startsWith('.') || name.endsWith(METRICS_SUFFIX) || !name.endsWith(RECORD_SUFFIX)) return { kind: 'other' };
  return { kind: 'unexpected' };
}

/** How metrics sees a name in `instances/`: a snapshot, a window record, or something else (temp files, locks). */
export function classifyInstanceFile(name: string): { kind: 'metrics' | 'record'; id: string } | undefined {
  const file = path.basename(name);
  if (file.startsWith('.')) return undefined;
  if (file.endsWith(METRICS_SUFFIX)) return { kind: 'metrics', id: file.slice(0, -METRICS_SUFFIX.length) };
  if (file.endsWith(RECORD_SUFFIX)) return { kind: 'record', id: file.slice(0, -RECORD_SUFFIX.length) };
  return undefined;
}

/** A metrics snapshot's window id and the pid within it; undefined for any other name. */
export function parseMetricsFileName(name: string): { id: string; pid: number } | undefined {
  const match = METRICS_FILE_PATTERN.exec(name);
  return match ? { id: match[1]!, pid: Number(match[2]) } : undefined;
}
